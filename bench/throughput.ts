/**
 * No-op runs per second at concurrency 100 through our brokers, next to BullMQ on Redis, and
 * queue-to-start latency.
 *
 *   npx tsx bench/throughput.ts [rounds=5] [--latency-only | --consumer] [--sequential-ids]
 *
 * Throughput, two ways, for (a) the memory broker, (b) the SQLite broker (durable: every
 * enqueue and ack committed to a WAL file, synchronous = NORMAL), (c) a BullMQ 6 Worker
 * (concurrency 100, removeOnComplete) on a redis-server this script starts on a free port
 * (`--save "" --appendonly no`) and stops at the end:
 * - drain: the runs are enqueued first, in bulk and untimed (ours: one `enqueue` call per run,
 *   group-committed; BullMQ: `addBulk` of 1,000), then the clock runs from the consumer's start
 *   until the last run is acked (ours: the ack committed) / completed (BullMQ).
 * - enqueue + drain: the clock also covers enqueueing, in chunks of 1,000 awaited one after the
 *   other while the consumer runs (ours: the same broker object; BullMQ: a Queue in this process).
 * Our consumer here is a minimal loop written for this bench, not src/consumer: claim up to
 * (100 - in flight), run `async () => {}`, ack, and claim again once per event-loop turn (many
 * runs end in the same turn, and one claim per turn takes them all).
 *
 * Latency: one run at a time into an idle consumer, from just before the enqueue call to the
 * start of the no-op, median of 200 runs per round; before each run a random pause uniform over
 * one poll interval (0-5 ms where nothing polls), so enqueues do not phase-lock with the timer. SQLite: the run is enqueued through a second connection
 * (as `fluid queue` from another process does), so the consumer only sees it by polling
 * `claim` every POLL ms (25 ms, the daemon's default, and 5 ms); also through the same broker
 * object, where `onEnqueue` wakes the consumer. BullMQ: Queue.add, Worker waiting on Redis.
 * Another process: what `fluid queue` does to `fluid serve`. A child process enqueues into
 * the store (its own broker on the file) and the real consumer of src/consumer starts the run,
 * woken by the watch on the store (`watch`, as the daemon runs it) or, for the old figure,
 * polling every 25 ms; the delay is measured between the two processes' clocks
 * (performance.timeOrigin + performance.now(), the same wall clock with sub-ms resolution).
 * `--latency-only` skips the throughput figures.
 *
 * Every throughput figure is the median of `rounds` rounds, after an unmeasured warm-up round;
 * latency figures are medians of 3 rounds. After each of our drains the broker must be empty.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Queue, Worker } from "bullmq";
import type { Broker, QueuedRun } from "../src/broker/broker.js";
import { createMemoryBroker } from "../src/broker/memory.js";
import { openSqliteBroker } from "../src/broker/sqlite.js";
import { startRedis } from "./redis.js";
import { median, printTable } from "./stats.js";
import { Registry } from "../src/config/registry.js";
import { createConsumer } from "../src/consumer/consumer.js";
import { openStore } from "../src/store/index.js";
import { task } from "../src/task/task.js";
import { newRunId } from "../src/core/run-id.js";

const LATENCY_ONLY = process.argv.includes("--latency-only");
const SEQUENTIAL_IDS = process.argv.includes("--sequential-ids");
const ROUNDS = Number(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? 5);
const CONCURRENCY = 100;
const CHUNK = 1000;
const RUNS = { memory: 200_000, sqlite: 50_000, bullmq: 20_000 };
const LATENCY_RUNS = 200;
const LATENCY_ROUNDS = 3;
const POLLS_MS = [25, 5];

// (Not in the producer child of processLatency, which only enqueues.)
const dir = process.argv[2] === "--producer" ? "" : mkdtempSync(join(tmpdir(), "fluid-bench-throughput-"));
let files = 0;
const newPath = (): string => join(dir, `runs-${files++}.db`);
const noop = async (): Promise<void> => {};

/**
 * A run id as fluid makes them (`newRunId`: 8 random hex, then a time counter; the store keys
 * rows by the counter first, schema v5), or with `--sequential-ids` the bench's own
 * `<prefix>-<i>` (what its figures used before). Random keys cost SQLite's indexes much more
 * than ordered ones (each insert or delete dirties a page of its own), so only the default
 * says what a daemon pays.
 */
