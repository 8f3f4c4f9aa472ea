/**
 * What writing the run history to the fleet backend costs a daemon: no-op runs per second through
 * fluid's consumer on the BullMQ broker (as bench/fleet.ts drains them), recording each attempt
 * (a `running` and a `success` record per run, one log line) three ways, alternating, same run:
 *
 *   - local: the daemon's SQLite store only (what a fleet daemon did before the run history);
 *   - local + history: the store, and every record and log line to the backend's run history too
 *     (what `fluid serve --backend` does now, src/store/with-history.ts);
 *   - none: no recording at all (bench/fleet.ts's figure).
 *
 *   npx tsx bench/fleet-history.ts [rounds=3] [--redis-only | --postgres-only]
 *
 * Redis: a redis-server this script starts on a free port (bench/redis.ts). PostgreSQL: the server
 * on 127.0.0.1:5432, database `test`, in a schema of this run (dropped at the end). The clock runs
 * from the consumer's start until the last run ended and the history has flushed everything.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Broker } from "../src/broker/broker.js";
import { openBullmqBroker } from "../src/broker/bullmq.js";
import { Registry } from "../src/config/registry.js";
import { createConsumer } from "../src/consumer/consumer.js";
import { newQueuedRun } from "../src/core/queued-run.js";
import { parseBackendUrl, type BackendTarget } from "../src/fleet/backend-url.js";
import { checkBackend } from "../src/fleet/check-backend.js";
import { openFleetHistory } from "../src/store/fleet-history.js";
import { openStore } from "../src/store/open-store.js";
import { withHistory } from "../src/store/with-history.js";
import { task } from "../src/task/task.js";
import { dropNamespace } from "../test/fleet/backends.js";
import { startRedis } from "./redis.js";
import { median, printTable } from "./stats.js";

const ROUNDS = Number(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? 3);
const CONCURRENCY = 50;
const RUNS = { redis: 5_000, postgres: 2_000 };
type Mode = "none" | "local" | "local + history";
const MODES: Mode[] = ["none", "local", "local + history"];
let queues = 0;

async function drain(target: BackendTarget, n: number, mode: Mode): Promise<number> {
  const queueName = `bench${queues++}`;
  const broker: Broker = await openBullmqBroker({ target, queueName });
  const registry = new Registry();
  registry.add(task({ name: "noop" }, async (ctx) => void ctx.log.info("ran")), { file: "bench", exportName: "noop" });
  const dir = mkdtempSync(join(tmpdir(), "fluid-bench-"));
  const local = mode === "none" ? undefined : openStore({ path: join(dir, "fluid.db") });
  const history = mode === "local + history" ? await openFleetHistory(target) : undefined;
  const store = local && history ? withHistory(local, history) : local;
  const since = Date.now();
  try {
    for (let i = 0; i < n; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => broker.enqueue(newQueuedRun({ name: "noop", priority: "high" }, {}))));
    }
    let ended = 0;
    let finish: () => void = () => {};
    const done = new Promise<void>((resolve) => (finish = resolve));
    const consumer = createConsumer({
      registry, broker, store, concurrency: CONCURRENCY, pollMs: 100,
      onEvent: (e) => {
        if (e.type === "end" && ++ended === n) finish();
        if (e.type === "error") console.error(`consumer: ${e.message}`);
      },
    });
    const start = performance.now();
    consumer.start();
    await done;
    store?.flush();
    await history?.flush();
    const rate = n / ((performance.now() - start) / 1000);
    await consumer.drain(1000);
    if (history) {
      const listed = await history.listRuns({ since, limit: Infinity });
      if (listed.length !== n || listed.some((r) => r.state !== "success")) throw new Error(`history has ${listed.length} runs, not ${n} successes`);
    }
    return rate;
  } finally {
    await broker.close();
    await history?.close();
    local?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(target: BackendTarget, n: number): Promise<Record<Mode, number>> {
  for (const mode of MODES) await drain(target, Math.min(n, 500), mode); // warm-up
  const rates: Record<Mode, number[]> = { none: [], local: [], "local + history": [] };
  for (let i = 0; i < ROUNDS; i++) {
    const order = i % 2 === 0 ? MODES : [...MODES].reverse();
    for (const mode of order) rates[mode].push(await drain(target, n, mode));
  }
  for (const mode of MODES) console.error(`${target.kind} ${mode}: ${rates[mode].map(Math.round).join(", ")}`);
  return { none: median(rates.none), local: median(rates.local), "local + history": median(rates["local + history"]) };
}

async function main(): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  const row = (kind: string, n: number, r: Record<Mode, number>) =>
    rows.push([kind, n, Math.round(r.none), Math.round(r.local), Math.round(r["local + history"]), (r["local + history"] / r.local).toFixed(2)]);
  if (!process.argv.includes("--postgres-only")) {
    const redis = await startRedis();
    console.error(redis.note);
    const target = parseBackendUrl(`redis://127.0.0.1:${redis.port}/0`, { prefix: `fluid_bench_${process.pid}` });
    try {
      await checkBackend(target);
      row("redis", RUNS.redis, await measure(target, RUNS.redis));
    } finally {
      await dropNamespace(target);
      await redis.stop();
    }
  }
  if (!process.argv.includes("--redis-only")) {
    const target = parseBackendUrl("postgres://postgres@127.0.0.1:5432/test", { prefix: `fluid_bench_${process.pid}` });
    try {
      await checkBackend(target);
      row("postgres", RUNS.postgres, await measure(target, RUNS.postgres));
    } finally {
      await dropNamespace(target);
    }
  }
  console.log(`No-op runs/s (concurrency ${CONCURRENCY}), drain until the history has flushed, median of ${ROUNDS} rounds`);
  printTable(["backend", "runs", "no recording", "local store", "local store + history", "history / local"], rows);
}

await main();
