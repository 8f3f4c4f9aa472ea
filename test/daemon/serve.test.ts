import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import type { QueuedRun } from "../../src/broker/broker.js";
import { enqueueRecorded } from "../../src/consumer/consumer.js";
import { cancel, connect, queueAndWait, waitForRun } from "../../src/daemon/client.js";
import { loadProject } from "../../src/config/load.js";
import { openStore } from "../../src/store/open-store.js";
import { CONFIG, tempProject } from "../helpers/cli.js";
import { ends, startDaemon, waitForEvent, type TestDaemon } from "./helpers.js";

const TASKS = `
import { task } from "fluid-tasks";
import { z } from "zod";
const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener("abort", () => { clearTimeout(t); reject(signal.reason); }, { once: true });
});
export const echo = task({ params: z.object({ v: z.number() }) }, async (ctx) => ctx.params.v);
export const slow = task({ params: z.object({ ms: z.number().default(300), label: z.string().default("") }), maxConcurrency: 2 }, async (ctx) => {
  await sleep(ctx.params.ms, ctx.signal);
  return ctx.params.label;
});
export const flaky = task({ retry: { attempts: 3, delay: 50, backoff: 1 } }, async (ctx) => {
  if (ctx.attempt < 3) throw new Error("attempt " + ctx.attempt + " failed");
  return ctx.attempt;
});
export const parent = task({}, async (ctx) => ctx.queue("echo", { v: 7 }));
export const dropper = task({ maxConcurrency: 1, onLimit: "drop", params: z.object({ ms: z.number() }) }, async (ctx) => { await sleep(ctx.params.ms, ctx.signal); });
export const label = task({ params: z.object({ label: z.string() }) }, async (ctx) => ctx.params.label);
`;

function queued(task: string, params: Record<string, unknown>, extra: Partial<QueuedRun> = {}): QueuedRun {
  const now = Date.now();
  return { id: Math.random().toString(16).slice(2), task, params, priority: "medium", attempt: 1, trigger: "queue", runAfter: now, queuedAt: now, ...extra };
}

