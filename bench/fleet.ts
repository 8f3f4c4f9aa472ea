/**
 * No-op runs per second through fluid's fleet path (the BullMQ broker of src/broker/bullmq.ts under
 * the real consumer of src/consumer) next to a bare BullMQ 6 Worker, on the same backend, queue
 * options and concurrency, in the same run, on Redis and on PostgreSQL.
 *
 *   npm run build && npx tsx bench/fleet.ts [rounds=3] [--redis-only | --postgres-only] [--only=one,two,routing,late] [--no-limited]
 *
 * Redis: a redis-server this script starts on a free port (`--save "" --appendonly no`, see
 * bench/redis.ts). PostgreSQL: the server on 127.0.0.1:5432, database `test`, in a schema of this
 * run (dropped at the end); both sides use a pg pool of at most 4 connections per Queue/Worker
 * (what fluid opens, src/fleet/connection.ts).
 *
 * Drain: the runs are enqueued first, untimed (fluid: `broker.enqueue` per run, 100 at a time;
 * BullMQ: `addBulk` of 1,000), then the clock runs from the consumer's (Worker's) start until the
 * last run is acked (fluid: moved to completed) / completed (BullMQ). No store and no run history
 * (bench/fleet-history.ts measures what recording costs). Each figure is the median of `rounds`
 * rounds after a warm-up round.
 *
 * fluid's consumer runs as `fluid serve` wires it on a backend: with the fleet's shared task limits
 * (src/fleet/fleet-state.ts, `sharedLimit`). The "unlimited" row is a task without a limit (no
 * round trip for a slot); the "maxConcurrency 50" row (skipped with --no-limited) is the same no-op
 * with a fleet-wide limit as high as the concurrency, so the limit never makes a run wait: what it
 * measures is the slot's cost, one round trip to take it and one to give it back per run.
 * The two sides alternate (`one`).
 *
 * Two daemons (`two`): the same drain through two processes at once, each started by this script
 * (fluid's broker and consumer as above, or a bare BullMQ Worker; concurrency 50 each), timed from
 * the moment both are told to start until a plain Queue counts every run completed (polled every
 * 20 ms, the same for both sides).
 *
 * Routing (`routing`): what routing by skipTasks costs the runs of a task a routed daemon does not
 * serve (see measureRouting).
 *
 * Schedule lateness (`late`): real `fluid serve` daemons (bin/fluid: dist/, so build first) on a
 * project of 1,000 tasks spread evenly over their interval, task i `every(interval, { delay: i *
 * interval / 1000 })`: 60 s (16.7 fires a second) by default, `--late-every=60000,10000` adds 10 s (100). Lateness = the `run-start` line's time minus the slot's `scheduledAt` (its `fire` line),
 * over the slots due from 4 s to 16 s after the daemons started. Embedded: one daemon on its SQLite
 * store; fleet: two daemons on the backend, each with its own store (both fire every slot, one run
 * per slot). `FLUID_BENCH_LOG=path` keeps each daemon's log as path.<n>; `FLUID_BENCH_NODE_ARGS` passes
 * node options to them (`--cpu-prof --cpu-prof-dir=dir` profiles them).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Queue, Worker, createPostgresBackend, type ConnectionOptions } from "bullmq";
import type { Broker } from "../src/broker/broker.js";
import { openBullmqBroker } from "../src/broker/bullmq.js";
import { Registry } from "../src/config/registry.js";
import { createConsumer } from "../src/consumer/consumer.js";
import { newQueuedRun } from "../src/core/queued-run.js";
import { parseBackendUrl, type BackendTarget } from "../src/fleet/backend-url.js";
import { checkBackend } from "../src/fleet/check-backend.js";
import { openFleetState } from "../src/fleet/open-fleet-state.js";
import { task } from "../src/task/task.js";
import { dropNamespace } from "../test/fleet/backends.js";
import { startRedis } from "./redis.js";
import { median, percentile, printTable } from "./stats.js";

const ROUNDS = Number(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? 3);
const ONLY = new Set((process.argv.find((a) => a.startsWith("--only="))?.slice(7) ?? "one,two,routing,late").split(","));
const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = join(import.meta.dirname, "..");
/** Schedule lateness: schedules, their interval, how long each round measures. */
const LATE_SCHEDULES = 1000;
/** Each schedule's interval, ms: 60 s (1,000 schedules firing once a minute: 16.7 fires/s); `--late-every=60000,10000` adds 100 fires/s, where a fleet falls behind (docs/fleet.md). */
const LATE_INTERVALS_MS = (process.argv.find((a) => a.startsWith("--late-every="))?.slice(13) ?? "60000").split(",").map(Number);
const LATE_SECONDS = 12;
/** Node options of the `late` daemons, e.g. FLUID_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them. */
const NODE_ARGS = (process.env.FLUID_BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
const CONCURRENCY = 50;
const RUNS = { redis: 10_000, postgres: 3_000 };
const PG_POOL_MAX = 4;
let queues = 0;

const LIMITED = !process.argv.includes("--no-limited");

async function fluidDrain(target: BackendTarget, n: number, maxConcurrency = 0): Promise<number> {
  const queueName = `bench${queues++}`;
  const broker: Broker = await openBullmqBroker({ target, queueName });
  const state = await openFleetState(target, { wait: true });
  const registry = new Registry();
  registry.add(task({ name: "noop", maxConcurrency }, async () => {}), { file: "bench", exportName: "noop" });
  try {
    for (let i = 0; i < n; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => broker.enqueue(newQueuedRun({ name: "noop", priority: "high" }, {}))));
    }
    let ended = 0;
    let finish: () => void = () => {};
    const done = new Promise<void>((resolve) => (finish = resolve));
    const consumer = createConsumer({
      registry, broker, concurrency: CONCURRENCY, pollMs: 100, // as fluid serve runs it on a backend
      sharedLimit: {
        acquire: (t, id, limit) => state.acquireSlot(t, id, limit),
        release: (t, id) => void state.releaseSlot(t, id).catch(() => {}),
        retryMs: 250,
      },
      onEvent: (e) => {
        if (e.type === "end" && ++ended === n) finish();
        if (e.type === "error") console.error(`consumer: ${e.message}`);
      },
    });
    const start = performance.now();
    consumer.start();
    await done;
    const rate = n / ((performance.now() - start) / 1000);
    await consumer.drain(1000);
    const left = await broker.counts();
    if (left.ready + left.delayed + left.claimed !== 0) throw new Error(`runs left in the queue: ${JSON.stringify(left)}`);
    return rate;
  } finally {
    await broker.close();
    await state.close();
  }
}

