import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createPool } from "../../src/executor/pool.js";
import type { QueueFn } from "../../src/task/context.js";
import { tempProject, ROOT } from "../helpers/cli.js";
import { alive, run, usePoolTests, waitUntil, testPool } from "./fixture.js";

const fixture = usePoolTests();
const open = fixture.open;

describe("pool: results and errors cross the process boundary", () => {
  it("returns the result, with the run's ids and the deps built once in the worker", async () => {
    const { pool } = open();
    const out = await pool.execute(run("echo", { value: { n: 1, list: [1, "two"] } }, { id: "r-1", attempt: 2, fromRunId: "p-1", rootRunId: "root-1" }));
    expect(out.state).toBe("success");
    const result = out.result as Record<string, unknown>;
    expect(result).toMatchObject({ value: { n: 1, list: [1, "two"] }, id: "r-1", attempt: 2, from: "p-1", root: "root-1" });
    expect(result.pid).not.toBe(process.pid);
    // deps() ran in the worker process, not here.
    expect(result.deps).toEqual({ db: "connected", pid: result.pid });
  });

  it("keeps what plain JSON would change, in params and results (Date, BigInt, Map, Set, Buffer, NaN)", async () => {
    const { pool } = open();
    const out = await pool.execute(run("typed"));
    expect(out).toMatchObject({ state: "success", result: { when: new Date(0), big: 10n, map: new Map([["a", 1]]) } });
    const value = { at: new Date(5), n: 2n ** 70n, set: new Set([1, 2]), bytes: Buffer.from("hi"), nan: Number.NaN, inf: -Infinity, list: [1, undefined, 3] };
    const echoed = await pool.execute(run("echo", { value }));
    expect((echoed.result as { value: unknown }).value).toEqual(value);
  });

  it("reports a thrown error with name, code, message, stack and cause", async () => {
    const { pool } = open();
    const out = await pool.execute(run("fail"));
    expect(out.state).toBe("failure");
    expect(out.error).toMatchObject({
      name: "Error", message: "the outer failure", code: "E_OUTER",
      cause: { name: "TypeError", message: "the inner reason", code: "E_INNER" },
    });
    expect(out.error!.stack).toContain(join(fixture.project().dir, "tasks", "t.ts"));
    // `thrown` is a real Error for the retry policy, recognisable by code.
    expect(out.thrown).toBeInstanceOf(Error);
    expect(out.thrown).toMatchObject({ code: "E_OUTER", cause: { code: "E_INNER" } });
  });

  it("ends as aborted on ctx.abort(reason)", async () => {
    const { pool } = open();
    const out = await pool.execute(run("stopEarly"));
    expect(out).toMatchObject({ state: "aborted", error: { code: "FLUID_ABORTED", message: "nothing to do today" } });
  });

  it("fails a run whose result cannot be sent back, and an unknown task", async () => {
    const { pool } = open({ size: 1 });
    const bad = await pool.execute(run("unclonable"));
    expect(bad.state).toBe("failure");
    expect(bad.error).toMatchObject({ code: "FLUID_RESULT", message: expect.stringContaining('result of task "unclonable" cannot be stored as JSON: it holds a function (at "fn")') });
    const unknown = await pool.execute(run("nope"));
    expect(unknown).toMatchObject({ state: "failure", error: { code: "FLUID_UNKNOWN_TASK" } });
    // Both left the worker healthy: still one process.
    expect(pool.stats()).toMatchObject({ spawned: 1, crashed: 0 });
  });

  it("fails a run whose params cannot be sent, without throwing, and goes on", async () => {
    const { pool } = open({ size: 1 });
    const out = await pool.execute(run("echo", { value: () => 1 }));
    expect(out.state).toBe("failure");
    expect(out.error!.message).toMatch(/params of run .* cannot be sent to its worker process/);
    expect((await pool.execute(run("echo", { value: 1 }))).state).toBe("success");
  });
});

