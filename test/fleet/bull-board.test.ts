import type { Server } from "node:http";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import { afterEach, describe, expect } from "vitest";
import { openBullmqBroker } from "../../src/broker/bullmq.js";
import { newQueuedRun } from "../../src/core/queued-run.js";
import { BACKENDS, useOwnNamespace, plainQueue } from "./backends.js";

interface BoardQueue {
  name: string;
  counts: Record<string, number>;
  jobs: Array<{ id: string; name: string; data: unknown; failedReason?: string; returnValue?: unknown }>;
}

describe.each(BACKENDS)("bull-board lists fluid's queue on $name", ({ name, url, up }) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const { test, target } = useOwnNamespace({ name, url, up });

  test("mounted as docs/fleet.md says, its API lists the queue `fluid` with fluid's runs as jobs", async () => {
    const broker = await openBullmqBroker({ target: target() });
    cleanups.push(() => broker.close());
    const [ok, boom, waiting] = ["say_hi", "boom", "say_hi"].map((task, n) => newQueuedRun({ name: task, priority: "medium" }, { n }));
    for (const run of [ok!, boom!]) await broker.enqueue(run);
    const claimed = await broker.claim({ max: 2, owner: "t" });
    expect(claimed).toHaveLength(2);
    await broker.ack(ok!.id, { state: "success", result: "hi 0" });
    await broker.ack(boom!.id, { state: "failure", error: { message: "disk on fire" } });
    await broker.enqueue(waiting!);

    // The board: a plain BullMQ Queue named "fluid" on fluid's prefix (Redis) or schema (PostgreSQL).
    const plain = plainQueue(target());
    cleanups.push(plain.close);
    const serverAdapter = new ExpressAdapter();
    serverAdapter.setBasePath("/queues");
    createBullBoard({ queues: [new BullMQAdapter(plain.queue)], serverAdapter });
    // An app would mount it with `app.use("/queues", serverAdapter.getRouter())`; here the board's own app listens.
    const server: Server = await new Promise((resolve) => {
      const s = serverAdapter.getRouter().listen(0, "127.0.0.1", () => resolve(s));
    });
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as { port: number };
    const response = await fetch(`http://127.0.0.1:${port}/api/queues?activeQueue=fluid&status=latest&page=1&jobsPerPage=10`);
    expect(response.status).toBe(200);
    const { queues } = (await response.json()) as { queues: BoardQueue[] };
    expect(queues.map((q) => q.name)).toEqual(["fluid"]);
    const [fluidQueue] = queues;
    // A `medium` run (the default priority) has BullMQ priority 1: bull-board shows it under "Prioritized".
    expect(fluidQueue!.counts).toMatchObject({ completed: 1, failed: 1, prioritized: 1, waiting: 0, active: 0 });
    const jobs = Object.fromEntries(fluidQueue!.jobs.map((j) => [j.id, j]));
    expect(jobs[ok!.id]).toMatchObject({ name: "say_hi", data: { n: 0 }, returnValue: "hi 0" });
    expect(jobs[boom!.id]).toMatchObject({ name: "boom", data: { n: 1 }, failedReason: "failure: disk on fire" });
    expect(jobs[waiting!.id]).toMatchObject({ name: "say_hi", data: { n: 2 } });
  });
});
