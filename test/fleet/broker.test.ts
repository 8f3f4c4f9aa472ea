import { Worker } from "bullmq";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { Broker, QueuedRun } from "../../src/broker/broker.js";
import { openBullmqBroker } from "../../src/broker/bullmq.js";
import { newQueuedRun } from "../../src/core/queued-run.js";
import { checkBackend } from "../../src/fleet/check-backend.js";
import { openFleetConnection } from "../../src/fleet/connection.js";
import { slotRunId } from "../../src/fleet/slot-run-id.js";
import type { BackendTarget } from "../../src/fleet/backend-url.js";
import { BACKENDS, ownTarget } from "./backends.js";

type Fresh = { target: BackendTarget; queueName: string };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const task = (name: string, priority: "high" | "medium" | "low" = "medium") => ({ name, priority });

describe.each(BACKENDS)("BullMQ broker on $name", ({ name, url, up }) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  // One namespace (key prefix / schema) for this file's tests on this backend, checked (PostgreSQL:
  // migrated) once and dropped after; each test has a queue of its own in it.
  let namespace: { target: BackendTarget; drop: () => Promise<void> } | undefined;
  beforeAll(async () => {
    if (!up) return;
    namespace = ownTarget(url);
    await checkBackend(namespace.target);
  });
  afterAll(async () => namespace?.drop());
  let queues = 0;
  const fresh = async (): Promise<Fresh> => ({ target: namespace!.target, queueName: `q${queues++}` });
  const open = async (where: Fresh): Promise<Broker> => {
    const broker = await openBullmqBroker(where);
    cleanups.push(() => broker.close());
    return broker;
  };
  const claimAll = async (broker: Broker, owner = "a"): Promise<QueuedRun[]> => broker.claim({ max: 100, owner });
  const test = up ? it : it.skip;
  if (!up) it.skip(`${name} is not reachable on 127.0.0.1: start it to run these tests`, () => {});

  test("enqueue, claim and ack a run: the claimed run is the queued one", async () => {
    const broker = await open(await fresh());
    const run = newQueuedRun(task("say_hi"), { name: "bob" }, { fromRunId: "parent1" });
    expect(await broker.enqueue(run)).toBe(true);
    expect(await broker.enqueue(run)).toBe(false);
    expect(await broker.has(run.id)).toBe(true);
    expect(await broker.counts()).toEqual({ ready: 1, delayed: 0, claimed: 0 });
    const [claimed, ...rest] = await claimAll(broker);
    expect(rest).toEqual([]);
    expect(claimed).toEqual({ ...run, runAfter: claimed!.runAfter });
    expect(await broker.counts()).toEqual({ ready: 0, delayed: 0, claimed: 1 });
    await broker.ack(run.id);
    expect(await broker.has(run.id)).toBe(false);
    expect(await broker.counts()).toEqual({ ready: 0, delayed: 0, claimed: 0 });
    // A finished run's id stays taken: the same slot cannot run twice.
    expect(await broker.enqueue(run)).toBe(false);
  });

  test("a schedule slot enqueued by 3 producers at once becomes exactly one run, over 12 slots", async () => {
    const target = await fresh();
    const producers = await Promise.all([open(target), open(target), open(target)]);
    const base = Date.now() - 60_000;
    const slots = Array.from({ length: 12 }, (_, i) => base + i * 1000);
    const results = await Promise.all(
      slots.flatMap((at) => producers.map((p) => p.enqueue(newQueuedRun(task("tick"), {}, { id: slotRunId("tick", at), trigger: "schedule", scheduledAt: at })))),
    );
    expect(results.filter(Boolean)).toHaveLength(12);
    const runs = await claimAll(producers[0]!);
    expect(runs.map((r) => r.scheduledAt).sort()).toEqual(slots);
    expect(new Set(runs.map((r) => r.id)).size).toBe(12);
    expect(runs.every((r) => r.trigger === "schedule")).toBe(true);
    expect(await claimAll(producers[1]!)).toEqual([]);
  });

  test("claims by priority, and a delayed run only once due", async () => {
    const broker = await open(await fresh());
    const low = newQueuedRun(task("t", "low"), { n: 1 });
    const medium = newQueuedRun(task("t", "medium"), { n: 2 });
    const high = newQueuedRun(task("t", "high"), { n: 3 });
    // Due well after the first claim, even on a loaded machine (a claim is a few round trips).
    const later = newQueuedRun(task("t", "high"), { n: 4 }, { delayMs: 1500 });
    for (const run of [low, medium, later, high]) await broker.enqueue(run);
    expect((await broker.counts()).delayed).toBe(1);
    const due = await broker.nextDue();
    expect(due).toBeLessThanOrEqual(Date.now());
    const first = await claimAll(broker);
    expect(first.map((r) => r.params.n)).toEqual([3, 2, 1]);
    expect(first.map((r) => r.priority)).toEqual(["high", "medium", "low"]);
    expect(await broker.nextDue()).toBeGreaterThanOrEqual(later.runAfter - 5);
    while (Date.now() < later.runAfter + 50) await sleep(50);
    const second = await claimAll(broker);
    expect(second.map((r) => r.id)).toEqual([later.id]);
  });

  test("retry puts a run back delayed with the next attempt; the same attempt again is not counted", async () => {
    const broker = await open(await fresh());
    const run = newQueuedRun(task("flaky"), { x: 1 });
    await broker.enqueue(run, { maxAttempts: 3 } as never);
    const [a1] = await claimAll(broker);
    expect(a1!.attempt).toBe(1);
    const runAfter = Date.now() + 300;
    expect(await broker.retry(run.id, 2, runAfter)).toBe(true);
    expect(await claimAll(broker)).toEqual([]);
    expect((await broker.counts()).delayed).toBe(1);
    expect(await broker.nextDue()).toBeGreaterThanOrEqual(runAfter - 5);
    while (Date.now() < runAfter + 50) await sleep(50);
    const [a2] = await claimAll(broker);
    expect(a2).toMatchObject({ id: run.id, attempt: 2, params: { x: 1 } });
    // Shutdown: the same attempt goes back as it is.
    expect(await broker.retry(run.id, 2, Date.now())).toBe(true);
    await sleep(20);
    const [again] = await claimAll(broker);
    expect(again).toMatchObject({ id: run.id, attempt: 2 });
    expect(await broker.retry("not-claimed", 2, Date.now())).toBe(false);
  });

  test("cancel removes a waiting run, flags a claimed one, and knows no unknown id", async () => {
    const broker = await open(await fresh());
    const waiting = newQueuedRun(task("t"), {});
    const running = newQueuedRun(task("t"), {});
    await broker.enqueue(running);
    await claimAll(broker);
    await broker.enqueue(waiting);
    expect(await broker.cancel(waiting.id)).toBe("removed");
    expect(await broker.has(waiting.id)).toBe(false);
    expect(await claimAll(broker)).toEqual([]);
    expect(await broker.cancel(running.id)).toBe("flagged");
    expect(await broker.cancelRequested("a")).toEqual([running.id]);
    expect(await broker.retry(running.id, 2, Date.now())).toBe(false);
    expect(await broker.has(running.id)).toBe(false);
    expect(await broker.cancel("nope")).toBe("unknown");
  });

  test("cancel of a run another broker claimed reaches that broker (a queue event)", async () => {
    const where = await fresh();
    const [owner, other] = [await open(where), await open(where)];
    const run = newQueuedRun(task("t"), {});
    await other.enqueue(run);
    expect((await owner.claim({ max: 1, owner: "o" })).map((r) => r.id)).toEqual([run.id]);
    expect(await other.cancel(run.id)).toBe("flagged");
    for (let i = 0; i < 100 && (await owner.cancelRequested("o")).length === 0; i++) await sleep(20);
    expect(await owner.cancelRequested("o")).toEqual([run.id]);
    expect(await other.cancelRequested("x")).toEqual([]);
  });

  test("two consumers on one queue execute every run once", async () => {
    const target = await fresh();
    const [b1, b2] = await Promise.all([open(target), open(target)]);
    const ids = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const run = newQueuedRun(task(`t${i % 3}`), { i });
      ids.add(run.id);
      await b1.enqueue(run);
    }
    const seen: string[] = [];
    const consume = async (broker: Broker, owner: string): Promise<void> => {
      for (;;) {
        const runs = await broker.claim({ max: 4, owner });
        if (runs.length === 0) return;
        for (const run of runs) {
          seen.push(run.id);
          await broker.ack(run.id);
        }
      }
    };
    await Promise.all([consume(b1, "one"), consume(b2, "two")]);
    expect(seen).toHaveLength(60);
    expect(new Set(seen)).toEqual(ids);
  });

  test("an ack fetches the next run for the next claim; close gives a fetched run back", async () => {
    const where = await fresh();
    const b1 = await open(where);
    const runs = [1, 2, 3].map((n) => newQueuedRun(task("t", "high"), { n }));
    for (const run of runs) await b1.enqueue(run);
    const [first] = await b1.claim({ max: 1, owner: "a" });
    await b1.ack(first!.id);
    expect(await b1.counts()).toMatchObject({ ready: 1, claimed: 1 }); // run 2, fetched by the ack
    await b1.close();
    const b2 = await open(where);
    expect((await claimAll(b2)).map((r) => r.params.n)).toEqual([2, 3]);
  });

  test("a run of a skipped task stays queued for later", async () => {
    const broker = await open(await fresh());
    const off = newQueuedRun(task("off"), {});
    const on = newQueuedRun(task("on"), {});
    await broker.enqueue(off);
    await broker.enqueue(on);
    const runs = await broker.claim({ max: 10, owner: "a", skipTasks: new Set(["off"]) });
    expect(runs.map((r) => r.task)).toEqual(["on"]);
    expect(await broker.has(off.id)).toBe(true);
  });

  test("a plain BullMQ Queue sees fluid's run: task name as job name, params as data", async () => {
    const target = await fresh();
    const broker = await open(target);
    const run = newQueuedRun(task("send_report"), { to: "ops", pages: 3 });
    await broker.enqueue(run);
    const connection = openFleetConnection(target.target, target.queueName);
    const queue = connection.queue();
    try {
      const job = await queue.getJob(run.id);
      expect(job?.name).toBe("send_report");
      expect(job?.data).toEqual({ to: "ops", pages: 3 });
      expect(await job?.getState()).toBe("prioritized");
      // ... and fluid claims a job a plain BullMQ producer added.
      await queue.add("say_hi", { name: "ann" }, { jobId: "from-bullmq" });
    } finally {
      await queue.close();
      await connection.close();
    }
    const runs = await claimAll(broker);
    expect(runs.map((r) => [r.id, r.task, r.params])).toEqual([["from-bullmq", "say_hi", { name: "ann" }], [run.id, "send_report", { to: "ops", pages: 3 }]]);
  });

  test("a claim grows its waves of fetches to what is ready: all 30 queued runs in one claim, and an idle claim is one fetch", async () => {
    const where = await fresh();
    const broker = await open(where);
    for (let i = 0; i < 30; i++) await broker.enqueue(newQueuedRun(task("t"), { i }));
    expect(await broker.claim({ max: 50, owner: "a" })).toHaveLength(30);
    expect(await broker.claim({ max: 50, owner: "a" })).toEqual([]);
    // An idle daemon's poll: one fetch, not one per free slot.
    const fetches = vi.spyOn(Worker.prototype, "getNextJob");
    try {
      expect(await broker.claim({ max: 50, owner: "a" })).toEqual([]);
      expect(fetches).toHaveBeenCalledTimes(1);
    } finally {
      fetches.mockRestore();
    }
  });

  test("a claim as a run ends waits for its ack's fetch of the next run instead of fetching too", async () => {
    const where = await fresh();
    const [broker, other] = await Promise.all([open(where), open(where)]);
    const [r1, r2] = [1, 2].map((n) => newQueuedRun(task("t"), { n }));
    await broker.enqueue(r1!);
    expect(await broker.claim({ max: 50, owner: "a" })).toHaveLength(1); // and the queue looks drained
    await other.enqueue(r2!); // another daemon's run
    let fetches = vi.spyOn(Worker.prototype, "getNextJob");
    try {
      // The consumer claims before the ended run's ack is through (as it does): the ack brings run 2.
      const acking = broker.ack(r1!.id);
      expect((await broker.claim({ max: 1, owner: "a" })).map((r) => r.params.n)).toEqual([2]);
      await acking;
      expect(fetches).not.toHaveBeenCalled();
      expect(await broker.claim({ max: 50, owner: "a" })).toEqual([]); // a poll: nothing more
      fetches.mockRestore();
      fetches = vi.spyOn(Worker.prototype, "getNextJob");
      // ... and when the ack found nothing, the claim right after does not look again.
      const acking2 = broker.ack(r2!.id);
      expect(await broker.claim({ max: 50, owner: "a" })).toEqual([]);
      await acking2;
      expect(fetches).not.toHaveBeenCalled();
    } finally {
      fetches.mockRestore();
    }
  });

  test("run ids BullMQ refuses as job ids (integers, colons) still work", async () => {
    const broker = await open(await fresh());
    const ids = ["12345", "a:b", "x:y:z:w"];
    for (const id of ids) expect(await broker.enqueue(newQueuedRun(task("t"), {}, { id }))).toBe(true);
    expect((await claimAll(broker)).map((r) => r.id).sort()).toEqual([...ids].sort());
  });
});