describe("pool: ctx.queue and logs", () => {
  it("sends ctx.queue to the parent's queue hook and gives the task the id", async () => {
    const { pool } = open();
    const calls: unknown[][] = [];
    const queue: QueueFn = async (target, params, options) => {
      calls.push([target, params, options]);
      return "queued-42";
    };
    const out = await pool.execute(run("chain", { target: "echo" }, { id: "parent-1" }), { queue });
    expect(out).toMatchObject({ state: "success", result: { id: "queued-42" } });
    expect(calls).toEqual([["echo", { value: 7 }, { delay: "2s", priority: "high", fromRunId: "parent-1", rootRunId: "parent-1" }]]);
  });

  it("rejects ctx.queue in the child with the hook's error, and when there is no hook", async () => {
    const { pool } = open({ size: 1 });
    const queue: QueueFn = async () => {
      throw Object.assign(new Error('unknown task "ghost"'), { code: "FLUID_UNKNOWN_TASK" });
    };
    const failed = await pool.execute(run("chain", { target: "ghost" }), { queue });
    expect(failed).toMatchObject({ state: "success", result: { error: 'unknown task "ghost"', code: "FLUID_UNKNOWN_TASK" } });
    const none = await pool.execute(run("chain", { target: "echo" }));
    expect((none.result as { error: string }).error).toMatch(/no queue/);
  });

  it("passes ctx.log lines and the child's stdout and stderr lines to the log hook, all before the end", async () => {
    const { pool } = open();
    for (let round = 0; round < 3; round++) {
      const lines: Array<{ level: string; message: string }> = [];
      const out = await pool.execute(run("chatter", { name: "bob" }), { log: (l) => lines.push({ level: l.level, message: l.message }) });
      expect(out).toMatchObject({ state: "success", result: "said it" });
      // IPC and the two pipes are separate channels: compare as sets, per channel in order.
      expect(lines).toHaveLength(5);
      expect(lines.filter((l) => l.level === "info" || l.level === "warn")).toEqual([
        { level: "info", message: "hello bob" },
        { level: "warn", message: "careful" },
      ]);
      expect(lines.filter((l) => l.level === "stdout")).toEqual([
        { level: "stdout", message: "to stdout" },
        { level: "stdout", message: "no newline at the end" },
      ]);
      expect(lines.filter((l) => l.level === "stderr")).toEqual([{ level: "stderr", message: "to stderr" }]);
    }
  });
});

describe("pool: warm workers, keys and isolation", () => {
  it("reuses a warm worker: the second run is much faster than the first and runs in the same process", async () => {
    const { pool } = open();
    let t = performance.now();
    const first = await pool.execute(run("echo"));
    const cold = performance.now() - t;
    t = performance.now();
    const second = await pool.execute(run("echo"));
    const warm = performance.now() - t;
    expect((second.result as { pid: number }).pid).toBe((first.result as { pid: number }).pid);
    expect((second.result as { runsHere: number }).runsHere).toBe(2); // module state survived
    expect(warm * 5).toBeLessThan(cold);
  });

  it("keys workers by env and memory limit, swapping an idle worker when the pool is full", async () => {
    const { pool } = open({ size: 1 });
    const a = await pool.execute(run("echo", {}, { env: { FLUID_TEST_ENV: "a" } }));
    const b = await pool.execute(run("echo", {}, { env: { FLUID_TEST_ENV: "b" } }));
    const a2 = await pool.execute(run("echo", {}, { env: { FLUID_TEST_ENV: "a" } }));
    const small = await pool.execute(run("echo", {}, { env: { FLUID_TEST_ENV: "a" }, maxMemoryMb: 96 }));
    const [ra, rb, ra2, rs] = [a, b, a2, small].map((o) => o.result as { env: string; pid: number; heapLimitMb: number });
    expect([ra!.env, rb!.env, ra2!.env, rs!.env]).toEqual(["a", "b", "a", "a"]);
    expect(new Set([ra!.pid, rb!.pid, ra2!.pid, rs!.pid]).size).toBe(4);
    expect(rs!.heapLimitMb).toBeLessThan(150);
    expect(ra!.heapLimitMb).toBeGreaterThan(150);
    expect(pool.stats().workers).toBe(1);
    await waitUntil(() => !alive(ra!.pid), 10_000, "the swapped-out worker to exit");
  });

  it("reuses the idle worker of the same key instead of starting another", async () => {
    const { pool } = open({ size: 2 });
    const pids = new Set<number>();
    for (let i = 0; i < 4; i++) pids.add(((await pool.execute(run("echo", {}, { env: { FLUID_TEST_ENV: "x" } }))).result as { pid: number }).pid);
    expect(pids.size).toBe(1);
    expect(pool.stats()).toMatchObject({ spawned: 1, workers: 1, idle: 1 });
  });

  it('runs isolate: "run" in a fresh process each time and discards it', async () => {
    const { pool } = open();
    const one = (await pool.execute(run("echo", {}, { isolate: "run" }))).result as { pid: number; runsHere: number };
    const two = (await pool.execute(run("echo", {}, { isolate: "run" }))).result as { pid: number; runsHere: number };
    expect(one.pid).not.toBe(two.pid);
    expect([one.runsHere, two.runsHere]).toEqual([1, 1]);
    await waitUntil(() => !alive(one.pid) && !alive(two.pid), 10_000, "isolated workers to exit");
  });
});

