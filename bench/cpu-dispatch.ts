/**
 * bench/cpu-dispatch: what a cpu-bound run costs through our worker pool (src/executor/pool.ts),
 * next to BullMQ 6's sandboxed processor (a processor file run in forked children), on the same
 * machine in the same run.
 *
 *   npm run build && npx tsx bench/cpu-dispatch.ts [rounds=5]
 *
 * Figures (each the median of `rounds` rounds after an unmeasured warm-up, unless noted; ours and
 * BullMQ's rounds of a figure are interleaved, so a load that drifts hits both alike):
 * - per-run overhead, one run at a time, of a task that returns 1:
 *   ours: `pool.execute` on a warm worker (median of 1,000 runs per round), next to the same
 *   task run inline on this event loop (executeInline), which is the floor;
 *   ours, fresh process per run (`isolate: "run"`, 10 runs per round, 3 rounds);
 *   BullMQ: `queue.add` until the worker's `completed` event, sandbox child warm (300 jobs per
 *   round). BullMQ's figure includes its Redis round trips; ours has no broker in it.
 * - throughput at concurrency 4, jobs/s of the same task (30,000 runs per round for ours, 12,000
 *   jobs for BullMQ; our pool at its defaults, so a worker is replaced after 100,000 runs (its
 *   successor started beside it at 90,000) and a busy worker gets 1 run ahead): ours end to end: a memory broker filled first (untimed), then
 *   the real consumer (src/consumer, concurrency 4, no store) claims, executes in the pool and
 *   acks, on the default pool size (availableParallelism - 1) and on 4 workers; also 4 bare
 *   loops of claim -> pool.execute -> ack, and 4 loops of pool.execute without a broker.
 *   BullMQ: `new Worker(queue, processorFile,
 *   { concurrency: 4, useWorkerThreads: false })`, jobs added first while the worker is paused
 *   (untimed), clock from resume to the last `completed`. Its 4 children are warm. BullMQ's
 *   Worker is its consumer, so the end-to-end row is the like-for-like one.
 * - event-loop lag of this (parent) process while every worker burns CPU for 3 s, p99 of
 *   `monitorEventLoopDelay` (resolution 1 ms), 3 rounds: ours with the default pool size
 *   (availableParallelism - 1) and with 4 workers; BullMQ with 4 busy children. Idle baseline.
 * - RSS per worker process (VmRSS from /proc, median over the workers) after the throughput rounds.
 * Children are started without this process's execArgv (tsx's loader) for both.
 * Targets: warm overhead <= 2 ms median; >= 2x BullMQ sandbox throughput at concurrency 4;
 * parent event-loop lag p99 <= 10 ms.
 * Noise: a fixed CPU loop is timed before and after; its spread and the load average are printed.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Queue, Worker } from "bullmq";
import { createMemoryBroker } from "../src/broker/memory.js";
import { createConsumer } from "../src/consumer/consumer.js";
import type { QueuedRun } from "../src/broker/broker.js";
import "../src/index.js"; // publishes the API the task modules import
import { loadProject } from "../src/config/load.js";
import { executeInline } from "../src/executor/inline.js";
import { createPool, type Pool } from "../src/executor/pool.js";
import { liveProcesses } from "../src/executor/process-group.js";
import { median, percentile, printTable } from "./stats.js";
import { startRedis } from "./redis.js";

const ROUNDS = Number(process.argv[2] ?? 5);
const ROOT = join(import.meta.dirname, "..");
const WARM_RUNS = 1000;
const FRESH_RUNS = 10;
const BULL_LATENCY_JOBS = 300;
const THROUGHPUT = { ours: 30_000, bullmq: 12_000 };
const CONCURRENCY = 4;
const BURN_MS = 3000;

if (!existsSync(join(ROOT, "dist", "executor", "child.js"))) {
  console.error("dist/executor/child.js is missing: run `npm run build` first");
  process.exit(2);
}

// ---- the project both sides run ----

const dir = mkdtempSync(join(tmpdir(), "fluid-bench-cpu-"));
mkdirSync(join(dir, "node_modules"));
mkdirSync(join(dir, "tasks"));
symlinkSync(ROOT, join(dir, "node_modules", "fluid-tasks"), "dir");
symlinkSync(join(ROOT, "node_modules", "zod"), join(dir, "node_modules", "zod"), "dir");
writeFileSync(join(dir, "fluid.config.ts"), `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"] });\n`);
writeFileSync(join(dir, "tasks", "t.ts"), `import { task } from "fluid-tasks";
import { z } from "zod";
export const noop = task({ name: "noop", cpuBound: true }, () => 1);
export const burn = task({ name: "burn", cpuBound: true, params: z.object({ ms: z.number() }) }, (ctx) => {
  const end = Date.now() + ctx.params.ms;
  let n = 0;
  while (Date.now() < end) n++;
  return n;
});
`);
// BullMQ's sandbox imports the processor file and calls its default export.
const processorFile = join(dir, "processor.mjs");
writeFileSync(processorFile, `export default async function (job) {
  if (job.data.ms) {
    const end = Date.now() + job.data.ms;
    let n = 0;
    while (Date.now() < end) n++;
    return n;
  }
  return 1;
}
`);
const configFile = join(dir, "fluid.config.ts");
const project = await loadProject({ config: configFile, cwd: dir, env: {} }); // compiles once: workers start warm

// ---- helpers ----

let ids = 0;
const noopRun = (): Parameters<Pool["execute"]>[0] => ({ task: "noop", id: `r${++ids}`, params: {}, attempt: 1, timeoutMs: 60_000 });

function openPool(size: number, pids: Set<number>): Pool {
  return createPool({
    configFile, cwd: dir, size, idleTimeoutMs: 0,
    onEvent: (e) => {
      if (e.type === "spawned" && e.pid) pids.add(e.pid);
    },
  });
}

function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Pids of live processes whose parent is this process and whose command line contains `needle`. */
function childrenMatching(needle: string): number[] {
  return (liveProcesses() ?? [])
    .filter((p) => p.ppid === process.pid && readIfPresent(`/proc/${p.pid}/cmdline`).includes(needle))
    .map((p) => p.pid);
}