describe("fluid serve: the consumer side", () => {
  let d: TestDaemon;
  beforeAll(async () => {
    d = await startDaemon(TASKS);
  });
  afterAll(async () => {
    await d?.close();
  });

  it("runs a queued run and records it, with the trigger", async () => {
    const id = await d.daemon.queue("echo", { v: 41 });
    const end = await waitForRun({ store: d.daemon.store!, broker: d.daemon.broker }, id, { timeoutMs: 5000 });
    expect(end).toMatchObject({ id, task: "echo", state: "success", result: 41, trigger: "queue" });
  });

  it("reports a run queued before it can start: before the broker has it", async () => {
    const broker = d.daemon.broker;
    const enqueue = broker.enqueue.bind(broker);
    const announcedAtEnqueue: boolean[] = [];
    broker.enqueue = (run, record) => {
      announcedAtEnqueue.push(d.events.some((e) => e.type === "queued" && e.runId === run.id));
      return enqueue(run, record);
    };
    let ids: string[];
    try {
      ids = await Promise.all(Array.from({ length: 20 }, (_, v) => d.daemon.queue("echo", { v })));
    } finally {
      broker.enqueue = enqueue;
    }
    expect(announcedAtEnqueue).toEqual(Array(20).fill(true));
    await d.waitFor(() => ids.every((id) => ends(d.events).some((e) => e.run.id === id)));
    for (const id of ids) {
      const kinds = d.events.filter((e) => (e.type === "queued" && e.runId === id) || ((e.type === "run-start" || e.type === "run-end") && e.run.id === id)).map((e) => e.type);
      expect(kinds).toEqual(["queued", "run-start", "run-end"]);
    }
  });

  it("refuses invalid params when queueing", async () => {
    await expect(d.daemon.queue("echo", { v: "x" })).rejects.toMatchObject({ code: "FLUID_PARAMS" });
  });

  it("keeps at most maxConcurrency runs of a task at once; the rest wait in the queue", async () => {
    const ids = await Promise.all([1, 2, 3, 4, 5].map((i) => d.daemon.queue("slow", { ms: 200, label: String(i) })));
    for (const id of ids) await waitForRun({ store: d.daemon.store!, broker: d.daemon.broker }, id, { timeoutMs: 10_000 });
    let now = 0;
    let peak = 0;
    for (const e of d.events) {
      if (e.type === "run-start" && ids.includes(e.run.id)) peak = Math.max(peak, ++now);
      if (e.type === "run-end" && ids.includes(e.run.id)) now--;
    }
    expect(peak).toBe(2);
    expect(ends(d.events).filter((e) => ids.includes(e.run.id)).every((e) => e.state === "success")).toBe(true);
  });

  it("drops a run at the limit with onLimit: drop, recorded rate_limited", async () => {
    const first = await d.daemon.queue("dropper", { ms: 400 });
    await waitForEvent(d.events, (e) => e.type === "run-start" && e.run.id === first);
    const second = await d.daemon.queue("dropper", { ms: 1 });
    const conn = { store: d.daemon.store!, broker: d.daemon.broker };
    expect((await waitForRun(conn, second, { timeoutMs: 5000 })).state).toBe("rate_limited");
    expect((await waitForRun(conn, first, { timeoutMs: 5000 })).state).toBe("success");
  });

  it("retries with backoff as delayed runs and records each attempt", async () => {
    const id = await d.daemon.queue("flaky");
    const end = await waitForRun({ store: d.daemon.store!, broker: d.daemon.broker }, id, { timeoutMs: 5000 });
    expect(end).toMatchObject({ state: "success", attempt: 3, result: 3, trigger: "retry" });
    const details = d.daemon.store!.getRun(id);
    expect(details.attempts.map((a) => `${a.attempt}:${a.state}`)).toEqual(["1:failure", "2:failure", "3:success"]);
    const retried = ends(d.events).filter((e) => e.run.id === id);
    expect(retried.map((e) => e.retryInMs)).toEqual([50, 50, undefined]);
  });

  it("records chains: a queued child knows its parent and root", async () => {
    const parentId = await d.daemon.queue("parent");
    const conn = { store: d.daemon.store!, broker: d.daemon.broker };
    const parent = await waitForRun(conn, parentId, { timeoutMs: 5000 });
    const childId = parent.result as string;
    const child = await waitForRun(conn, childId, { timeoutMs: 5000 });
    expect(child).toMatchObject({ task: "echo", result: 7, fromRunId: parentId, rootRunId: parentId, trigger: "queue" });
  });

  it("runs high before medium before low priority", async () => {
    // A daemon with one slot: block it, queue low, medium, high, then let it go.
    const one = await startDaemon(TASKS, { concurrency: 1 });
    try {
      const blocker = await one.daemon.queue("slow", { ms: 300 });
      await waitForEvent(one.events, (e) => e.type === "run-start" && e.run.id === blocker);
      const task = (await loadProject({ cwd: one.dir, env: {} })).registry.get("label");
      for (const priority of ["low", "medium", "high"] as const) {
        await enqueueRecorded(one.daemon.broker, one.daemon.store, task, queued("label", { label: priority }, { priority }));
      }
      await waitForEvent(one.events, () => ends(one.events).filter((e) => e.run.task === "label").length === 3);
      expect(ends(one.events).filter((e) => e.run.task === "label").map((e) => e.run.params.label)).toEqual(["high", "medium", "low"]);
    } finally {
      await one.close();
    }
  });

  it("cancels a queued run and a running one", async () => {
    const project = await loadProject({ cwd: d.dir, env: {} });
    const conn = await connect(project);
    try {
      const delayed = queued("echo", { v: 1 }, { runAfter: Date.now() + 60_000 });
      await enqueueRecorded(conn.broker, conn.store, project.registry.get("echo"), delayed);
      expect((await cancel(conn, delayed.id)).outcome).toBe("removed");
      expect(conn.store.getRun(delayed.id).run.state).toBe("cancelled");

      const running = await d.daemon.queue("slow", { ms: 10_000 });
      await waitForEvent(d.events, (e) => e.type === "run-start" && e.run.id === running);
      // As a user would: the id as `fluid history` shows it, once the daemon has recorded the run.
      await waitForEvent(d.events, () => conn.store.listRuns({ task: "slow", limit: 100 }).some((r) => r.id === running && r.state === "running"));
      expect((await cancel(conn, running.slice(0, 10))).outcome).toBe("flagged");
      const end = await waitForRun(conn, running, { timeoutMs: 5000 });
      expect(end.state).toBe("cancelled");
      expect((await cancel(conn, running)).outcome).toBe("ended");
    } finally {
      await conn.close();
    }
  });

  it("queueAndWait resolves with the final result from another connection", async () => {
    const end = await queueAndWait("flaky", {}, { cwd: d.dir, env: {}, timeoutMs: 10_000 });
    expect(end).toMatchObject({ state: "success", result: 3, attempt: 3 });
  });
});