async function bullDrain(target: BackendTarget, n: number): Promise<number> {
  const name = `bench${queues++}`;
  const opts =
    target.kind === "redis"
      ? { connection: { host: target.host, port: target.port } as ConnectionOptions, prefix: target.prefix }
      : { connection: { connectionString: target.connectionString, schema: target.schema, max: PG_POOL_MAX } };
  const factory = target.kind === "redis" ? undefined : createPostgresBackend;
  const queue = new Queue(name, { ...opts, defaultJobOptions: { removeOnComplete: { age: 86_400 }, removeOnFail: { age: 86_400 } } } as never, factory as never);
  for (let i = 0; i < n; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ name: "noop", data: { i: i + k } })));
  }
  let completed = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  const worker = new Worker(name, async () => {}, { ...opts, concurrency: CONCURRENCY, autorun: false } as never, factory as never);
  worker.on("completed", () => {
    if (++completed === n) finish();
  });
  worker.on("error", (error) => console.error(`BullMQ worker: ${error.message}`));
  try {
    await worker.waitUntilReady();
    const start = performance.now();
    void worker.run();
    await done;
    return n / ((performance.now() - start) / 1000);
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

async function measure(target: BackendTarget, n: number): Promise<{ fluid: number; limited: number; bull: number }> {
  await fluidDrain(target, Math.min(n, 1000)); // warm-up
  if (LIMITED) await fluidDrain(target, Math.min(n, 1000), CONCURRENCY);
  await bullDrain(target, Math.min(n, 1000));
  const fluid: number[] = [];
  const limited: number[] = [];
  const bull: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const sides = [
      async () => fluid.push(await fluidDrain(target, n)),
      async () => bull.push(await bullDrain(target, n)),
      ...(LIMITED ? [async () => limited.push(await fluidDrain(target, n, CONCURRENCY))] : []),
    ];
    // Each round starts with another side: none always runs on the warmest (or most crowded) machine.
    for (let k = 0; k < sides.length; k++) await sides[(i + k) % sides.length]!();
  }
  console.error(`${target.kind}: fluid ${fluid.map(Math.round).join(", ")}; fluid maxConcurrency ${limited.map(Math.round).join(", ") || "-"}; BullMQ ${bull.map(Math.round).join(", ")}`);
  return { fluid: median(fluid), limited: LIMITED ? median(limited) : NaN, bull: median(bull) };
}