function readIfPresent(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return ""; // exited meanwhile
  }
}

const t0 = performance.now();

/** Rounds of several measures taken in turn (a, b, c, a, b, c, ...), so drifting load hits all alike. */
async function interleaved<K extends string>(count: number, measures: Record<K, () => Promise<number>>): Promise<Record<K, number[]>> {
  const keys = Object.keys(measures) as K[];
  for (const k of keys) await measures[k](); // warm-up
  const out = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let i = 0; i < count; i++) for (const k of keys) out[k].push(await measures[k]());
  for (const k of keys) process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${k}: ${out[k].map((v) => v.toFixed(2)).join(", ")}\n`);
  return out;
}

/** Runs `measure` `count` times after a warm-up run; prints progress on stderr. */
async function rounds(label: string, count: number, measure: () => Promise<number>, warmUp = true): Promise<number[]> {
  if (warmUp) await measure();
  const values: number[] = [];
  for (let i = 0; i < count; i++) values.push(await measure());
  process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${label}: ${values.map((v) => v.toFixed(2)).join(", ")}\n`);
  return values;
}

/** p99 of this process's event-loop delay while `work` runs, in ms. */
async function lagWhile(work: () => Promise<unknown>): Promise<number> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  try {
    await work();
  } finally {
    h.disable();
  }
  return h.percentile(99) / 1e6;
}

function calibrate(): number[] {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    let x = 0;
    for (let j = 0; j < 20_000_000; j++) x = (x + j * 7) % 1_000_003;
    if (x < 0) console.log(x);
    times.push(performance.now() - t);
  }
  return times;
}

// ---- ours ----

async function oursWarm(pool: Pool): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < WARM_RUNS; i++) {
    const t = performance.now();
    const out = await pool.execute(noopRun());
    samples.push(performance.now() - t);
    if (out.state !== "success") throw new Error(`noop ended ${out.state}: ${out.error?.message}`);
  }
  return median(samples);
}

async function inlineFloor(): Promise<number> {
  const task = project.registry.get("noop");
  const samples: number[] = [];
  for (let i = 0; i < WARM_RUNS; i++) {
    const t = performance.now();
    await executeInline({ task, id: `i${i}`, params: {}, attempt: 1, deps: undefined, log: () => {}, queue: async () => "" }, { timeoutMs: 60_000 });
    samples.push(performance.now() - t);
  }
  return median(samples);
}