function runId(i: number, prefix: string): string {
  return SEQUENTIAL_IDS ? `${prefix}-${i}` : newRunId();
}

function makeRun(i: number, prefix: string): QueuedRun {
  const now = Date.now();
  return { id: runId(i, prefix), task: `task_${i % 10}`, params: { i }, priority: "medium", attempt: 1, trigger: "queue", runAfter: now, queuedAt: now };
}

/** Enqueues runs [from, to) in one go (one group commit for the SQLite broker). */
async function enqueueRange(broker: Broker, from: number, to: number, prefix: string): Promise<void> {
  const pending: Array<Promise<boolean>> = [];
  for (let i = from; i < to; i++) pending.push(broker.enqueue(makeRun(i, prefix)));
  await Promise.all(pending);
}

/**
 * The bench's minimal consumer loop: resolves once `total` runs were claimed, run (a no-op,
 * calling `onStart` first) and acked. Claims once per event-loop turn; when idle, waits for
 * `onEnqueue` or polls every `pollMs`.
 */
function consume(broker: Broker, total: number, options: { pollMs: number; onStart?: (run: QueuedRun) => void }): { done: Promise<void>; stop: () => void } {
  let inFlight = 0;
  let acked = 0;
  let claiming = false;
  let again = false;
  let stopped = false;
  let turn: NodeJS.Immediate | undefined;
  let poll: NodeJS.Timeout | undefined;
  let finish: () => void = () => {};
  let fail: (error: unknown) => void = () => {};
  const done = new Promise<void>((resolve, reject) => ((finish = resolve), (fail = reject)));
  const stop = (): void => {
    stopped = true;
    if (turn) clearImmediate(turn);
    clearTimeout(poll);
    unsubscribe();
  };
  const request = (): void => {
    if (turn === undefined && !stopped) {
      turn = setImmediate(() => {
        turn = undefined;
        void pump();
      });
    }
  };
  const unsubscribe = broker.onEnqueue(request);
  const execute = async (run: QueuedRun): Promise<void> => {
    options.onStart?.(run);
    await noop();
    await broker.ack(run.id);
    inFlight--;
    if (++acked === total) {
      stop();
      finish();
    } else {
      request();
    }
  };
  const pump = async (): Promise<void> => {
    if (claiming) {
      again = true;
      return;
    }
    claiming = true;
    try {
      do {
        again = false;
        const free = CONCURRENCY - inFlight;
        if (free <= 0 || stopped) break;
        const runs = await broker.claim({ max: free, owner: "bench" });
        inFlight += runs.length;
        for (const run of runs) execute(run).catch(fail);
        if (runs.length === free) again = true;
      } while (again);
    } catch (error) {
      fail(error);
    } finally {
      claiming = false;
    }
    if (inFlight === 0 && !stopped) {
      clearTimeout(poll);
      poll = setTimeout(request, options.pollMs);
    }
  };
  request();
  return { done, stop };
}

/** Throws unless every run was claimed and acked: a figure of a consumer that lost runs is no figure. */
async function expectEmpty(broker: Broker): Promise<void> {
  const counts = await broker.counts();
  if (counts.ready + counts.delayed + counts.claimed !== 0) throw new Error(`the ${broker.kind} broker is not empty after the drain: ${JSON.stringify(counts)}`);
}

/** CPU time of this process per run (µs, user + system) of the last drain measured; steadier than rates on a busy machine. */
let lastCpuPerRun = 0;
function cpuPerRun(since: NodeJS.CpuUsage, n: number): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / n;
}

/** Runs/s of draining `n` runs enqueued beforehand. */
async function oursDrain(open: () => Broker, n: number): Promise<number> {
  const broker = open();
  try {
    await enqueueRange(broker, 0, n, "d");
    const start = performance.now();
    const cpu = process.cpuUsage();
    await consume(broker, n, { pollMs: 25 }).done;
    const rate = n / ((performance.now() - start) / 1000);
    lastCpuPerRun = cpuPerRun(cpu, n);
    await expectEmpty(broker);
    return rate;
  } finally {
    await broker.close();
  }
}