describe("fluid serve: schedules", () => {
  it("fires every(...) on its grid the right number of times, never twice", async () => {
    const d = await startDaemon(`
      import { task, every } from "fluid-tasks";
      export const tick = task({ schedule: every("200ms") }, async () => "tick");
    `);
    try {
      await new Promise((r) => setTimeout(r, 1100));
      const fires = d.events.filter((e) => e.type === "fire").map((e) => (e as { fire: { scheduledAt: number } }).fire.scheduledAt);
      expect(fires.length).toBeGreaterThanOrEqual(4);
      expect(fires.length).toBeLessThanOrEqual(6);
      expect(fires.every((t) => t % 200 === 0)).toBe(true);
      expect(new Set(fires).size).toBe(fires.length);
      // Each fire is told before its run starts.
      for (const f of d.events.filter((e) => e.type === "fire")) {
        const id = (f as { runId: string }).runId;
        const start = d.events.findIndex((e) => e.type === "run-start" && e.run.id === id);
        if (start >= 0) expect(d.events.indexOf(f)).toBeLessThan(start);
      }
    } finally {
      await d.close();
    }
  });

  it("skips a fire while the previous run is still going (overlap: skip), and counts it", async () => {
    const d = await startDaemon(`
      import { task, every } from "fluid-tasks";
      export const long = task({ schedule: every("100ms") }, async () => new Promise((r) => setTimeout(r, 350)));
    `);
    try {
      const skip = await d.waitFor((e) => e.type === "fire-skipped", 5000);
      expect(skip).toMatchObject({ type: "fire-skipped", fire: { task: "long" }, skipped: 1 });
      const recorded = d.daemon.store!.listRuns({ task: "long", state: "cancelled" });
      expect(recorded.length).toBeGreaterThanOrEqual(1);
      expect(recorded[0]).toMatchObject({ trigger: "schedule", error: { code: "FLUID_SKIPPED" } });
      await d.waitFor(() => ends(d.events).length >= 2, 5000);
      let now = 0;
      for (const e of d.events) {
        if (e.type === "run-start") expect(++now).toBe(1);
        if (e.type === "run-end") now--;
      }
    } finally {
      await d.close();
    }
  });

  it("catches up the latest missed fire after downtime (catchUp: latest)", async () => {
    const tasks = `
      import { task, every } from "fluid-tasks";
      export const hourly = task({ schedule: every("1h"), catchUp: "latest" }, async () => "caught up");
    `;
    const project = tempProject({ "fluid.config.ts": CONFIG, "tasks/t.ts": tasks });
    try {
      const store = openStore({ path: join(project.dir, ".fluid", "fluid.db") });
      store.setLastFire("hourly", Date.now() - 5 * 3_600_000);
      store.close();
      const events: import("../../src/daemon/serve.js").DaemonEvent[] = [];
      const { serve } = await import("../../src/daemon/serve.js");
      const daemon = await serve({ cwd: project.dir, env: {}, onEvent: (e) => events.push(e) });
      try {
        const fire = await waitForEvent(events, (e) => e.type === "fire", 5000);
        expect(fire).toMatchObject({ fire: { task: "hourly", kind: "catch-up" } });
        const scheduledAt = (fire as { fire: { scheduledAt: number } }).fire.scheduledAt;
        expect(scheduledAt % 3_600_000).toBe(0);
        expect(Date.now() - scheduledAt).toBeLessThan(3_600_000);
        await waitForEvent(events, (e) => e.type === "run-end", 5000);
        expect(events.filter((e) => e.type === "fire")).toHaveLength(1);
      } finally {
        await daemon.stop();
      }
    } finally {
      project.cleanup();
    }
  });

  it("does not fire a disabled task", async () => {
    const tasks = `
      import { task, every } from "fluid-tasks";
      export const off = task({ schedule: every("100ms") }, async () => 1);
    `;
    const project = tempProject({ "fluid.config.ts": CONFIG, "tasks/t.ts": tasks });
    try {
      const store = openStore({ path: join(project.dir, ".fluid", "fluid.db") });
      store.setTaskEnabled("off", false, "test");
      store.close();
      const events: import("../../src/daemon/serve.js").DaemonEvent[] = [];
      const { serve } = await import("../../src/daemon/serve.js");
      const daemon = await serve({ cwd: project.dir, env: {}, onEvent: (e) => events.push(e) });
      await new Promise((r) => setTimeout(r, 500));
      await daemon.stop();
      expect(events.filter((e) => e.type === "fire" || e.type === "run-start")).toEqual([]);
    } finally {
      project.cleanup();
    }
  });
});

