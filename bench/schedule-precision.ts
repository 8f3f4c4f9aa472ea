/**
 * Timer precision of the scheduler next to croner: how late a fire reaches its callback.
 *
 *   npx tsx bench/schedule-precision.ts [rounds=3] [seconds=10] [jobs=1000]
 *
 * - ours: one scheduler with `jobs` every("1s") schedules; lateness = (time onFire is called)
 *   - fire.scheduledAt.
 * - croner: `jobs` jobs `new Cron("* * * * * *", fn)`; lateness = (time fn is called) - the
 *   second boundary it fired for (croner never fires early; a fire over 1 s late would be
 *   counted against the next boundary, so croner's max is if anything understated).
 *
 * Each side runs for `seconds` seconds in its own child process (the two children run one
 * after the other, never at once; the order alternates between rounds), so neither inherits
 * the other's heap or JIT state. Both start half a second past a second boundary. The time of
 * a callback is read from a high-resolution wall clock: performance.now() plus an offset
 * taken at Date.now() millisecond edges. The table shows medians over the rounds; the
 * per-round figures are printed above it. `early` counts fires whose Date.now() was before
 * their due instant (must be 0 for ours); `cpu` is the child's CPU time per second of run.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Cron } from "croner";
import { every } from "../src/schedule/every.js";
import { createScheduler, type ScheduleEntry } from "../src/schedule/timer.js";
import { median, percentile, printTable } from "./stats.js";

type Side = "ours" | "croner";

interface Result {
  side: Side;
  fires: number;
  early: number;
  p50: number;
  p99: number;
  max: number;
  cpuMsPerSec: number;
}

const args = process.argv.slice(2);
if (args[0] === "--child") {
  const [, side, seconds, jobs] = args;
  const result = await child(side as Side, Number(seconds), Number(jobs));
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  parent(Number(args[0] ?? 3), Number(args[1] ?? 10), Number(args[2] ?? 1000));
}

function parent(rounds: number, seconds: number, jobs: number): void {
  console.log(`${jobs} schedules firing every second for ${seconds} s, ${rounds} round(s), each side in its own child process, one after the other\n`);
  const results: Record<Side, Result[]> = { ours: [], croner: [] };
  const rows: Array<Array<string | number>> = [];
  for (let round = 1; round <= rounds; round++) {
    const order: Side[] = round % 2 === 1 ? ["ours", "croner"] : ["croner", "ours"];
    for (const side of order) {
      const r = runChild(side, seconds, jobs);
      results[side].push(r);
      rows.push([round, side, r.fires, r.early, fmt(r.p50), fmt(r.p99), fmt(r.max), fmt(r.cpuMsPerSec)]);
    }
  }
  printTable(["round", "side", "fires", "early", "p50 ms", "p99 ms", "max ms", "cpu ms/s"], rows);
  console.log("");
  const med = (side: Side, key: "p50" | "p99" | "max"): number => median(results[side].map((r) => r[key]));
  printTable(
    ["lateness (median of rounds)", "ours", "croner", "croner / ours"],
    (["p50", "p99", "max"] as const).map((key) => {
      const ours = med("ours", key);
      const croner = med("croner", key);
      return [`${key} ms`, fmt(ours), fmt(croner), ours > 0 ? `${(croner / ours).toFixed(1)}x` : "-"];
    }),
  );
  const oursP99 = med("ours", "p99");
  const oursMax = med("ours", "max");
  const early = results.ours.reduce((sum, r) => sum + r.early, 0);
  console.log(`\ntargets: ours p99 <= 5 ms (${oursP99 <= 5 ? "met" : "MISSED"}), max <= 20 ms (${oursMax <= 20 ? "met" : "MISSED"}), never early (${early === 0 ? "met" : `MISSED: ${early}`})`);
}

function runChild(side: Side, seconds: number, jobs: number): Result {
  const script = fileURLToPath(import.meta.url);
  // process.execArgv carries tsx's loader flags, so the child can run this .ts file too.
  const r = spawnSync(process.execPath, [...process.execArgv, script, "--child", side, String(seconds), String(jobs)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (r.status !== 0) throw new Error(`${side} child exited ${r.status}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Result;
}

async function child(side: Side, seconds: number, jobs: number): Promise<Result> {
  const clock = hiResWallClock();
  const lateness = new Float64Array(jobs * (seconds + 2));
  let n = 0;
  let early = 0;
  const record = (due: number): void => {
    const t = clock();
    if (Date.now() < due) early++;
    if (n < lateness.length) lateness[n++] = t - due;
  };
  // Start half a second past a boundary: the first fire is a whole second away.
  const start = Math.ceil(Date.now() / 1000) * 1000 + 500;
  await sleep(start - Date.now());
  const cpu = process.cpuUsage();
  let stop: () => void;
  if (side === "ours") {
    const entries: ScheduleEntry[] = Array.from({ length: jobs }, (_, i) => ({
      task: `t${i}`,
      schedule: every("1s"),
      catchUp: { mode: "skip" },
    }));
    const scheduler = createScheduler({ entries, onFire: (fire) => record(fire.scheduledAt) });
    scheduler.start();
    stop = () => scheduler.stop();
  } else {
    const crons = Array.from({ length: jobs }, () => new Cron("* * * * * *", () => record(Math.floor(Date.now() / 1000) * 1000)));
    stop = () => {
      for (const c of crons) c.stop();
    };
  }
  await sleep(start + seconds * 1000 - Date.now());
  stop();
  const used = process.cpuUsage(cpu);
  const values = Array.from(lateness.subarray(0, n));
  return {
    side,
    fires: n,
    early,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: Math.max(...values),
    cpuMsPerSec: (used.user + used.system) / 1000 / seconds,
  };
}

/**
 * Wall-clock milliseconds with sub-millisecond resolution: performance.now() plus the offset
 * seen at Date.now() millisecond edges. An edge is noticed a little after it happens (much
 * later while the loop is still cold), which makes the offset too small, so the largest of 20
 * is kept: then the clock agrees with Date.now() to a few microseconds.
 */
function hiResWallClock(): () => number {
  let offset = -Infinity;
  for (let i = 0; i < 20; i++) {
    const first = Date.now();
    let edge = first;
    while (edge === first) edge = Date.now();
    offset = Math.max(offset, edge - performance.now());
  }
  return () => performance.now() + offset;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function fmt(ms: number): string {
  return ms.toFixed(2);
}
