import { join } from "node:path";
import { afterEach, describe, expect } from "vitest";
import { openBullmqBroker } from "../../src/broker/bullmq.js";
import { newQueuedRun } from "../../src/core/queued-run.js";
import { fluid, useTempProjects } from "../helpers/cli.js";
import { useServe } from "../helpers/serve.js";
import { BACKENDS, useOwnNamespace, plainQueue } from "./backends.js";

describe.each(BACKENDS)("BullMQ sees how fluid's runs ended, on $name", ({ name, url, up }) => {
  const project = useTempProjects();
  const serve = useServe();
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const { test, target } = useOwnNamespace({ name, url, up });

  test("ack(id, outcome): a success is a completed job with its result, anything else a failed job with its error", async () => {
    const queueName = "outcomes";
    const broker = await openBullmqBroker({ target: target(), queueName });
    cleanups.push(() => broker.close());
    const plain = plainQueue(target(), queueName);
    cleanups.push(plain.close);
    const runs = ["ok", "bare", "legacy", "boom", "slow", "stopped"].map((n) => newQueuedRun({ name: n, priority: "medium" }, {}));
    for (const run of runs) await broker.enqueue(run);
    const claimed = await broker.claim({ max: 10, owner: "t" });
    expect(claimed).toHaveLength(6);
    const id = (task: string): string => runs.find((r) => r.task === task)!.id;
    await broker.ack(id("ok"), { state: "success", result: { sum: 3 } });
    await broker.ack(id("bare"), { state: "success" });
    await broker.ack(id("legacy")); // no outcome (an older caller): completed, as before
    await broker.ack(id("boom"), { state: "failure", error: { name: "Error", message: "disk on fire" } });
    await broker.ack(id("slow"), { state: "timeout", error: { name: "RunTimeoutError", message: "timed out after 1s" } });
    await broker.ack(id("stopped"), { state: "cancelled", error: { name: "RunCancelledError", message: "cancelled by request" } });
    const completed = await plain.queue.getCompleted();
    const failed = await plain.queue.getFailed();
    expect(Object.fromEntries(completed.map((j) => [j.name, j.returnvalue]))).toEqual({ ok: { sum: 3 }, bare: { state: "success" }, legacy: null });
    expect(Object.fromEntries(failed.map((j) => [j.name, j.failedReason]))).toEqual({
      boom: "failure: disk on fire", slow: "timeout: timed out after 1s", stopped: "cancelled: cancelled by request",
    });
    // Failed for good: BullMQ does not retry them (fluid's retries are done by then).
    expect(await plain.queue.getJobCounts("wait", "delayed", "active")).toEqual({ wait: 0, delayed: 0, active: 0 });
  });

  test("through fluid serve --backend: a failing run is a failed job, a successful one completed with its result", async () => {
    const t = target();
    const backend = t.kind === "redis" ? `${url}?prefix=${t.prefix}` : `${url}?schema=${t.schema}`;
    const dir = project({
      "fluid.config.ts": `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"] });\n`,
      "tasks/t.ts": `import { task } from "fluid-tasks";
export const add = task({}, async () => ({ sum: 1 + 2 }));
export const boom = task({}, async () => { throw new Error("disk on fire"); });
export const slow = task({ timeout: "200ms" }, async ({ signal }) => { await new Promise((r) => setTimeout(r, 10_000)); });
`,
    });
    const daemon = serve(dir, { args: ["--backend", backend], env: { FLUID_STORE: join(dir, "d.db") } });
    await daemon.started();
    const env = { FLUID_STORE: join(dir, "client.db"), FLUID_BACKEND_URL: backend };
    const ids: Record<string, string> = {};
    for (const task of ["add", "boom", "slow"]) {
      const queued = await fluid(["queue", task], { cwd: dir, env });
      expect(queued.exitCode).toBe(0);
      ids[task] = queued.stdout.trim();
    }
    for (const id of Object.values(ids)) await daemon.waitFor((l) => l.event === "run-end" && l.id === id);
    daemon.child.kill("SIGTERM");
    await daemon.child;
    const plain = plainQueue(t);
    cleanups.push(plain.close);
    const completed = await plain.queue.getCompleted();
    const failed = await plain.queue.getFailed();
    expect(completed.map((j) => [j.name, j.id, j.returnvalue])).toEqual([["add", ids.add, { sum: 3 }]]);
    expect(failed.map((j) => [j.name, j.id]).sort()).toEqual([["boom", ids.boom], ["slow", ids.slow]].sort());
    expect(failed.find((j) => j.name === "boom")!.failedReason).toBe("failure: disk on fire");
    expect(failed.find((j) => j.name === "slow")!.failedReason).toMatch(/^timeout: /);
  });
});
