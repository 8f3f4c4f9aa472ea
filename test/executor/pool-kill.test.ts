import { describe, expect, it } from "vitest";
import { RunCancelledError, RunInterruptedError } from "../../src/core/errors.js";
import { groupMembers } from "../../src/executor/process-group.js";
import type { PoolOutcome } from "../../src/executor/pool.js";
import { alive, childrenOf, run, usePoolTests, waitUntil } from "./fixture.js";

const fixture = usePoolTests();
const open = fixture.open;
const pidOf = (o: { result?: unknown }): number => (o.result as { pid: number }).pid;

describe("pool: timeouts kill the process", () => {
  it("ends a busy loop as timeout at the deadline, kills its process and replaces it", async () => {
    const t = open({ size: 1, abortGraceMs: 100, killGraceMs: 1000 });
    const warm = await t.pool.execute(run("echo"));
    const started = performance.now();
    const out = await t.pool.execute(run("spin", {}, { timeoutMs: 300 }));
    const took = performance.now() - started;
    expect(out).toMatchObject({ state: "timeout", error: { code: "FLUID_TIMEOUT", message: 'task "spin" timed out after 300ms' } });
    expect(took).toBeGreaterThanOrEqual(295);
    expect(took).toBeLessThan(1300); // at the deadline, not after the kill
    await waitUntil(() => !alive(pidOf(warm)), 10_000, "the spinning worker to die");
    expect(t.events.some((e) => e.type === "killed")).toBe(true);
    const after = await t.pool.execute(run("echo"));
    expect(after.state).toBe("success");
    expect(pidOf(after)).not.toBe(pidOf(warm));
  });

  it("aborts ctx.signal in the child with the timeout error before killing", async () => {
    const t = open({ size: 1, abortGraceMs: 1000 });
    const lines: string[] = [];
    const out = await t.pool.execute(run("patient", {}, { timeoutMs: 200 }), { log: (l) => lines.push(l.message) });
    expect(out.state).toBe("timeout");
    await waitUntil(() => lines.includes("aborted: FLUID_TIMEOUT"), 5000, "the task's log line after the abort");
  });

  it("kills the processes a task spawned: none is left", async () => {
    const t = open({ size: 1, abortGraceMs: 50, killGraceMs: 1000 });
    const lines: string[] = [];
    const out = await t.pool.execute(run("tree", {}, { timeoutMs: 1000 }), { log: (l) => lines.push(l.message) });
    expect(out.state).toBe("timeout");
    const worker = t.pids()[0]!;
    const grandchildren = lines.find((l) => l.startsWith("grandchildren "))!.slice("grandchildren ".length).split(",").map(Number);
    expect(grandchildren).toHaveLength(3);
    // They were alive while the run ran (children of the worker, in its process group)...
    // (the worker and its grandchildren get their signals one by one: wait for them all)
    await waitUntil(() => [worker, ...grandchildren].every((pid) => !alive(pid)), 10_000, "the worker and the grandchildren to be killed");
    // ...and now nothing of the group is left.
    expect(groupMembers(worker)).toEqual([]);
    expect(childrenOf(worker)).toEqual([]);
    expect(alive(worker)).toBe(false);
  });

  it("kills a grandchild that left the process group (detached) and its own children: the whole tree", async () => {
    const t = open({ size: 1, abortGraceMs: 50, killGraceMs: 1000 });
    let leader = 0;
    let tree: number[] = [];
    const out = t.pool.execute(run("escape", {}, { timeoutMs: 2000 }), {
      log: (l) => {
        if (l.message.startsWith("detached ")) leader = Number(l.message.slice("detached ".length));
      },
    });
    await waitUntil(() => leader > 0 && childrenOf(leader).length === 1, 10_000, "the detached sleep and its child");
    tree = [leader, ...childrenOf(leader)];
    expect(tree.every(alive)).toBe(true);
    expect(groupMembers(t.pids()[0]!)).not.toContain(leader); // out of the worker's group
    expect((await out).state).toBe("timeout");
    try {
      await waitUntil(() => tree.every((pid) => !alive(pid)), 10_000, "the detached tree to be killed");
    } finally {
      for (const pid of tree) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
    }
  });

  it("counts the processes of a worker group before and after a timeout", async () => {
    const t = open({ size: 1, abortGraceMs: 50, killGraceMs: 1000 });
    const running = t.pool.execute(run("tree", {}, { timeoutMs: 1500 }));
    await waitUntil(() => t.pids().length === 1 && (groupMembers(t.pids()[0]!) ?? []).length === 4, 10_000, "worker + 3 sleeps");
    expect(childrenOf(t.pids()[0]!)).toHaveLength(3);
    expect((await running).state).toBe("timeout");
    await waitUntil(() => groupMembers(t.pids()[0]!)!.length === 0, 10_000, "the group to be empty");
  });
});