function rowsOf(kind: string, runs: number, r: { fluid: number; limited: number; bull: number }): Array<Array<string | number>> {
  const rows: Array<Array<string | number>> = [[kind, "unlimited", runs, CONCURRENCY, Math.round(r.fluid), Math.round(r.bull), (r.fluid / r.bull).toFixed(2)]];
  if (LIMITED) rows.push([kind, `maxConcurrency ${CONCURRENCY}`, runs, CONCURRENCY, Math.round(r.limited), Math.round(r.bull), (r.limited / r.bull).toFixed(2)]);
  return rows;
}

/** Options of a bare BullMQ Queue / Worker on `target` (PostgreSQL: pool max 4, as fluid's). */
function bullOptions(target: BackendTarget) {
  const opts =
    target.kind === "redis"
      ? { connection: { host: target.host, port: target.port } as ConnectionOptions, prefix: target.prefix }
      : { connection: { connectionString: target.connectionString, schema: target.schema, max: PG_POOL_MAX } };
  return { opts, factory: target.kind === "redis" ? undefined : createPostgresBackend };
}

/**
 * A child process of the two-daemon drain: fluid's broker + consumer, or a bare Worker, on
 * `queueName`. Prints "ready", starts on "go" (stdin), stops on "stop" and prints how many runs it ended.
 */
async function childDrain(side: "fluid" | "bull", target: BackendTarget, queueName: string, serves = true): Promise<void> {
  let ended = 0;
  let stop: () => Promise<void>;
  let go: () => void;
  if (side === "fluid") {
    const broker = await openBullmqBroker({ target, queueName });
    const registry = new Registry();
    registry.add(task({ name: "noop" }, async () => {}), { file: "bench", exportName: "noop" });
    const consumer = createConsumer({
      registry, broker, concurrency: CONCURRENCY, pollMs: 100,
      // A routed daemon that serves other tasks (fluid serve --tasks other): it claims noop runs and puts them back.
      ...(serves ? {} : { serves: () => false }),
      onEvent: (e) => {
        if (e.type === "end") ended++;
        if (e.type === "error") console.error(`consumer: ${e.message}`);
      },
    });
    go = () => consumer.start();
    stop = async () => (await consumer.drain(1000), await broker.close());
  } else {
    const { opts, factory } = bullOptions(target);
    const worker = new Worker(queueName, async () => {}, { ...opts, concurrency: CONCURRENCY, autorun: false } as never, factory as never);
    worker.on("completed", () => void ended++);
    worker.on("error", (error) => console.error(`BullMQ worker: ${error.message}`));
    await worker.waitUntilReady();
    go = () => void worker.run();
    stop = () => worker.close();
  }
  process.stdout.write("ready\n");
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === "go") go();
    if (line === "stop") {
      await stop();
      process.stdout.write(`${JSON.stringify({ ended })}\n`);
      return;
    }
  }
}