async function oursFresh(pool: Pool): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < FRESH_RUNS; i++) {
    const t = performance.now();
    const out = await pool.execute({ ...noopRun(), isolate: "run" });
    samples.push(performance.now() - t);
    if (out.state !== "success") throw new Error(`isolated noop ended ${out.state}: ${out.error?.message}`);
  }
  return median(samples);
}

async function oursThroughput(pool: Pool, withBroker: boolean): Promise<number> {
  const n = THROUGHPUT.ours;
  const broker = createMemoryBroker();
  try {
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const run: QueuedRun = { id: `t${++ids}`, task: "noop", params: {}, priority: "medium", attempt: 1, trigger: "queue", runAfter: now, queuedAt: now };
      await broker.enqueue(run);
    }
    let left = n;
    const start = performance.now();
    const loop = async (): Promise<void> => {
      for (;;) {
        if (withBroker) {
          const [run] = await broker.claim({ max: 1, owner: "bench" });
          if (!run) return;
          const out = await pool.execute({ task: run.task, id: run.id, params: run.params, attempt: run.attempt, timeoutMs: 60_000 });
          if (out.state !== "success") throw new Error(`noop ended ${out.state}`);
          await broker.ack(run.id);
        } else {
          if (left-- <= 0) return;
          const out = await pool.execute(noopRun());
          if (out.state !== "success") throw new Error(`noop ended ${out.state}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, loop));
    return n / ((performance.now() - start) / 1000);
  } finally {
    await broker.close();
  }
}

/** End to end: the consumer claims from a filled memory broker, executes in the pool, acks. */
async function oursConsumer(pool: Pool): Promise<number> {
  const n = THROUGHPUT.ours;
  const broker = createMemoryBroker();
  try {
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      await broker.enqueue({ id: `c${++ids}`, task: "noop", params: {}, priority: "medium", attempt: 1, trigger: "queue", runAfter: now, queuedAt: now });
    }
    let ended = 0;
    let failed: string | undefined;
    let finish!: () => void;
    const all = new Promise<void>((resolve) => (finish = resolve));
    const consumer = createConsumer({
      registry: project.registry, broker, concurrency: CONCURRENCY, pool,
      onEvent: (e) => {
        if (e.type !== "end") return;
        if (e.state !== "success") failed ??= `noop ended ${e.state}: ${e.error?.message}`;
        if (++ended === n) finish();
      },
    });
    const start = performance.now();
    consumer.start();
    await all;
    const rate = n / ((performance.now() - start) / 1000);
    await consumer.drain(1000);
    if (failed) throw new Error(failed);
    return rate;
  } finally {
    await broker.close();
  }
}

async function oursLag(pool: Pool, workers: number): Promise<number> {
  return lagWhile(() => Promise.all(Array.from({ length: workers }, () => pool.execute({ ...noopRun(), task: "burn", params: { ms: BURN_MS } }))));
}

// ---- BullMQ ----


/** One queue and one sandboxed worker (concurrency 4, forked children), kept warm across rounds. */
interface Bull {
  queue: Queue;
  worker: Worker;
  completed: () => number;
  /** Resolves once `count` jobs have completed in all. */
  reach: (count: number) => Promise<void>;
  close: () => Promise<void>;
}

async function openBull(port: number): Promise<Bull> {
  const connection = { host: "127.0.0.1", port };
  const name = `cpu-bench-${process.pid}`;
  const queue = new Queue(name, { connection, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
  const worker = new Worker(name, processorFile, {
    connection, concurrency: CONCURRENCY, useWorkerThreads: false,
    workerForkOptions: { execArgv: [] }, // not tsx's loader: the same plain `node` our workers run
  });
  let done = 0;
  let goal = Infinity;
  let reached: () => void = () => {};
  worker.on("completed", () => {
    if (++done >= goal) {
      goal = Infinity;
      reached();
    }
  });
  worker.on("failed", (_job, error) => console.error(`BullMQ job failed: ${error.message}`));
  worker.on("error", (error) => console.error(`BullMQ worker: ${error.message}`));
  await worker.waitUntilReady();
  await queue.waitUntilReady();
  return {
    queue, worker, completed: () => done,
    reach: (count) =>
      new Promise<void>((resolve) => {
        if (done >= count) return resolve();
        goal = count;
        reached = resolve;
      }),
    close: async () => {
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
    },
  };
}

async function bullLatency(b: Bull): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < BULL_LATENCY_JOBS; i++) {
    const finished = b.reach(b.completed() + 1);
    const t = performance.now();
    await b.queue.add("noop", {});
    await finished;
    samples.push(performance.now() - t);
  }
  return median(samples);
}

async function bullThroughput(b: Bull): Promise<number> {
  const n = THROUGHPUT.bullmq;
  const finished = b.reach(b.completed() + n);
  await b.worker.pause(true); // nothing is active between rounds; add without the worker taking jobs
  for (let i = 0; i < n; i += 1000) {
    await b.queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, () => ({ name: "noop", data: {} })));
  }
  const start = performance.now();
  b.worker.resume();
  await finished;
  return n / ((performance.now() - start) / 1000);
}

async function bullLag(b: Bull): Promise<number> {
  return lagWhile(async () => {
    const finished = b.reach(b.completed() + CONCURRENCY);
    await b.queue.addBulk(Array.from({ length: CONCURRENCY }, () => ({ name: "burn", data: { ms: BURN_MS } })));
    await finished;
  });
}

// ---- main ----

const spread = (v: number[], f: (x: number) => string): string => `${f(Math.min(...v))} - ${f(Math.max(...v))}`;
const ms = (v: number): string => `${v.toFixed(2)} ms`;
const rate = (v: number): string => `${Math.round(v).toLocaleString("en-US")}/s`;
const mb = (v: number): string => `${v.toFixed(0)} MB`;
const ratio = (ours: number, peer: number): string => `${(ours / peer).toFixed(2)}x`;

async function main(): Promise<void> {
  const began = performance.now();
  const load0 = loadavg();
  const cal0 = calibrate();
  const redis = await startRedis();
  const defaultSize = Math.max(1, availableParallelism() - 1);
  const pids1 = new Set<number>();
  const pids4 = new Set<number>();
  const poolDefault = openPool(defaultSize, pids1);
  const pool4 = openPool(CONCURRENCY, pids4);
  const freshPool = openPool(1, new Set());
  let bull: Bull | undefined;
  try {
    const idleLag = await rounds("idle lag", 3, () => lagWhile(() => new Promise((r) => setTimeout(r, 2000))), false);
    bull = await openBull(redis.port);
    const b = bull;
    const latency = await interleaved(ROUNDS, {
      "warm overhead": () => oursWarm(poolDefault),
      "inline floor": inlineFloor,
      "BullMQ latency": () => bullLatency(b),
    });
    const [warm, floor, bullLat] = [latency["warm overhead"], latency["inline floor"], latency["BullMQ latency"]];
    const fresh = await rounds("fresh process", 3, () => oursFresh(freshPool));
    const tput = await interleaved(ROUNDS, {
      "throughput consumer+pool": () => oursConsumer(poolDefault),
      "throughput consumer+pool4": () => oursConsumer(pool4),
      "throughput broker+pool": () => oursThroughput(poolDefault, true),
      "throughput pool": () => oursThroughput(poolDefault, false),
      "throughput BullMQ": () => bullThroughput(b),
    });
    const [tputConsumer, tputConsumer4, tputBroker, tputPool, tputBull] = [
      tput["throughput consumer+pool"], tput["throughput consumer+pool4"], tput["throughput broker+pool"], tput["throughput pool"], tput["throughput BullMQ"],
    ];
    // Same-run ratios: each of our rounds against the BullMQ round next to it.
    const roundRatios = tputConsumer.map((v, i) => v / tputBull[i]!);
    const oursRss = [...pids4].flatMap((p) => rssMb(p) ?? []);
    const bullPids = childrenMatching("bullmq");
    const bullRss = bullPids.flatMap((p) => rssMb(p) ?? []);
    const lagDefault = await rounds("lag default size", 3, () => oursLag(poolDefault, defaultSize), false);
    const lag4 = await rounds("lag 4 workers", 3, () => oursLag(pool4, CONCURRENCY), false);
    const lagBull = await rounds("lag BullMQ", 3, () => bullLag(bull!), false);
    const cal1 = calibrate();
    const load1 = loadavg();

    const m = (v: number[]): number => median(v);
    console.log(`\ncpu-dispatch: node ${process.version}, ${availableParallelism()} CPUs, default pool size ${defaultSize}; medians of ${ROUNDS} rounds (fresh process and lag: 3 rounds)`);
    console.log(`BullMQ 6 sandbox: forked children, concurrency ${CONCURRENCY}, Redis on 127.0.0.1:${redis.port} started by the bench; ratio = ours / BullMQ\n`);
    printTable(
      ["figure", "ours", "BullMQ sandbox", "ratio", "target", "ours: spread of rounds", "BullMQ: spread"],
      [
        ["per-run overhead, warm worker, one at a time (median)", ms(m(warm)), ms(m(bullLat)), ratio(m(warm), m(bullLat)), "<= 2 ms", spread(warm, ms), spread(bullLat, ms)],
        ["  same task inline on the event loop (floor)", ms(m(floor)), "", "", "", spread(floor, ms), ""],
        ['  fresh process per run (isolate: "run")', ms(m(fresh)), "no such mode", "", "", spread(fresh, ms), ""],
        [`throughput, concurrency ${CONCURRENCY}: memory broker + consumer + pool (${defaultSize} worker(s))`, rate(m(tputConsumer)), rate(m(tputBull)), ratio(m(tputConsumer), m(tputBull)), ">= 2x", spread(tputConsumer, rate), spread(tputBull, rate)],
        [`  same, ${CONCURRENCY} workers`, rate(m(tputConsumer4)), rate(m(tputBull)), ratio(m(tputConsumer4), m(tputBull)), "", spread(tputConsumer4, rate), ""],
        [`  bare loops: memory broker + pool (${defaultSize} worker(s))`, rate(m(tputBroker)), rate(m(tputBull)), ratio(m(tputBroker), m(tputBull)), "", spread(tputBroker, rate), ""],
        [`  pool alone (${defaultSize} worker(s))`, rate(m(tputPool)), rate(m(tputBull)), ratio(m(tputPool), m(tputBull)), "", spread(tputPool, rate), ""],
        [`parent event-loop lag p99, ${defaultSize} worker(s) burning (default size)`, ms(m(lagDefault)), "", "", "<= 10 ms", spread(lagDefault, ms), ""],
        [`parent event-loop lag p99, ${CONCURRENCY} workers burning`, ms(m(lag4)), ms(m(lagBull)), ratio(m(lag4), m(lagBull)), "<= 10 ms", spread(lag4, ms), spread(lagBull, ms)],
        ["  idle baseline (nothing running)", ms(m(idleLag)), "", "", "", spread(idleLag, ms), ""],
        ["RSS per worker process (median)", mb(m(oursRss)), bullRss.length ? mb(m(bullRss)) : "n/a", bullRss.length ? ratio(m(oursRss), m(bullRss)) : "", "", `${oursRss.length} workers`, `${bullRss.length} children`],
      ],
    );
    const calAll = [...cal0, ...cal1];
    console.log(`\nnoise: a fixed CPU loop took ${ms(m(cal0))} before and ${ms(m(cal1))} after (all 10: ${spread(calAll, ms)}, p90/p10 ${(percentile(calAll, 90) / percentile(calAll, 10)).toFixed(2)}); load average 1 min ${load0[0]!.toFixed(2)} at start, ${load1[0]!.toFixed(2)} at end`);
    console.log(`same-run ratios, end to end (${defaultSize} worker(s)) / BullMQ, round by round: ${roundRatios.map((r) => r.toFixed(2) + "x").join(", ")}`);
    console.log(`targets: warm overhead <= 2 ms: ${m(warm) <= 2 ? "met" : "NOT met"}; throughput >= 2x BullMQ sandbox (end to end): ${m(tputConsumer) / m(tputBull) >= 2 ? "met" : "NOT met"}; lag p99 <= 10 ms with the default size: ${m(lagDefault) <= 10 ? "met" : "NOT met"}, with ${CONCURRENCY} workers on ${availableParallelism()} CPUs: ${m(lag4) <= 10 ? "met" : "NOT met"}`);
    console.log(`total ${((performance.now() - began) / 1000).toFixed(0)} s`);
  } finally {
    await bull?.close();
    await Promise.all([poolDefault.close(0), pool4.close(0), freshPool.close(0)]);
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
