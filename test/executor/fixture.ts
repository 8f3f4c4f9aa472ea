import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadProject } from "../../src/config/load.js";
import { createPool, type Pool, type PoolEvent, type PoolOptions, type PoolRun } from "../../src/executor/pool.js";
import { groupMembers, liveProcesses } from "../../src/executor/process-group.js";
import { tempProject } from "../helpers/cli.js";
import { afterAll, afterEach, beforeAll } from "vitest";

/** Task modules of the pool tests: each task exercises one path of the worker. */
export const TASKS = `
import { spawn } from "node:child_process";
import { appendFileSync } from "node:fs";
import { getHeapStatistics } from "node:v8";
import { setTimeout as sleep } from "node:timers/promises";
import { task, secret } from "fluid-tasks";
import { z } from "zod";

let runsHere = 0;

export const echo = task({ name: "echo", cpuBound: true, params: z.object({ value: z.unknown().optional() }) }, (ctx) => ({
  value: ctx.params.value, id: ctx.id, attempt: ctx.attempt, from: ctx.fromRunId, root: ctx.rootRunId,
  deps: ctx.deps, pid: process.pid, runsHere: ++runsHere, env: process.env.FLUID_TEST_ENV ?? null,
  heapLimitMb: Math.round(getHeapStatistics().heap_size_limit / 1048576),
}));

export const fail = task({ name: "fail", cpuBound: true }, () => {
  const inner = Object.assign(new TypeError("the inner reason"), { code: "E_INNER" });
  throw Object.assign(new Error("the outer failure", { cause: inner }), { code: "E_OUTER" });
});

export const stopEarly = task({ name: "stopEarly", cpuBound: true }, (ctx) => {
  ctx.abort("nothing to do today");
});

export const chain = task({ name: "chain", cpuBound: true, params: z.object({ target: z.string() }) }, async (ctx) => {
  try {
    return { id: await ctx.queue(ctx.params.target, { value: 7 }, { delay: "2s", priority: "high" }) };
  } catch (error) {
    return { error: (error as Error).message, code: (error as { code?: string }).code ?? null };
  }
});

export const chatter = task({ name: "chatter", cpuBound: true, params: z.object({ name: z.string() }) }, (ctx) => {
  ctx.log.info("hello %s", ctx.params.name);
  ctx.log.warn("careful");
  console.log("to stdout");
  console.error("to stderr");
  process.stdout.write("no newline at the end");
  return "said it";
});

export const print = task({ name: "print", cpuBound: true, params: z.object({ n: z.number(), tag: z.string(), width: z.number().default(0) }) }, (ctx) => {
  const pad = "x".repeat(ctx.params.width);
  for (let i = 0; i < ctx.params.n; i++) console.log(ctx.params.tag + " " + i + pad);
  return ctx.params.n;
});

export const program = task({ name: "program", cpuBound: true, params: z.object({ script: z.string() }) }, (ctx) =>
  ctx.exec("sh", ["-c", ctx.params.script], { killGrace: 500 }));

export const unclonable = task({ name: "unclonable", cpuBound: true }, () => ({ fn: () => 1 }));

export const typed = task({ name: "typed", cpuBound: true }, () => ({ when: new Date(0), big: 10n, map: new Map([["a", 1]]) }));

export const spin = task({ name: "spin", cpuBound: true }, (ctx) => {
  ctx.log.info("spinning"); // the run has started in the child
  for (;;) {}
});

export const spinFor = task({ name: "spinFor", cpuBound: true, params: z.object({ ms: z.number() }) }, (ctx) => {
  const end = Date.now() + ctx.params.ms;
  let n = 0;
  while (Date.now() < end) n++;
  return n;
});

export const tree = task({ name: "tree", cpuBound: true }, (ctx) => {
  const pids = [];
  for (let i = 0; i < 3; i++) pids.push(spawn("sleep", ["60"], { stdio: i === 0 ? "ignore" : "inherit" }).pid);
  ctx.log.info("grandchildren " + pids.join(","));
  const end = Date.now() + 200; // let the sleeps start, then hog the thread
  while (Date.now() < end) {}
  for (;;) {}
});

export const escape = task({ name: "escape", cpuBound: true }, (ctx) => {
  // Its own process group (and session), with a child of its own in that group.
  const leader = spawn("sh", ["-c", "sleep 60 & exec sleep 61"], { stdio: "ignore", detached: true }).pid;
  ctx.log.info("detached " + leader);
  for (;;) {}
});

export const patient = task({ name: "patient", cpuBound: true }, async (ctx) => {
  await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
  ctx.log.info("aborted: " + ctx.signal.reason.code);
  throw ctx.signal.reason;
});

export const nap = task({ name: "nap", cpuBound: true, params: z.object({ ms: z.number(), token: secret(z.string()).optional() }) }, async (ctx) => {
  await sleep(ctx.params.ms, undefined, { signal: ctx.signal });
  return process.pid;
});

export const note = task({ name: "note", cpuBound: true, params: z.object({ file: z.string(), ms: z.number().optional() }) }, async (ctx) => {
  appendFileSync(ctx.params.file, ctx.id + "\\n");
  if (ctx.params.ms) await sleep(ctx.params.ms, undefined, { signal: ctx.signal });
  return process.pid;
});

export const lateCrash = task({ name: "lateCrash", cpuBound: true }, () => {
  setTimeout(() => {
    throw new Error("thrown after the run ended");
  }, 50);
  return process.pid;
});

export const exit3 = task({ name: "exit3", cpuBound: true, params: z.object({ ms: z.number().optional() }) }, async (ctx) => {
  if (ctx.params.ms) await sleep(ctx.params.ms);
  console.error("about to exit");
  process.exit(3);
});

export const killSelf = task({ name: "killSelf", cpuBound: true }, () => {
  process.kill(process.pid, "SIGKILL");
  for (;;) {}
});

export const oom = task({ name: "oom", cpuBound: true }, () => {
  const keep = [];
  for (;;) keep.push(Array.from({ length: 100_000 }, (_, i) => ({ i })));
});

export const hog = task({ name: "hog", cpuBound: true, params: z.object({ mb: z.number() }) }, (ctx) => {
  (globalThis as { hog?: Buffer }).hog = Buffer.alloc(ctx.params.mb * 1048576, 1);
  return process.memoryUsage.rss();
});
`;