/** A child process of this script and its stdout lines. */
function child(args: string[]): { proc: ChildProcess; next: () => Promise<string> } {
  const proc = spawn(process.execPath, [...process.execArgv, SCRIPT, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  const lines: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  createInterface({ input: proc.stdout! }).on("line", (line) => (waiting.length ? waiting.shift()!(line) : lines.push(line)));
  return { proc, next: () => (lines.length ? Promise.resolve(lines.shift()!) : new Promise((resolve) => waiting.push(resolve))) };
}

/** Runs/s of `n` no-op runs drained by two processes of `side` at once, and each one's share. */
async function twoDrain(side: "fluid" | "bull", target: BackendTarget, n: number): Promise<{ rate: number; split: number[] }> {
  const queueName = `bench${queues++}`;
  const { opts, factory } = bullOptions(target);
  const queue = new Queue(queueName, { ...opts, defaultJobOptions: { removeOnComplete: { age: 86_400 }, removeOnFail: { age: 86_400 } } } as never, factory as never);
  try {
    if (side === "fluid") {
      const broker = await openBullmqBroker({ target, queueName });
      for (let i = 0; i < n; i += 100) {
        await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => broker.enqueue(newQueuedRun({ name: "noop", priority: "high" }, {}))));
      }
      await broker.close();
    } else {
      for (let i = 0; i < n; i += 1000) {
        await queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ name: "noop", data: { i: i + k } })));
      }
    }
    const children = [0, 1].map(() => child(["--child", side, JSON.stringify(target), queueName]));
    try {
      for (const c of children) if ((await c.next()) !== "ready") throw new Error("a bench child did not start");
      const start = performance.now();
      for (const c of children) c.proc.stdin!.write("go\n");
      for (;;) {
        const c = await queue.getJobCounts("completed", "failed");
        if ((c.failed ?? 0) > 0) throw new Error(`${c.failed} runs failed`);
        if ((c.completed ?? 0) >= n) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const rate = n / ((performance.now() - start) / 1000);
      for (const c of children) c.proc.stdin!.write("stop\n");
      const split = await Promise.all(children.map(async (c) => (JSON.parse(await c.next()) as { ended: number }).ended));
      return { rate, split };
    } finally {
      for (const c of children) if (c.proc.exitCode === null) c.proc.stdin!.end();
      await Promise.all(children.map((c) => (c.proc.exitCode !== null ? undefined : new Promise((r) => c.proc.once("exit", r)))));
    }
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

async function measureTwo(target: BackendTarget, n: number): Promise<{ fluid: number; bull: number }> {
  await twoDrain("fluid", target, Math.min(n, 1000)); // warm-up
  await twoDrain("bull", target, Math.min(n, 1000));
  const fluid: number[] = [];
  const bull: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    for (const side of i % 2 === 0 ? (["fluid", "bull"] as const) : (["bull", "fluid"] as const)) {
      const r = await twoDrain(side, target, n);
      (side === "fluid" ? fluid : bull).push(r.rate);
      console.error(`${target.kind} two daemons, ${side}: ${Math.round(r.rate)} runs/s, split ${r.split.join(" / ")}`);
    }
  }
  return { fluid: median(fluid), bull: median(bull) };
}

/**
 * What routing by skipTasks costs the runs of a task a routed daemon does not serve: daemon S
 * serves noop; daemon R (`serves: () => false`, as `fluid serve --tasks other`) claims noop runs and
 * puts them back delayed by 250 ms. Latency: runs queued one at a time (a random pause of 0-200 ms
 * between them), each one's BullMQ `finishedOn - timestamp`, with S alone and with S + R, both idle.
 * Throughput: a drain of `n` runs by S alone and by S + R.
 */