/** Runs/s of enqueueing `n` runs in chunks while the consumer drains them. */
async function oursEnqueueDrain(open: () => Broker, n: number): Promise<number> {
  const broker = open();
  try {
    const start = performance.now();
    const consumer = consume(broker, n, { pollMs: 25 });
    for (let i = 0; i < n; i += CHUNK) await enqueueRange(broker, i, Math.min(n, i + CHUNK), "e");
    await consumer.done;
    const rate = n / ((performance.now() - start) / 1000);
    await expectEmpty(broker);
    return rate;
  } finally {
    await broker.close();
  }
}

/** Runs/s of the untimed bulk enqueue of the drain figure, measured on its own. */
async function oursBulkEnqueue(n: number): Promise<number> {
  const broker = openSqliteBroker({ path: newPath() });
  try {
    const start = performance.now();
    for (let i = 0; i < n; i += CHUNK) await enqueueRange(broker, i, Math.min(n, i + CHUNK), "b");
    return n / ((performance.now() - start) / 1000);
  } finally {
    await broker.close();
  }
}

/**
 * A random pause before each latency sample: uniform over one poll interval, so the enqueue
 * falls at a uniformly random phase of the consumer's poll timer (a fixed pause would lock
 * onto one phase and measure that instead).
 */
const jitter = (spanMs: number): Promise<void> => sleep(Math.random() * spanMs);

/** Pause span where nothing polls (BullMQ blocks on Redis; the onEnqueue wake-up). */
const WAKE_JITTER_MS = 5;

/** Median ms from enqueue (through `producer`) to start, with `consumerBroker` polling every `pollMs`. */
async function oursLatency(consumerBroker: Broker, producer: Broker, pollMs: number, jitterMs: number): Promise<number> {
  const samples: number[] = [];
  let t0 = 0;
  let started: () => void = () => {};
  const consumer = consume(consumerBroker, Number.MAX_SAFE_INTEGER, {
    pollMs,
    onStart: () => {
      samples.push(performance.now() - t0);
      started();
    },
  });
  try {
    for (let i = 0; i < LATENCY_RUNS; i++) {
      await jitter(jitterMs);
      const startedNow = new Promise<void>((resolve) => (started = resolve));
      t0 = performance.now();
      await producer.enqueue(makeRun(i, `l${pollMs}-${files}`));
      await startedNow;
    }
  } finally {
    consumer.stop();
  }
  await sleep(5); // let the last ack commit before the brokers close
  return median(samples);
}

async function sqliteLatency(pollMs: number, sameObject: boolean): Promise<number> {
  const path = newPath();
  const consumerBroker = openSqliteBroker({ path });
  const producer = sameObject ? consumerBroker : openSqliteBroker({ path });
  try {
    return await oursLatency(consumerBroker, producer, pollMs, sameObject ? WAKE_JITTER_MS : pollMs);
  } finally {
    await consumerBroker.close();
    if (!sameObject) await producer.close();
  }
}

/** Epoch ms with sub-ms resolution, comparable between processes on one machine. */
const epochNow = (): number => performance.timeOrigin + performance.now();

/** The producer process of `processLatency`: enqueues a run per message, replies with the time it began. */
async function producerMain(path: string): Promise<void> {
  const broker = openSqliteBroker({ path });
  process.on("message", (message: { id?: string }) => {
    if (!message.id) {
      void broker.close().then(() => process.disconnect());
      return;
    }
    const t0 = epochNow();
    const now = Date.now();
    void broker
      .enqueue({ id: message.id, task: "noop", params: {}, priority: "medium", attempt: 1, trigger: "queue", runAfter: now, queuedAt: now })
      .then(() => process.send!({ id: message.id, t0 }));
  });
  process.send!({ ready: true });
}

/**
 * Median ms from an enqueue in another process to the start of the run in src/consumer, woken
 * by the store watch (`watch`) or polling every 25 ms (the daemon before the watch).
 */