describe("pool: outside stops", () => {
  it("ends as cancelled or interrupted from the signal's reason, and kills the process", async () => {
    const t = open({ size: 1, abortGraceMs: 100 });
    // A run sent to a worker starts there a moment later; aborted before, it is taken back
    // without a kill. So each run here is aborted once it spins.
    const spin = (signal: AbortSignal): { outcome: Promise<PoolOutcome>; spinning: Promise<void> } => {
      let spinning = false;
      const outcome = t.pool.execute(run("spin"), { signal, log: (line) => (spinning ||= line.message === "spinning") });
      return { outcome, spinning: waitUntil(() => spinning, 10_000, "the run to spin") };
    };
    const c1 = new AbortController();
    const first = spin(c1.signal);
    await first.spinning;
    c1.abort(new RunCancelledError("cancelled by request"));
    const cancelling = first.outcome;
    expect(await cancelling).toMatchObject({ state: "cancelled", error: { code: "FLUID_CANCELLED", message: "cancelled by request" } });
    // The outcome comes at once; the kill follows the abort grace (the worker counts as busy until then).
    await waitUntil(() => t.events.some((e) => e.type === "killed"), 10_000, "the first kill");

    const c2 = new AbortController();
    const second = spin(c2.signal);
    await second.spinning;
    c2.abort();
    expect(await second.outcome).toMatchObject({ state: "interrupted", error: { code: "FLUID_INTERRUPTED" } });

    const c3 = new AbortController();
    c3.abort(new RunInterruptedError("shutting down"));
    expect(await t.pool.execute(run("echo"), { signal: c3.signal })).toMatchObject({ state: "interrupted", error: { message: "shutting down" } });
    await waitUntil(() => t.events.filter((e) => e.type === "killed").length === 2, 10_000, "two kills");
  });

  it("takes a run that waits for a worker out of the line when its signal fires", async () => {
    const t = open({ size: 1, prefetch: 0 });
    const busy = t.pool.execute(run("nap", { ms: 800 }));
    await waitUntil(() => t.pool.stats().busy === 1, 10_000, "the first run to start");
    const controller = new AbortController();
    const waiting = t.pool.execute(run("echo"), { signal: controller.signal });
    await waitUntil(() => t.pool.stats().queued === 1, 5000, "the second run to queue");
    controller.abort();
    expect(await waiting).toMatchObject({ state: "interrupted" });
    expect(t.pool.stats().queued).toBe(0);
    expect((await busy).state).toBe("success");
    expect(t.pool.stats().spawned).toBe(1);
  });
});

describe("pool: a worker that dies under a run", () => {
  it("fails the run on process.exit with the code and the last stderr lines, and replaces the worker", async () => {
    const t = open({ size: 1 });
    const out = await t.pool.execute(run("exit3"));
    expect(out).toMatchObject({ state: "failure", exitCode: 3, error: { code: "FLUID_WORKER_EXIT" } });
    expect(out.error!.message).toMatch(/exited with code 3/);
    expect(out.error!.message).toContain("about to exit");
    expect(t.pool.stats().crashed).toBe(1);
    expect((await t.pool.execute(run("echo"))).state).toBe("success");
  });

  it("fails the run when the process is killed by a signal", async () => {
    const t = open({ size: 1 });
    const out = await t.pool.execute(run("killSelf"));
    expect(out).toMatchObject({ state: "failure", exitSignal: "SIGKILL", error: { code: "FLUID_WORKER_EXIT" } });
    expect(out.error!.message).toMatch(/killed by SIGKILL/);
    expect((await t.pool.execute(run("echo"))).state).toBe("success");
  });

  it("names out-of-memory as such under a memory limit", async () => {
    const t = open({ size: 1 });
    const out = await t.pool.execute(run("oom", {}, { maxMemoryMb: 64 }));
    expect(out).toMatchObject({ state: "failure", error: { code: "FLUID_WORKER_OOM" } });
    expect(out.error!.message).toMatch(/ran out of memory/);
    expect(out.error!.message).toMatch(/limit 64 MB/);
    expect(out.error!.message).toMatch(/heap out of memory/); // V8's own line, from stderr
    expect(out.exitSignal === "SIGABRT" || out.exitCode === 134).toBe(true);
    expect((await t.pool.execute(run("echo", {}, { maxMemoryMb: 64 }))).state).toBe("success");
  });
});

describe("pool: a worker that dies while idle", () => {
  it("is counted as crashed and replaced; the next run finds a warm worker", async () => {
    const t = open({ size: 1 });
    const first = await t.pool.execute(run("lateCrash"));
    expect(first.state).toBe("success");
    await waitUntil(() => t.pool.stats().crashed === 1, 5000, "the idle worker to crash");
    expect(t.events.find((e) => e.type === "crashed")).toMatchObject({ during: "idle", code: 1 });
    await waitUntil(() => t.pool.stats().idle === 1, 10_000, "the replacement to be ready");
    const next = await t.pool.execute(run("echo"));
    expect(next.state).toBe("success");
    expect(pidOf(next)).not.toBe(first.result);
    expect(t.pool.stats().spawned).toBe(2);
  });
});

describe("pool: close", () => {
  it("stops workers that are still starting, and their runs end interrupted", async () => {
    const t = open({ size: 2 });
    const runs = [t.pool.execute(run("echo")), t.pool.execute(run("echo"))];
    await waitUntil(() => t.pool.stats().starting === 2, 5000, "two workers to be starting");
    await t.close();
    expect((await Promise.all(runs)).map((o) => o.state)).toEqual(["interrupted", "interrupted"]);
    for (const pid of t.pids()) expect(alive(pid)).toBe(false);
  });

  it("waits for running runs within the grace, then interrupts the rest; no process is left", async () => {
    const t = open({ size: 2 });
    const quick = t.pool.execute(run("nap", { ms: 200 }));
    const slow = t.pool.execute(run("spin"));
    await waitUntil(() => t.pool.stats().busy === 2, 30_000, "both runs to start"); // two cold worker starts on a loaded machine
    const started = performance.now();
    await t.pool.close(600);
    expect(performance.now() - started).toBeLessThan(5000);
    expect((await quick).state).toBe("success");
    expect(await slow).toMatchObject({ state: "interrupted", error: { code: "FLUID_INTERRUPTED" } });
    for (const pid of t.pids()) expect(alive(pid)).toBe(false);
    expect(t.pool.stats()).toMatchObject({ workers: 0, busy: 0, idle: 0 });
    expect(await t.pool.execute(run("echo"))).toMatchObject({ state: "interrupted" });
  });
});
