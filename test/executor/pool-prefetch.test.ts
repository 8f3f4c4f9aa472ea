import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RunCancelledError } from "../../src/core/errors.js";
import { run, usePoolTests, waitUntil } from "./fixture.js";

const fixture = usePoolTests();
const open = fixture.open;
let files = 0;
/** A fresh file the `note` task appends each run id to (one line per execution). */
const noteFile = (): string => join(fixture.project().dir, `notes-${++files}.txt`);
const notes = (file: string): string[] => {
  try {
    return readFileSync(file, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
};
const pidOf = (o: { result?: unknown }): number => o.result as number;

describe("pool: runs sent ahead to a busy worker (prefetch)", () => {
  it("starts the next run when the current one ends, in the same worker; its deadline counts from its start", async () => {
    const t = open({ size: 1, prefetch: 1 });
    const file = noteFile();
    const first = t.pool.execute(run("note", { file, ms: 400 }));
    await waitUntil(() => t.pool.stats().busy === 1, 10_000, "the first run to start");
    // It waits ~400 ms in the worker, then takes ~300 ms: 700 ms after it was sent, under a 500 ms limit.
    const second = t.pool.execute(run("note", { file, ms: 300 }, { timeoutMs: 500 }));
    await waitUntil(() => t.pool.stats().prefetched === 1, 5000, "the second run to be sent ahead");
    expect(t.pool.stats().queued).toBe(0);
    const [a, b] = await Promise.all([first, second]);
    expect(a.state).toBe("success");
    expect(b.state).toBe("success");
    expect(pidOf(b)).toBe(pidOf(a));
    expect(t.pool.stats()).toMatchObject({ spawned: 1, killed: 0, prefetched: 0 });
  });

  it("still times out a run sent ahead once it has started", async () => {
    const t = open({ size: 1, prefetch: 1, abortGraceMs: 50, killGraceMs: 1000 });
    const first = t.pool.execute(run("nap", { ms: 300 }));
    await waitUntil(() => t.pool.stats().busy === 1, 10_000, "the first run to start");
    const started = performance.now();
    const second = await t.pool.execute(run("spin", {}, { timeoutMs: 300 }));
    expect(second).toMatchObject({ state: "timeout", error: { code: "FLUID_TIMEOUT" } });
    expect(performance.now() - started).toBeGreaterThanOrEqual(500); // ~300 waiting + 300 running
    expect((await first).state).toBe("success");
  });

  it("cancels a run that has not started: it ends at once, the worker is not killed and never runs it", async () => {
    const t = open({ size: 1, prefetch: 1 });
    const file = noteFile();
    const first = t.pool.execute(run("note", { file, ms: 500 }));
    await waitUntil(() => t.pool.stats().busy === 1, 10_000, "the first run to start");
    const controller = new AbortController();
    const cancelled = run("note", { file });
    const second = t.pool.execute(cancelled, { signal: controller.signal });
    await waitUntil(() => t.pool.stats().prefetched === 1, 5000, "the second run to be sent ahead");
    controller.abort(new RunCancelledError("cancelled by request"));
    expect(await second).toMatchObject({ state: "cancelled", error: { code: "FLUID_CANCELLED" } });
    const a = await first;
    expect(a.state).toBe("success");
    await waitUntil(() => t.pool.stats().prefetched === 0 && t.pool.stats().idle === 1, 5000, "the worker to give the run back");
    const after = await t.pool.execute(run("note", { file }));
    expect(pidOf(after)).toBe(pidOf(a));
    expect(t.events.some((e) => e.type === "killed")).toBe(false);
    expect(notes(file)).not.toContain(cancelled.id);
  });

  it("gives the runs waiting in a worker killed at a timeout to another worker, and runs each once", async () => {
    const t = open({ size: 1, prefetch: 2, abortGraceMs: 50, killGraceMs: 1000 });
    const file = noteFile();
    const spinning = t.pool.execute(run("spin", {}, { timeoutMs: 400 }));
    await waitUntil(() => t.pool.stats().busy === 1, 10_000, "the spin to start");
    const waiting = [run("note", { file }), run("note", { file })];
    const outs = waiting.map((r) => t.pool.execute(r));
    await waitUntil(() => t.pool.stats().prefetched === 2, 5000, "two runs to be sent ahead");
    expect((await spinning).state).toBe("timeout");
    const done = await Promise.all(outs);
    expect(done.map((o) => o.state)).toEqual(["success", "success"]);
    const killedPid = t.pids()[0]!;
    for (const o of done) expect(pidOf(o)).not.toBe(killedPid);
    expect(notes(file).sort()).toEqual(waiting.map((r) => r.id).sort());
    expect(t.pool.stats()).toMatchObject({ killed: 1, spawned: 2 });
  });

  it("gives the runs waiting in a worker that crashes to another worker; only the running one fails", async () => {
    const t = open({ size: 1, prefetch: 1 });
    const file = noteFile();
    const crashing = t.pool.execute(run("exit3", { ms: 300 }));
    await waitUntil(() => t.pool.stats().busy === 1, 10_000, "the crashing run to start");
    const waiting = run("note", { file });
    const next = t.pool.execute(waiting);
    await waitUntil(() => t.pool.stats().prefetched === 1, 5000, "the run to be sent ahead");
    const [a, b] = await Promise.all([crashing, next]);
    expect(a).toMatchObject({ state: "failure", exitCode: 3 });
    expect(b.state).toBe("success");
    expect(pidOf(b)).not.toBe(t.pids()[0]);
    expect(notes(file)).toEqual([waiting.id]);
  });

  it("lets an idle worker take over a run waiting behind a long one", async () => {
    const t = open({ size: 2, prefetch: 1 });
    await Promise.all([t.pool.execute(run("echo")), t.pool.execute(run("echo"))]); // both warm
    const file = noteFile();
    const long = t.pool.execute(run("nap", { ms: 3000 }));
    const short = t.pool.execute(run("nap", { ms: 200 }));
    await waitUntil(() => t.pool.stats().busy === 2, 5000, "both naps to start");
    const queued = run("note", { file });
    const started = performance.now();
    const moved = await t.pool.execute(queued);
    expect(moved.state).toBe("success");
    expect(performance.now() - started).toBeLessThan(2000); // not behind the 3 s nap
    expect(pidOf(moved)).toBe((await short).result);
    expect((await long).state).toBe("success");
    expect(notes(file)).toEqual([queued.id]);
  });

  it("runs many short runs through a small pool, each once, and tags each line with its own run", async () => {
    const t = open({ size: 1, prefetch: 3 });
    const lines = new Map<string, string[]>();
    const runs = Array.from({ length: 40 }, (_, i) => run("chatter", { name: `n${i}` }));
    const outs = await Promise.all(runs.map((r) => t.pool.execute(r, { log: (l) => (lines.get(r.id) ?? lines.set(r.id, []).get(r.id)!).push(`${l.level}:${l.message}`) })));
    expect(outs.every((o) => o.state === "success")).toBe(true);
    runs.forEach((r, i) => {
      expect(lines.get(r.id)!.sort()).toEqual(
        [`info:hello n${i}`, "warn:careful", "stdout:to stdout", "stderr:to stderr", "stdout:no newline at the end"].sort(),
      );
    });
    expect(t.pool.stats().spawned).toBe(1);
  });

  it("on close, ends the runs waiting in a worker as interrupted, and lets the running one finish", async () => {
    const t = open({ size: 1, prefetch: 1 });
    const file = noteFile();
    const running = t.pool.execute(run("note", { file, ms: 300 }));
    await waitUntil(() => notes(file).length === 1, 10_000, "the first run to start in the child");
    const waiting = run("note", { file });
    const next = t.pool.execute(waiting);
    await waitUntil(() => t.pool.stats().prefetched === 1, 5000, "the second run to be sent ahead");
    await t.pool.close(5000);
    expect((await running).state).toBe("success");
    expect(await next).toMatchObject({ state: "interrupted", error: { code: "FLUID_INTERRUPTED" } });
    expect(notes(file)).toHaveLength(1);
  });
});