describe("fluid serve: reload", () => {
  it("reload() picks up an edited task module; a broken edit keeps the previous tasks", async () => {
    const d = await startDaemon(`
      import { task } from "fluid-tasks";
      export const version = task({}, async () => 1);
    `);
    try {
      const { writeFileSync } = await import("node:fs");
      const conn = { store: d.daemon.store!, broker: d.daemon.broker };
      expect((await waitForRun(conn, await d.daemon.queue("version"), { timeoutMs: 5000 })).result).toBe(1);
      writeFileSync(join(d.dir, "tasks", "t.ts"), 'import { task } from "fluid-tasks";\nexport const version = task({}, async () => 2);\nexport const added = task({}, async () => "new");\n');
      await d.daemon.reload();
      expect(d.events.find((e) => e.type === "reloaded")).toMatchObject({ tasks: 2 });
      expect((await waitForRun(conn, await d.daemon.queue("version"), { timeoutMs: 5000 })).result).toBe(2);
      expect((await waitForRun(conn, await d.daemon.queue("added"), { timeoutMs: 5000 })).result).toBe("new");
      writeFileSync(join(d.dir, "tasks", "t.ts"), "export const = broken");
      await d.daemon.reload();
      expect(d.events.find((e) => e.type === "reload-failed")).toBeTruthy();
      expect((await waitForRun(conn, await d.daemon.queue("added"), { timeoutMs: 5000 })).result).toBe("new");
    } finally {
      await d.close();
    }
  });
});

describe("fluid serve: shutdown and restart", () => {
  it("interrupts runs still going after the grace period, re-queues them, and the next start runs them", async () => {
    const project = tempProject({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const { serve } = await import("../../src/daemon/serve.js");
    try {
      const events: import("../../src/daemon/serve.js").DaemonEvent[] = [];
      const first = await serve({ cwd: project.dir, env: {}, graceMs: 200, onEvent: (e) => events.push(e) });
      const quick = await first.queue("slow", { ms: 50 });
      const long = await first.queue("slow", { ms: 2000, label: "second life" });
      await waitForEvent(events, (e) => e.type === "run-start" && e.run.id === long);
      await waitForEvent(events, (e) => e.type === "run-end" && e.run.id === quick);
      await first.stop("test");
      expect(events.find((e) => e.type === "stopped")).toMatchObject({ interrupted: 1 });
      const store = openStore({ path: join(project.dir, ".fluid", "fluid.db") });
      expect(store.getRun(long).run.state).toBe("interrupted");
      store.close();

      const again: import("../../src/daemon/serve.js").DaemonEvent[] = [];
      const second = await serve({ cwd: project.dir, env: {}, onEvent: (e) => again.push(e) });
      try {
        const end = await waitForEvent(again, (e) => e.type === "run-end" && e.run.id === long, 10_000);
        expect(end).toMatchObject({ state: "success" });
        expect(second.store!.getRun(long).run).toMatchObject({ state: "success", result: "second life", attempt: 1 });
      } finally {
        await second.stop();
      }
    } finally {
      project.cleanup();
    }
  });

  it("allows one daemon per store file", async () => {
    const d = await startDaemon(TASKS);
    try {
      const { serve } = await import("../../src/daemon/serve.js");
      await expect(serve({ cwd: d.dir, env: {} })).rejects.toMatchObject({
        code: "FLUID_LOCKED",
        message: expect.stringMatching(/another fluid serve \(pid \d+ on host .+, heartbeat \d+s ago\) serves the store/),
      });
    } finally {
      await d.close();
    }
  });
});