async function measureRouting(target: BackendTarget, n: number): Promise<Array<Array<string | number>>> {
  const latency = async (routed: boolean): Promise<number[]> => {
    const queueName = `bench${queues++}`;
    const { opts, factory } = bullOptions(target);
    const queue = new Queue(queueName, opts as never, factory as never);
    const broker = await openBullmqBroker({ target, queueName, cancelEvents: false });
    const children = [child(["--child", "fluid", JSON.stringify(target), queueName]), ...(routed ? [child(["--child", "fluid", JSON.stringify(target), queueName, "routed-away"])] : [])];
    try {
      for (const c of children) if ((await c.next()) !== "ready") throw new Error("a bench child did not start");
      for (const c of children) c.proc.stdin!.write("go\n");
      const ms: number[] = [];
      for (let i = 0; i < 40; i++) {
        await new Promise((r) => setTimeout(r, Math.random() * 200));
        const run = newQueuedRun({ name: "noop", priority: "high" }, {});
        await broker.enqueue(run);
        for (;;) {
          const job = await queue.getJob(run.id);
          if (job?.finishedOn) {
            ms.push(job.finishedOn - job.timestamp);
            break;
          }
          await new Promise((r) => setTimeout(r, 10));
        }
      }
      for (const c of children) c.proc.stdin!.write("stop\n");
      for (const c of children) await c.next();
      return ms;
    } finally {
      for (const c of children) if (c.proc.exitCode === null) c.proc.stdin!.end();
      await Promise.all(children.map((c) => (c.proc.exitCode !== null ? undefined : new Promise((r) => c.proc.once("exit", r)))));
      await broker.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  };
  const drain = async (routed: boolean): Promise<number> => {
    const queueName = `bench${queues++}`;
    const { opts, factory } = bullOptions(target);
    const queue = new Queue(queueName, opts as never, factory as never);
    const broker = await openBullmqBroker({ target, queueName, cancelEvents: false });
    for (let i = 0; i < n; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => broker.enqueue(newQueuedRun({ name: "noop", priority: "high" }, {}))));
    }
    await broker.close();
    const children = [child(["--child", "fluid", JSON.stringify(target), queueName]), ...(routed ? [child(["--child", "fluid", JSON.stringify(target), queueName, "routed-away"])] : [])];
    try {
      for (const c of children) if ((await c.next()) !== "ready") throw new Error("a bench child did not start");
      const start = performance.now();
      for (const c of children) c.proc.stdin!.write("go\n");
      for (;;) {
        const c = await queue.getJobCounts("completed");
        if ((c.completed ?? 0) >= n) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const rate = n / ((performance.now() - start) / 1000);
      for (const c of children) c.proc.stdin!.write("stop\n");
      for (const c of children) await c.next();
      return rate;
    } finally {
      for (const c of children) if (c.proc.exitCode === null) c.proc.stdin!.end();
      await Promise.all(children.map((c) => (c.proc.exitCode !== null ? undefined : new Promise((r) => c.proc.once("exit", r)))));
      await queue.obliterate({ force: true });
      await queue.close();
    }
  };
  const alone: number[][] = [];
  const withR: number[][] = [];
  const rateAlone: number[] = [];
  const rateWithR: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    alone.push(await latency(false));
    withR.push(await latency(true));
    rateAlone.push(await drain(false));
    rateWithR.push(await drain(true));
    console.error(`${target.kind} routing round ${i + 1}: latency p50 ${percentile(alone[i]!, 50)} / ${percentile(withR[i]!, 50)} ms, p99 ${percentile(alone[i]!, 99)} / ${percentile(withR[i]!, 99)} ms; drain ${Math.round(rateAlone[i]!)} / ${Math.round(rateWithR[i]!)} runs/s (alone / with a routed daemon)`);
  }
  const m = (rounds: number[][], p: number) => Math.round(median(rounds.map((r) => percentile(r, p))));
  return [
    [target.kind, "S alone", m(alone, 50), m(alone, 99), Math.round(median(rateAlone)), ""],
    [target.kind, "S + routed R", m(withR, 50), m(withR, 99), Math.round(median(rateWithR)), (median(rateWithR) / median(rateAlone)).toFixed(2)],
  ];
}

/** The project of the lateness bench: LATE_SCHEDULES no-op tasks spread evenly over `intervalMs`. */
function lateProject(backend: string | undefined, intervalMs: number): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "fluid-bench-late-"));
  mkdirSync(join(dir, "node_modules"));
  mkdirSync(join(dir, "tasks"));
  symlinkSync(ROOT, join(dir, "node_modules", "fluid-tasks"), "dir");
  const step = intervalMs / LATE_SCHEDULES;
  const tasks = Array.from({ length: LATE_SCHEDULES }, (_, i) =>
    `export const t${i} = task({ schedule: every("${intervalMs}ms", { delay: ${i * step} }) }, async () => {});`);
  writeFileSync(join(dir, "tasks", "t.ts"), `import { every, task } from "fluid-tasks";\n${tasks.join("\n")}\n`);
  writeFileSync(join(dir, "fluid.config.ts"), `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"], concurrency: 50${backend ? `, backend: ${JSON.stringify(backend)}` : ""} });\n`);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** One round of schedule lateness: `daemons` fluid serve processes; the lateness of each slot run in the window, ms. */