export const CONFIG = `import { defineConfig } from "fluid-tasks";
export default defineConfig({ tasks: ["./tasks/*.ts"], deps: async () => ({ db: "connected", pid: process.pid }) });
`;

/** A temp project holding the test tasks, compiled once here so workers find a warm cache. */
export async function makeProject(): Promise<{ dir: string; configFile: string; cleanup: () => void }> {
  const p = tempProject({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
  const configFile = join(p.dir, "fluid.config.ts");
  await loadProject({ config: configFile, cwd: p.dir, env: {} });
  return { dir: p.dir, configFile, cleanup: p.cleanup };
}

/** A pool on the project that remembers every worker it started, for leak checks. */
export interface TestPool {
  pool: Pool;
  events: PoolEvent[];
  /** Pids of every worker started so far. */
  pids(): number[];
  /** Closes the pool and fails when any process of any worker group is left. */
  close(): Promise<void>;
}

export function testPool(project: { dir: string; configFile: string }, options: Partial<PoolOptions> = {}): TestPool {
  const events: PoolEvent[] = [];
  const pool = createPool({
    configFile: project.configFile, cwd: project.dir, size: 2, ...options,
    onEvent: (e) => {
      events.push(e);
      options.onEvent?.(e);
    },
  });
  const pids = (): number[] => events.flatMap((e) => (e.type === "spawned" && e.pid !== undefined ? [e.pid] : []));
  const timersBefore = activeTimers();
  return {
    pool,
    events,
    pids,
    async close() {
      await pool.close(1000);
      const left = pids().flatMap((pid) => groupMembers(pid) ?? []);
      if (left.length > 0) throw new Error(`processes left after close: ${left.join(", ")}`);
      // Nothing of the pool may stay on the timer list (vitest's own test/hook timer is in both counts).
      if (activeTimers() > timersBefore) throw new Error(`timers left after close: ${activeTimers()} > ${timersBefore}`);
    },
  };
}

/** Timers on this process's event loop now. */
export const activeTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

let ids = 0;

/** A PoolRun with defaults. */
export function run(task: string, params: Record<string, unknown> = {}, more: Partial<PoolRun> = {}): PoolRun {
  return { task, id: `run-${++ids}`, params, attempt: 1, timeoutMs: 20_000, ...more };
}

/** True while the process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Live (non-zombie) children of a process. */
export function childrenOf(pid: number): number[] {
  return (liveProcesses() ?? []).filter((p) => p.ppid === pid).map((p) => p.pid);
}

/** Polls `pred` every 20 ms until true; throws after `timeoutMs`. */
export async function waitUntil(pred: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Registers the hooks every pool test file needs: one project for the file, and the pool a
 * test opened closed after it. Returns `open(options)` and a getter of the project.
 */
export function usePoolTests(): { open: (options?: Partial<PoolOptions>) => TestPool; project: () => Awaited<ReturnType<typeof makeProject>> } {
  let project: Awaited<ReturnType<typeof makeProject>> | undefined;
  let current: TestPool | undefined;
  beforeAll(async () => {
    project = await makeProject();
  });
  afterAll(() => project?.cleanup());
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return {
    open: (options = {}) => (current = testPool(project!, options)),
    project: () => project!,
  };
}
