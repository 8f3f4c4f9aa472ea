/**
 * No-op runs per second through fluid's fleet path (the BullMQ broker of src/broker/bullmq.ts under
 * the real consumer of src/consumer) next to a bare BullMQ 6 Worker, on the same backend, queue
 * options and concurrency, in the same run, on Redis and on PostgreSQL.
 *
 *   npx tsx bench/fleet.ts [rounds=3] [--redis-only | --postgres-only] [--no-limited]
 *
 * Redis: a redis-server this script starts on a free port (`--save "" --appendonly no`, see
 * bench/redis.ts). PostgreSQL: the server on 127.0.0.1:5432, database `test`, in a schema of this
 * run (dropped at the end); both sides use a pg pool of at most 4 connections per Queue/Worker
 * (what fluid opens, src/fleet/connection.ts).
 *
 * Drain: the runs are enqueued first, untimed (fluid: `broker.enqueue` per run, 100 at a time;
 * BullMQ: `addBulk` of 1,000), then the clock runs from the consumer's (Worker's) start until the
 * last run is acked (fluid: moved to completed) / completed (BullMQ). No store: history is not in
 * the backend yet (docs/fleet.md). Each figure is the median of `rounds` rounds after a warm-up
 * round, the two sides alternating.
 *
 * fluid's consumer runs as `fluid serve` wires it on a backend: with the fleet's shared task limits
 * (src/fleet/fleet-state.ts, `sharedLimit`). The "unlimited" row is a task without a limit (no
 * round trip for a slot); the "maxConcurrency 50" row (skipped with --no-limited) is the same no-op
 * with a fleet-wide limit as high as the concurrency, so the limit never makes a run wait: what it
 * measures is the slot's cost, one round trip to take it and one to give it back per run.
 */
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
import { median, printTable } from "./stats.js";

const ROUNDS = Number(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? 3);
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

async function main(): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  if (!process.argv.includes("--postgres-only")) {
    const redis = await startRedis();
    console.error(redis.note);
    const target = parseBackendUrl(`redis://127.0.0.1:${redis.port}/0`, { prefix: `fluid_bench_${process.pid}` });
    try {
      await checkBackend(target);
      rows.push(...rowsOf("redis", RUNS.redis, await measure(target, RUNS.redis)));
    } finally {
      await dropNamespace(target);
      await redis.stop();
    }
  }
  if (!process.argv.includes("--redis-only")) {
    const target = parseBackendUrl("postgres://postgres@127.0.0.1:5432/test", { prefix: `fluid_bench_${process.pid}` });
    try {
      await checkBackend(target);
      rows.push(...rowsOf("postgres", RUNS.postgres, await measure(target, RUNS.postgres)));
    } finally {
      await dropNamespace(target);
    }
  }
  console.log(`No-op runs/s, drain, median of ${ROUNDS} rounds (BullMQ ${(await import("bullmq/package.json", { with: { type: "json" } })).default.version})`);
  printTable(["backend", "task", "runs", "concurrency", "fluid runs/s", "bare BullMQ runs/s", "ratio"], rows);
}

await main();
