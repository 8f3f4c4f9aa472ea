/**
 * Cost of recording runs in the run store, next to the limit: the same rows inserted with raw
 * better-sqlite3 into the same schema in one transaction.
 *
 *   npx tsx bench/store.ts [runs=50000] [rounds=5]
 *
 * A "run" is what the consumer records for a short task: writeAttempt(running),
 * writeAttempt(success) and appendLogs(1 line). Two ways of calling the store are measured:
 * - same tick: the three calls back to back, so `running` is replaced in the buffer by
 *   `success` before it is written (the case of a task shorter than a tick);
 * - across ticks: `running` for a batch of runs, a turn of the event loop (which flushes it),
 *   then `success` and the log line, so every run costs two upserts (a longer task).
 * The raw limit writes one runs row and one logs row per run. Every round uses a new file
 * (WAL, synchronous = NORMAL, as the store sets); the figures are medians of the rounds,
 * after one unmeasured warm-up round.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as tick } from "node:timers/promises";
import Database from "better-sqlite3";
import { openStore, type RunRecord } from "../src/store/index.js";

const RUNS = Number(process.argv[2] ?? 50_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const TICK_BATCH = 100;
const HOST = hostname();

const dir = mkdtempSync(join(tmpdir(), "fluid-bench-store-"));
let files = 0;
const newPath = (): string => join(dir, `runs-${files++}.db`);

function record(i: number, state: "running" | "success", now: number): RunRecord {
  const rec: RunRecord = {
    id: `run-${i.toString().padStart(8, "0")}`,
    attempt: 1,
    maxAttempts: 1,
    task: `task_${i % 10}`,
    state,
    trigger: "queue",
    params: { name: "bob", count: i },
    queuedAt: now,
    startedAt: now,
    host: HOST,
    pid: process.pid,
  };
  if (state === "success") {
    rec.result = { ok: true };
    rec.endedAt = now + 1;
    rec.durationMs = 1;
  }
  return rec;
}

/** Seconds to record `runs` runs with all three calls in the same tick, flush included. */
function storeSameTick(runs: number): number {
  const store = openStore({ path: newPath() });
  const start = performance.now();
  for (let i = 0; i < runs; i++) {
    const now = Date.now();
    store.writeAttempt(record(i, "running", now));
    store.writeAttempt(record(i, "success", now));
    store.appendLogs(record(i, "running", now).id, 1, [{ ts: now, level: "info", message: `hello ${i}` }]);
  }
  store.flush();
  const seconds = (performance.now() - start) / 1000;
  store.close();
  return seconds;
}

/** Seconds to record `runs` runs with `running` and `success` in different ticks, flush included. */
async function storeAcrossTicks(runs: number): Promise<number> {
  const store = openStore({ path: newPath() });
  const start = performance.now();
  for (let first = 0; first < runs; first += TICK_BATCH) {
    const last = Math.min(runs, first + TICK_BATCH);
    const now = Date.now();
    for (let i = first; i < last; i++) store.writeAttempt(record(i, "running", now));
    await tick(); // the store's own setImmediate flush writes the `running` rows
    for (let i = first; i < last; i++) {
      store.writeAttempt(record(i, "success", now));
      store.appendLogs(record(i, "running", now).id, 1, [{ ts: now, level: "info", message: `hello ${i}` }]);
    }
    await tick();
  }
  store.flush();
  const seconds = (performance.now() - start) / 1000;
  store.close();
  return seconds;
}

/** Seconds to insert the same final rows (one run row, one log row per run) with raw better-sqlite3 in one transaction. */
function raw(runs: number): number {
  const path = newPath();
  openStore({ path }).close(); // the same schema and indexes as the store
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  const insertRun = db.prepare(
    `INSERT INTO runs (id, attempt, max_attempts, task, state, trigger, params, result, error, at, queued_at,
       started_at, ended_at, duration_ms, from_run_id, root_run_id, host, pid, exit_code)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertLog = db.prepare("INSERT INTO logs (id, attempt, seq, ts, level, message) VALUES (?, ?, ?, ?, ?, ?)");
  const start = performance.now();
  db.transaction(() => {
    for (let i = 0; i < runs; i++) {
      const now = Date.now();
      const r = record(i, "success", now);
      insertRun.run(r.id, r.attempt, r.maxAttempts, r.task, r.state, r.trigger, JSON.stringify(r.params), JSON.stringify(r.result),
        null, now, r.queuedAt, r.startedAt, r.endedAt, r.durationMs, null, null, r.host, r.pid, null);
      insertLog.run(r.id, 1, 0, now, "info", `hello ${i}`);
    }
  })();
  const seconds = (performance.now() - start) / 1000;
  db.close();
  return seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const times = { same: [] as number[], ticks: [] as number[], raw: [] as number[] };
  // Warm-up: JIT and page cache, not measured.
  storeSameTick(Math.min(RUNS, 5000));
  await storeAcrossTicks(Math.min(RUNS, 5000));
  raw(Math.min(RUNS, 5000));
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order so neither side always runs on a warmer machine.
    if (round % 2 === 0) {
      times.raw.push(raw(RUNS));
      times.same.push(storeSameTick(RUNS));
      times.ticks.push(await storeAcrossTicks(RUNS));
    } else {
      times.ticks.push(await storeAcrossTicks(RUNS));
      times.same.push(storeSameTick(RUNS));
      times.raw.push(raw(RUNS));
    }
  }
  const rawSeconds = median(times.raw);
  const rows = [
    ["fluid store, same tick", median(times.same)],
    ["fluid store, across ticks", median(times.ticks)],
    ["raw better-sqlite3 (limit)", rawSeconds],
  ] as const;
  const sqlite = (new Database(":memory:").prepare("SELECT sqlite_version() AS v").get() as { v: string }).v;
  const driver = (createRequire(import.meta.url)("better-sqlite3/package.json") as { version: string }).version;
  console.log(`run store: ${RUNS} runs per round, median of ${ROUNDS} rounds; node ${process.version}, better-sqlite3 ${driver}, SQLite ${sqlite}`);
  console.log("| recorder                   |    runs/s | µs/run | time vs raw |");
  console.log("|----------------------------|----------:|-------:|------------:|");
  for (const [name, seconds] of rows) {
    const perSecond = Math.round(RUNS / seconds).toLocaleString("en-US");
    const micros = ((seconds / RUNS) * 1e6).toFixed(1);
    const ratio = `${(seconds / rawSeconds).toFixed(2)}x`;
    console.log(`| ${name.padEnd(26)} | ${perSecond.padStart(9)} | ${micros.padStart(6)} | ${ratio.padStart(11)} |`);
  }
}

try {
  await main();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
