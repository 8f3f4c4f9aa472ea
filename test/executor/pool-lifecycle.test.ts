import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";
import { alive, run, usePoolTests, waitUntil } from "./fixture.js";

const fixture = usePoolTests();
const open = fixture.open;
const pidOf = (o: { result?: unknown }): number => (o.result as { pid: number }).pid;

describe("pool: recycling and reaping", () => {
  it("replaces a worker after maxRunsPerWorker runs", async () => {
    const t = open({ size: 1, maxRunsPerWorker: 2 });
    const pids: number[] = [];
    for (let i = 0; i < 5; i++) pids.push(pidOf(await t.pool.execute(run("echo"))));
    expect(pids[0]).toBe(pids[1]);
    expect(pids[2]).toBe(pids[3]);
    expect(pids[1]).not.toBe(pids[2]);
    expect(pids[3]).not.toBe(pids[4]);
    expect(t.pool.stats().recycled).toBe(2);
    expect(t.events.filter((e) => e.type === "recycled").map((e) => (e as { reason: string }).reason)).toEqual(["runs", "runs"]);
    await waitUntil(() => !alive(pids[0]!), 10_000, "the recycled worker to exit");
  });

  it("starts the successor of a worker near its run limit beside it, so no run waits for a start", async () => {
    const t = open({ size: 1, maxRunsPerWorker: 100 });
    const spawned = (): number[] => t.events.filter((e) => e.type === "spawned").map((e) => (e as { pid: number }).pid);
    const first = pidOf(await t.pool.execute(run("echo")));
    for (let i = 1; i < 89; i++) await t.pool.execute(run("echo"));
    expect(spawned()).toEqual([first]);
    await t.pool.execute(run("echo")); // the 90th run: 90% of the limit
    expect(spawned()).toHaveLength(2);
    const successor = spawned()[1]!;
    await waitUntil(() => t.pool.stats().idle === 2, 20_000, "the successor to be ready beside the first worker");
    // Both serve until the first reaches 100 runs and retires; the successor is already warm.
    const pids = new Set<number>();
    for (let i = 0; i < 40; i++) pids.add(pidOf(await t.pool.execute(run("echo"))));
    expect([...pids].sort()).toEqual([first, successor].sort());
    expect(t.events.filter((e) => e.type === "recycled")).toEqual([expect.objectContaining({ pid: first, reason: "runs", runs: 100 })]);
    expect(spawned()).toEqual([first, successor]); // no cold start after the retirement
    expect(pidOf(await t.pool.execute(run("echo")))).toBe(successor);
    await waitUntil(() => !alive(first), 10_000, "the retired worker to exit");
  });

  it("replaces a worker whose memory after a run is above maxWorkerMemoryMb", async () => {
    const t = open({ size: 1, maxWorkerMemoryMb: 200 });
    const small = await t.pool.execute(run("echo"));
    const again = await t.pool.execute(run("echo"));
    expect(pidOf(again)).toBe(pidOf(small)); // a fresh worker is well below 200 MB
    const big = await t.pool.execute(run("hog", { mb: 256 }));
    expect(big.result as number).toBeGreaterThan(200 * 1048576);
    expect(t.events.find((e) => e.type === "recycled")).toMatchObject({ reason: "memory" });
    const after = await t.pool.execute(run("echo"));
    expect(pidOf(after)).not.toBe(pidOf(small));
  });

  it("stops workers idle longer than idleTimeoutMs", async () => {
    const t = open({ size: 2, idleTimeoutMs: 300 });
    const [a, b] = await Promise.all([t.pool.execute(run("nap", { ms: 100 })), t.pool.execute(run("nap", { ms: 100 }))]);
    expect(t.pool.stats().workers).toBe(2);
    await waitUntil(() => t.pool.stats().reaped === 2, 5000, "both workers to be reaped");
    expect(t.pool.stats()).toMatchObject({ workers: 0, idle: 0 });
    await waitUntil(() => !alive(a!.result as number) && !alive(b!.result as number), 5000, "the reaped workers to exit");
    // The next run starts a new one.
    expect((await t.pool.execute(run("echo"))).state).toBe("success");
  });

  it("starts new workers after reload(); busy ones finish their run first", async () => {
    const t = open({ size: 2 });
    const before = pidOf(await t.pool.execute(run("echo")));
    const busy = t.pool.execute(run("nap", { ms: 400 }));
    await waitUntil(() => t.pool.stats().busy === 1, 5000, "the nap to start");
    t.pool.reload();
    expect((await busy).state).toBe("success");
    const after = pidOf(await t.pool.execute(run("echo")));
    expect(after).not.toBe(before);
    expect(t.events.filter((e) => e.type === "recycled").every((e) => (e as { reason: string }).reason === "reload")).toBe(true);
  });
});

describe("pool: concurrency", () => {
  it("runs at most `size` at once; the rest wait in order", async () => {
    const t = open({ size: 2 });
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, t.pool.stats().busy)), 5);
    try {
      const outs = await Promise.all(Array.from({ length: 5 }, () => t.pool.execute(run("nap", { ms: 150 }))));
      expect(outs.every((o) => o.state === "success")).toBe(true);
      expect(new Set(outs.map((o) => o.result)).size).toBe(2);
    } finally {
      clearInterval(watch);
    }
    expect(peak).toBe(2);
    expect(t.pool.stats()).toMatchObject({ spawned: 2, queued: 0 });
  });

  it("keeps the parent's event loop responsive while two workers burn CPU", async () => {
    const t = open({ size: 2 });
    await Promise.all([t.pool.execute(run("echo")), t.pool.execute(run("echo"))]); // warm both
    const lags: number[] = [];
    let last = performance.now();
    const tick = setInterval(() => {
      const now = performance.now();
      lags.push(now - last - 10);
      last = now;
    }, 10);
    try {
      const outs = await Promise.all([t.pool.execute(run("spinFor", { ms: 1500 })), t.pool.execute(run("spinFor", { ms: 1500 }))]);
      expect(outs.map((o) => o.state)).toEqual(["success", "success"]);
    } finally {
      clearInterval(tick);
    }
    // Inline, each 1.5 s loop would stall this timer for 1.5 s; out of process it keeps ticking.
    expect(lags.length).toBeGreaterThan(50);
    expect(Math.max(...lags)).toBeLessThan(300);
  });
});

describe("pool: the parent process", () => {
  it("is not kept alive by idle workers, and kills them when it exits", async () => {
    const script = join(fixture.project().dir, "exit-without-close.mts");
    writeFileSync(script, `
import { createPool } from ${JSON.stringify(join(ROOT, "src", "executor", "pool.ts"))};
const pool = createPool({ configFile: ${JSON.stringify(fixture.project().configFile)}, cwd: ${JSON.stringify(fixture.project().dir)}, size: 1, idleTimeoutMs: 60_000 });
const out = await pool.execute({ task: "echo", id: "x", params: {}, attempt: 1, timeoutMs: 10_000 });
console.log(JSON.stringify({ pid: out.result.pid }));
`);
    const started = Date.now();
    const r = await execa(process.execPath, ["--import", "tsx", script], { cwd: ROOT, timeout: 30_000, reject: false });
    expect(r.exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(20_000); // not the 60 s idle timeout
    const { pid } = JSON.parse(r.stdout) as { pid: number };
    await waitUntil(() => !alive(pid), 5000, "the worker to be killed with its parent");
  });
});