async function lateRound(backend: string | undefined, daemons: number, intervalMs: number): Promise<{ p50: number; p99: number; max: number; runs: number; missed: number }> {
  const project = lateProject(backend, intervalMs);
  const procs: ChildProcess[] = [];
  try {
    const fires = new Map<string, number>();
    const starts = new Map<string, number>();
    let startedAt = 0;
    const ready: Array<Promise<void>> = [];
    for (let d = 0; d < daemons; d++) {
      const proc = spawn(process.execPath, [...NODE_ARGS, join(ROOT, "bin", "fluid.js"), "serve", "--log-format", "json"], {
        cwd: project.dir, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, FLUID_CONFIG: "", FLUID_STORE: join(project.dir, `d${d}.db`) },
      });
      procs.push(proc);
      ready.push(new Promise((resolve, reject) => {
        proc.once("exit", (code) => reject(new Error(`fluid serve exited ${code}`)));
        createInterface({ input: proc.stderr! }).on("line", (text) => {
          if (process.env.FLUID_BENCH_LOG) appendFileSync(`${process.env.FLUID_BENCH_LOG}.${d}`, text + "\n");
          let line: { event?: string; ts?: string; id?: string; scheduledAt?: string; message?: string };
          try {
            line = JSON.parse(text) as typeof line;
          } catch {
            return console.error(text); // not a log line: show it
          }
          if (line.event === "started") resolve();
          else if (line.event === "fire" && line.id) fires.set(line.id, Date.parse(line.scheduledAt!));
          else if (line.event === "run-start" && line.id && !starts.has(line.id)) starts.set(line.id, Date.parse(line.ts!));
          else if (line.event === "error") console.error(`fluid serve: ${line.message}`);
        });
      }));
    }
    await Promise.all(ready);
    startedAt = Date.now();
    const from = startedAt + 4000;
    const to = from + LATE_SECONDS * 1000;
    await new Promise((r) => setTimeout(r, to - Date.now() + 3000)); // the last slots' runs start
    const late: number[] = [];
    for (const [id, at] of fires) {
      if (at < from || at >= to) continue;
      const start = starts.get(id);
      if (start !== undefined) late.push(start - at);
    }
    // The slots due in the window (the grid: n * interval + task i's delay), fired or not: a daemon
    // that falls behind leaves some without a fire line, let alone a start, by the end.
    const step = intervalMs / LATE_SCHEDULES;
    let slots = 0;
    for (let i = 0; i < LATE_SCHEDULES; i++) {
      for (let at = Math.ceil((from - i * step) / intervalMs) * intervalMs + i * step; at < to; at += intervalMs) slots++;
    }
    const none = late.length === 0;
    return { p50: none ? NaN : percentile(late, 50), p99: none ? NaN : percentile(late, 99), max: none ? NaN : Math.max(...late), runs: late.length, missed: slots - late.length };
  } finally {
    // SIGTERM, then SIGKILL after 10 s: a daemon that fell behind by thousands of fires takes minutes to stop.
    await Promise.all(procs.map((p) => (p.exitCode !== null ? undefined : new Promise((r) => {
      const kill = setTimeout(() => p.kill("SIGKILL"), 10_000);
      p.once("exit", () => (clearTimeout(kill), r(undefined)));
      p.kill("SIGTERM");
    }))));
    project.cleanup();
  }
}

async function measureLate(backend: string | undefined, daemons: number, label: string): Promise<Array<Array<string | number>>> {
  const rows: Array<Array<string | number>> = [];
  for (const intervalMs of LATE_INTERVALS_MS) rows.push(await measureLateAt(backend, daemons, label, intervalMs));
  return rows;
}

async function measureLateAt(backend: string | undefined, daemons: number, label: string, intervalMs: number): Promise<Array<string | number>> {
  const rounds: Array<Awaited<ReturnType<typeof lateRound>>> = [];
  for (let i = 0; i < ROUNDS; i++) {
    const r = await lateRound(backend, daemons, intervalMs);
    console.error(`lateness ${label}, ${LATE_SCHEDULES / (intervalMs / 1000)} fires/s: p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms, ${r.runs} runs, ${r.missed} not started`);
    rounds.push(r);
  }
  const m = (k: "p50" | "p99" | "max" | "runs" | "missed") => {
    const v = Math.round(median(rounds.map((r) => r[k])));
    return Number.isNaN(v) ? "-" : v;
  };
  return [label, daemons, (LATE_SCHEDULES / (intervalMs / 1000)).toFixed(1), m("runs"), m("p50"), m("p99"), m("max"), m("missed")];
}