async function processLatency(watch: boolean): Promise<number> {
  const path = newPath();
  const broker = openSqliteBroker({ path });
  const registry = new Registry();
  registry.add(task({ name: "noop" }, async () => {}), { file: "bench", exportName: "noop" });
  const starts = new Map<string, number>();
  let onStart: () => void = () => {};
  const consumer = createConsumer({
    registry, broker, concurrency: CONCURRENCY, pollMs: 25, ...(watch ? { watch: path } : {}),
    onEvent: (e) => {
      if (e.type === "start") {
        starts.set(e.run.id, epochNow());
        onStart();
      }
    },
  });
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["--producer", path], { execArgv: process.execArgv });
  const replies = new Map<string, number>();
  let onReply: () => void = () => {};
  let ready: () => void = () => {};
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  child.on("message", (m: { ready?: boolean; id?: string; t0?: number }) => {
    if (m.ready) ready();
    else {
      replies.set(m.id!, m.t0!);
      onReply();
    }
  });
  const samples: number[] = [];
  try {
    await isReady;
    consumer.start();
    await sleep(50);
    for (let i = 0; i < LATENCY_RUNS; i++) {
      await jitter(watch ? WAKE_JITTER_MS : 25);
      const id = `p${i}`;
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (starts.has(id) && replies.has(id)) resolve();
        };
        onStart = check;
        onReply = check;
        child.send({ id });
      });
      samples.push(starts.get(id)! - replies.get(id)!);
    }
  } finally {
    child.send({});
    await new Promise((resolve) => child.once("exit", resolve));
    await consumer.drain(1000);
    await broker.close();
  }
  return median(samples);
}

// ---- BullMQ ----


let queueNames = 0;