describe("pool: secrets", () => {
  it("never puts params in a worker's argv or environment", async () => {
    const secretValue = `s3cret-${Math.random().toString(36).slice(2)}`;
    const t = open();
    const running = t.pool.execute(run("nap", { ms: 1500, token: secretValue }, { id: `id-${secretValue}` }));
    await waitUntil(() => t.pool.stats().busy === 1, 10_000, "the run to start");
    const pids = t.pids();
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8");
      expect(cmdline).toContain("child.js");
      expect(cmdline).not.toContain(secretValue);
      expect(environ).not.toContain(secretValue);
    }
    expect((await running).state).toBe("success");
  });
});

describe("pool: start-up failures", () => {
  it("fails the run with the config error when the worker cannot load the project", async () => {
    const broken = tempProject({ "fluid.config.ts": `export default { tasks: ["./missing/*.ts"] };\n` });
    const pool = createPool({ configFile: join(broken.dir, "fluid.config.ts"), cwd: broken.dir, size: 1 });
    try {
      const out = await pool.execute(run("echo"));
      expect(out).toMatchObject({ state: "failure", error: { code: "FLUID_CONFIG" } });
      expect(out.error!.message).toMatch(/matched no file/);
    } finally {
      await pool.close();
      broken.cleanup();
    }
    expect(pool.stats().workers).toBe(0);
  });

  it("gives up on a worker that does not load within startTimeoutMs, leaving no process", async () => {
    const stuck = tempProject({
      "fluid.config.ts": `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"], deps: () => new Promise(() => { setInterval(() => {}, 1000); }) });\n`,
      "tasks/t.ts": `import { task } from "fluid-tasks";\nexport const echo = task({ name: "echo", cpuBound: true }, () => 1);\n`,
    });
    const t = testPool({ dir: stuck.dir, configFile: join(stuck.dir, "fluid.config.ts") }, { size: 1, startTimeoutMs: 1500 });
    try {
      const started = performance.now();
      const out = await t.pool.execute(run("echo"));
      expect(out).toMatchObject({ state: "failure", error: { code: "FLUID_WORKER_START" } });
      expect(out.error!.message).toMatch(/did not load the project within 1500 ms/);
      expect(performance.now() - started).toBeLessThan(10_000);
    } finally {
      await t.close();
      stuck.cleanup();
    }
  });

  it("says how to build when the worker entry is missing", async () => {
    const pool = createPool({ configFile: fixture.project().configFile, cwd: fixture.project().dir, childEntry: join(ROOT, "dist", "no-such-child.js") });
    const out = await pool.execute(run("echo"));
    expect(out).toMatchObject({ state: "failure", error: { code: "FLUID_CONFIG" } });
    expect(out.error!.message).toContain("no-such-child.js");
    await pool.close();
    expect(pool.stats().spawned).toBe(0);
  });
});