async function main(): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  const two: Array<Array<string | number>> = [];
  const late: Array<Array<string | number>> = [];
  const routing: Array<Array<string | number>> = [];
  if (ONLY.has("late")) late.push(...(await measureLate(undefined, 1, "embedded (SQLite)")));
  if (!process.argv.includes("--postgres-only")) {
    const redis = await startRedis();
    console.error(redis.note);
    const target = parseBackendUrl(`redis://127.0.0.1:${redis.port}/0`, { prefix: `fluid_bench_${process.pid}` });
    try {
      await checkBackend(target);
      if (ONLY.has("one")) rows.push(...rowsOf("redis", RUNS.redis, await measure(target, RUNS.redis)));
      if (ONLY.has("two")) {
        const r = await measureTwo(target, RUNS.redis);
        two.push(["redis", RUNS.redis, `2 x ${CONCURRENCY}`, Math.round(r.fluid), Math.round(r.bull), (r.fluid / r.bull).toFixed(2)]);
      }
      if (ONLY.has("routing")) routing.push(...(await measureRouting(target, RUNS.postgres)));
      if (ONLY.has("late")) late.push(...(await measureLate(`redis://127.0.0.1:${redis.port}/0?prefix=fluid_bench_late_${process.pid}`, 2, "redis")));
    } finally {
      await dropNamespace(target);
      await dropNamespace(parseBackendUrl(`redis://127.0.0.1:${redis.port}/0`, { prefix: `fluid_bench_late_${process.pid}` }));
      await redis.stop();
    }
  }
  if (!process.argv.includes("--redis-only")) {
    const target = parseBackendUrl("postgres://postgres@127.0.0.1:5432/test", { prefix: `fluid_bench_${process.pid}` });
    const lateTarget = parseBackendUrl("postgres://postgres@127.0.0.1:5432/test", { prefix: `fluid_bench_late_${process.pid}` });
    try {
      await checkBackend(target);
      if (ONLY.has("one")) rows.push(...rowsOf("postgres", RUNS.postgres, await measure(target, RUNS.postgres)));
      if (ONLY.has("two")) {
        const r = await measureTwo(target, RUNS.postgres);
        two.push(["postgres", RUNS.postgres, `2 x ${CONCURRENCY}`, Math.round(r.fluid), Math.round(r.bull), (r.fluid / r.bull).toFixed(2)]);
      }
      if (ONLY.has("routing")) routing.push(...(await measureRouting(target, 1000)));
      if (ONLY.has("late")) {
        await checkBackend(lateTarget); // the schema, before two daemons race to make it
        late.push(...(await measureLate(`postgres://postgres@127.0.0.1:5432/test?schema=fluid_bench_late_${process.pid}`, 2, "postgres")));
      }
    } finally {
      await dropNamespace(target);
      await dropNamespace(lateTarget);
    }
  }
  const version = (await import("bullmq/package.json", { with: { type: "json" } })).default.version;
  if (rows.length) {
    console.log(`No-op runs/s, drain, one process, median of ${ROUNDS} rounds (BullMQ ${version})`);
    printTable(["backend", "task", "runs", "concurrency", "fluid runs/s", "bare BullMQ runs/s", "ratio"], rows);
  }
  if (two.length) {
    console.log(`\nNo-op runs/s, drain, two processes at once, median of ${ROUNDS} rounds`);
    printTable(["backend", "runs", "concurrency", "two fluid daemons runs/s", "two bare Workers runs/s", "ratio"], two);
  }
  if (routing.length) {
    console.log(`\nRouting by skipTasks: runs of a task that daemon S serves and routed daemon R does not, median of ${ROUNDS} rounds`);
    printTable(["backend", "daemons", "latency p50 ms", "latency p99 ms", "drain runs/s", "ratio"], routing);
  }
  if (late.length) {
    console.log(`\nSchedule lateness (run start - scheduledAt), ${LATE_SCHEDULES} schedules spread evenly, slots of a ${LATE_SECONDS} s window, median of ${ROUNDS} rounds`);
    printTable(["where", "daemons", "fires/s", "runs", "p50 ms", "p99 ms", "max ms", "slots not started 3 s after"], late);
  }
}

if (process.argv[2] === "--child") {
  await childDrain(process.argv[3] as "fluid" | "bull", JSON.parse(process.argv[4]!) as BackendTarget, process.argv[5]!, process.argv[6] !== "routed-away");
} else {
  await main();
}