async function bullDrain(port: number, n: number, includeEnqueue: boolean): Promise<number> {
  const connection = { host: "127.0.0.1", port };
  const name = `bench-${process.pid}-${queueNames++}`;
  const queue = new Queue(name, { connection, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
  const addAll = async (): Promise<void> => {
    for (let i = 0; i < n; i += CHUNK) {
      const jobs = [];
      for (let j = i; j < Math.min(n, i + CHUNK); j++) jobs.push({ name: `task_${j % 10}`, data: { i: j } });
      await queue.addBulk(jobs);
    }
  };
  if (!includeEnqueue) await addAll();
  let completed = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  const worker = new Worker(name, noop, { connection, concurrency: CONCURRENCY, autorun: false });
  worker.on("completed", () => {
    if (++completed === n) finish();
  });
  worker.on("error", (error) => console.error(`BullMQ worker: ${error.message}`));
  try {
    await worker.waitUntilReady();
    const start = performance.now();
    void worker.run();
    if (includeEnqueue) await addAll();
    await done;
    return n / ((performance.now() - start) / 1000);
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

async function bullBulkEnqueue(port: number, n: number): Promise<number> {
  const connection = { host: "127.0.0.1", port };
  const queue = new Queue(`bench-${process.pid}-${queueNames++}`, { connection });
  try {
    await queue.waitUntilReady();
    const start = performance.now();
    for (let i = 0; i < n; i += CHUNK) {
      const jobs = [];
      for (let j = i; j < Math.min(n, i + CHUNK); j++) jobs.push({ name: `task_${j % 10}`, data: { i: j } });
      await queue.addBulk(jobs);
    }
    return n / ((performance.now() - start) / 1000);
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

async function bullLatency(port: number): Promise<number> {
  const connection = { host: "127.0.0.1", port };
  const name = `bench-${process.pid}-${queueNames++}`;
  const queue = new Queue(name, { connection, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
  const samples: number[] = [];
  let t0 = 0;
  let started: () => void = () => {};
  const worker = new Worker(
    name,
    async () => {
      samples.push(performance.now() - t0);
      started();
    },
    { connection, concurrency: CONCURRENCY },
  );
  try {
    await worker.waitUntilReady();
    await queue.waitUntilReady();
    await sleep(50); // the worker is now blocked waiting for a job
    for (let i = 0; i < LATENCY_RUNS; i++) {
      await jitter(WAKE_JITTER_MS);
      const startedNow = new Promise<void>((resolve) => (started = resolve));
      t0 = performance.now();
      await queue.add("task_0", { i });
      await startedNow;
    }
    return median(samples);
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

// ---- main ----

/**
 * Runs/s of what `fluid serve` does: the real consumer (src/consumer, watching the store file)
 * draining `n` runs enqueued beforehand from the SQLite broker, executing a no-op task and recording every attempt in
 * the store (running + success rows), at concurrency 100.
 */
async function daemonDrain(n: number, record: boolean, kind: "sqlite" | "memory" = "sqlite"): Promise<number> {
  const path = newPath();
  const broker = kind === "sqlite" ? openSqliteBroker({ path }) : createMemoryBroker();
  const store = record ? openStore({ path }) : undefined;
  const registry = new Registry();
  registry.add(task({ name: "noop" }, async () => {}), { file: "bench", exportName: "noop" });
  try {
    const now = Date.now();
    for (let i = 0; i < n; i += CHUNK) {
      await Promise.all(Array.from({ length: Math.min(CHUNK, n - i) }, (_, k) =>
        broker.enqueue({ id: runId(i + k, "c"), task: "noop", params: {}, priority: "medium", attempt: 1, trigger: "queue", runAfter: now, queuedAt: now })));
    }
    let ended = 0;
    let finish: () => void = () => {};
    const done = new Promise<void>((resolve) => (finish = resolve));
    const consumer = createConsumer({
      registry, broker, store, concurrency: CONCURRENCY, pollMs: 25, ...(kind === "sqlite" ? { watch: path } : {}), // as fluid serve runs it
      onEvent: (e) => {
        if (e.type === "end" && ++ended === n) finish();
      },
    });
    const start = performance.now();
    const cpu = process.cpuUsage();
    consumer.start();
    await done;
    const rate = n / ((performance.now() - start) / 1000);
    lastCpuPerRun = cpuPerRun(cpu, n);
    await consumer.drain(1000);
    await expectEmpty(broker);
    return rate;
  } finally {
    store?.close();
    await broker.close();
  }
}

async function rounds(count: number, measure: () => Promise<number>, warmUp = true): Promise<number> {
  if (warmUp) await measure();
  const values: number[] = [];
  for (let i = 0; i < count; i++) values.push(await measure());
  return median(values);
}

/**
 * `--consumer`: what the consumer costs per run, in interleaved rounds (the machine may be
 * noisy): the bench's bare loop and src/consumer on the same broker (memory: 100,000 runs;
 * sqlite: the BullMQ count), src/consumer recording every run, and BullMQ's drain; prints
 * each round's ratios and their medians.
 */
async function consumerMain(): Promise<void> {
  const redis = await startRedis();
  try {
    const memN = RUNS.memory / 2;
    const n = RUNS.bullmq;
    const rows: Record<string, number[]> = {};
    const add = (key: string, v: number): void => void (rows[key] ??= []).push(v);
    for (let round = 0; round <= ROUNDS; round++) {
      const cpu: Record<string, number> = {};
      const measure = async (key: string, f: () => Promise<number>): Promise<number> => {
        const v = await f();
        cpu[key] = lastCpuPerRun;
        return v;
      };
      const m = {
        bareMem: await measure("bareMem", () => oursDrain(() => createMemoryBroker(), memN)),
        consumerMem: await measure("consumerMem", () => daemonDrain(memN, false, "memory")),
        bareSql: await measure("bareSql", () => oursDrain(() => openSqliteBroker({ path: newPath() }), n)),
        daemon: await measure("daemon", () => daemonDrain(n, false)),
        daemonRecorded: await measure("daemonRecorded", () => daemonDrain(n, true)),
        bull: await bullDrain(redis.port, n, false),
      };
      if (round === 0) continue; // warm-up
      for (const [k, v] of Object.entries(m)) add(k, v);
      add("memCost", m.bareMem / m.consumerMem);
      add("sqlCost", m.bareSql / m.daemon);
      add("memCpu", cpu.consumerMem! / cpu.bareMem!);
      add("sqlCpu", cpu.daemon! / cpu.bareSql!);
      add("cpuBareSql", cpu.bareSql!);
      add("cpuDaemon", cpu.daemon!);
      add("cpuRecorded", cpu.daemonRecorded!);
      add("daemonVsBull", m.daemon / m.bull);
      add("recordedVsBull", m.daemonRecorded / m.bull);
      console.log(`round ${round}: ${Object.entries(m).map(([k, v]) => `${k} ${Math.round(v)}/s`).join(", ")}; ` +
        `cost memory ${(m.bareMem / m.consumerMem).toFixed(2)}x, sqlite ${(m.bareSql / m.daemon).toFixed(2)}x; ` +
        `vs BullMQ ${(m.daemon / m.bull).toFixed(2)}x, recorded ${(m.daemonRecorded / m.bull).toFixed(2)}x; ` +
        `CPU µs/run: ${Object.entries(cpu).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")}`);
    }
    const med = (k: string): number => median(rows[k]!);
    const rate = (v: number): string => `${Math.round(v).toLocaleString("en-US")}/s`;
    console.log(`\nmedians of ${ROUNDS} rounds; cost = bare loop / src/consumer (per-run cost of the consumer, lower is better)\n`);
    printTable(["figure", "median"], [
      ["bare loop, memory broker", rate(med("bareMem"))],
      ["src/consumer, memory broker", rate(med("consumerMem"))],
      ["consumer cost, memory broker", `${med("memCost").toFixed(2)}x`],
      ["bare loop, sqlite broker", rate(med("bareSql"))],
      ["fluid serve's consumer on sqlite, no recording", rate(med("daemon"))],
      ["consumer cost, sqlite broker", `${med("sqlCost").toFixed(2)}x`],
      ["CPU per run: bare loop / consumer, sqlite broker", `${med("cpuBareSql").toFixed(1)} µs / ${med("cpuDaemon").toFixed(1)} µs`],
      ["consumer cost by CPU time, sqlite broker", `${med("sqlCpu").toFixed(2)}x`],
      ["consumer cost by CPU time, memory broker", `${med("memCpu").toFixed(2)}x`],
      ["fluid serve's consumer on sqlite, every run recorded", rate(med("daemonRecorded"))],
      ["CPU per run: consumer on sqlite, no recording / every run recorded", `${med("cpuDaemon").toFixed(1)} µs / ${med("cpuRecorded").toFixed(1)} µs`],
      ["BullMQ drain", rate(med("bull"))],
      ["no recording / BullMQ", `${med("daemonVsBull").toFixed(2)}x`],
      ["every run recorded / BullMQ", `${med("recordedVsBull").toFixed(2)}x`],
    ]);
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const began = performance.now();
  try {
    const memory = (): Broker => createMemoryBroker();
    const sqlite = (): Broker => openSqliteBroker({ path: newPath() });
    const latency = {
      bull: await rounds(LATENCY_ROUNDS, () => bullLatency(redis.port), true),
      processWatch: await rounds(LATENCY_ROUNDS, () => processLatency(true), true),
      processPoll: await rounds(LATENCY_ROUNDS, () => processLatency(false), false),
    };
    const ms = (v: number): string => `${v.toFixed(2)} ms`;
    const ratio = (ours: number, peer: number): string => `${(ours / peer).toFixed(2)}x`;
    const latencyRows = [
      ["another process (fluid queue -> fluid serve): queue-to-start, store watch", ms(latency.processWatch), ms(latency.bull), ratio(latency.processWatch, latency.bull)],
      ["another process: queue-to-start, poll every 25 ms (before the watch)", ms(latency.processPoll), ms(latency.bull), ratio(latency.processPoll, latency.bull)],
    ];
    if (LATENCY_ONLY) {
      console.log(`\nqueue-to-start latency, medians of ${LATENCY_ROUNDS} rounds of ${LATENCY_RUNS} runs; BullMQ 6 on ${redis.note}; ratio = ours / BullMQ (lower is better)\n`);
      printTable(["figure", "ours", "BullMQ", "ratio"], latencyRows);
      return;
    }
    const r = {
      memDrain: await rounds(ROUNDS, () => oursDrain(memory, RUNS.memory)),
      memBoth: await rounds(ROUNDS, () => oursEnqueueDrain(memory, RUNS.memory)),
      sqlDrain: await rounds(ROUNDS, () => oursDrain(sqlite, RUNS.sqlite)),
      sqlBoth: await rounds(ROUNDS, () => oursEnqueueDrain(sqlite, RUNS.sqlite)),
      sqlBulk: await rounds(ROUNDS, () => oursBulkEnqueue(RUNS.sqlite)),
      daemon: await rounds(ROUNDS, () => daemonDrain(RUNS.bullmq, false)),
      daemonRecorded: await rounds(ROUNDS, () => daemonDrain(RUNS.bullmq, true)),
      bullDrain: await rounds(ROUNDS, () => bullDrain(redis.port, RUNS.bullmq, false)),
      bullBoth: await rounds(ROUNDS, () => bullDrain(redis.port, RUNS.bullmq, true)),
      bullBulk: await rounds(ROUNDS, () => bullBulkEnqueue(redis.port, RUNS.bullmq)),
      // Latency rounds need no warm-up: the throughput rounds above warmed everything.
      bullLatency: await rounds(LATENCY_ROUNDS, () => bullLatency(redis.port), false),
      sqlLatency: [] as number[],
      sqlLatencyWake: await rounds(LATENCY_ROUNDS, () => sqliteLatency(25, true), false),
    };
    for (const pollMs of POLLS_MS) r.sqlLatency.push(await rounds(LATENCY_ROUNDS, () => sqliteLatency(pollMs, false), false));

    const rate = (v: number): string => `${Math.round(v).toLocaleString("en-US")}/s`;
    console.log(`\nno-op runs at concurrency ${CONCURRENCY}; medians of ${ROUNDS} rounds (latency: ${LATENCY_ROUNDS} rounds of ${LATENCY_RUNS} runs)`);
    console.log(`Redis: ${redis.note}; BullMQ 6, ${RUNS.bullmq.toLocaleString("en-US")} jobs per round`);
    console.log(`runs per round: memory ${RUNS.memory.toLocaleString("en-US")}, sqlite ${RUNS.sqlite.toLocaleString("en-US")}; ratio = ours / BullMQ (throughput: higher is better; latency: lower is better)\n`);
    printTable(
      ["figure", "ours", "BullMQ", "ratio"],
      [
        ["memory broker: drain (enqueued first)", rate(r.memDrain), rate(r.bullDrain), ratio(r.memDrain, r.bullDrain)],
        ["memory broker: enqueue + drain", rate(r.memBoth), rate(r.bullBoth), ratio(r.memBoth, r.bullBoth)],
        ["sqlite broker: drain (enqueued first, durably)", rate(r.sqlDrain), rate(r.bullDrain), ratio(r.sqlDrain, r.bullDrain)],
        ["sqlite broker: enqueue + drain", rate(r.sqlBoth), rate(r.bullBoth), ratio(r.sqlBoth, r.bullBoth)],
        ["fluid serve's consumer on sqlite: drain, no recording", rate(r.daemon), rate(r.bullDrain), ratio(r.daemon, r.bullDrain)],
        ["fluid serve's consumer on sqlite: drain, every run recorded", rate(r.daemonRecorded), rate(r.bullDrain), ratio(r.daemonRecorded, r.bullDrain)],
        ["sqlite broker: bulk enqueue (chunks of 1,000) vs addBulk", rate(r.sqlBulk), rate(r.bullBulk), ratio(r.sqlBulk, r.bullBulk)],
        ...POLLS_MS.map((pollMs, i) => [
          `sqlite: queue-to-start, other connection, poll ${pollMs} ms`,
          ms(r.sqlLatency[i]!),
          ms(r.bullLatency),
          ratio(r.sqlLatency[i]!, r.bullLatency),
        ]),
        ["sqlite: queue-to-start, same broker (onEnqueue wake)", ms(r.sqlLatencyWake), ms(r.bullLatency), ratio(r.sqlLatencyWake, r.bullLatency)],
        ...latencyRows,
      ],
    );
    console.log(`\ntotal ${((performance.now() - began) / 1000).toFixed(0)} s`);
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--producer") await producerMain(process.argv[3]!);
else if (process.argv.includes("--consumer")) await consumerMain();
else await main();
