/**
 * Many `fluid queue` processes started at once, next to one alone: what serialises producers
 * sharing one store file. (Issue 9 measured 23 s for 50 at once where one alone took 0.44 s.)
 *
 *   npx tsx bench/queue-burst.ts [processes=50] [rounds=3]
 *
 * A throwaway project with one task; the store, the compile cache and the code cache are warm
 * (two unmeasured runs). "one alone" is the median wall time of 5 sequential runs; a burst
 * starts `processes` at once and measures the wall time until the last exits (median of the
 * rounds). Each process runs under /usr/bin/time (when present), so the table also gives the
 * CPU the burst needed: the CPU floor is that sum divided by the cores, the time the burst
 * would take with no waiting at all. The peer, measured in the same run, is the same burst of
 * `fluid ls` (same start-up, reads the store, takes no write lock): a queue burst close to it
 * is bound by CPU, not by the store. Run on a quiet machine: every figure is wall time.
 *
 * What serialised the bursts: SQLite's busy handler. Waiting for the write lock, it sleeps
 * 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, then 100 ms between tries, so with 50 writers most
 * slept while the lock stood free (and each `fluid queue` took the lock twice: the queue row,
 * then the record). Now one transaction per enqueue, and `withWriteLock` (src/store/write-lock.ts)
 * retries in 0.25-4 ms naps. On a machine with few cores a burst is bound by CPU either way, and
 * the sleeps hide behind it; so when strace is installed, one more burst runs under it and the
 * table counts the sleeps of SQLite's busy handler (nanosleeps of 1 ms or more) and their sum:
 * on many cores that sum is on the critical path.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { median, printTable } from "./stats.js";

const PROCESSES = Number(process.argv[2] ?? 50);
const ROUNDS = Number(process.argv[3] ?? 3);
const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "bin", "fluid.js");
const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

const dir = mkdtempSync(join(tmpdir(), "fluid-bench-burst-"));
mkdirSync(join(dir, "node_modules"));
mkdirSync(join(dir, "tasks"));
symlinkSync(join(ROOT, "node_modules", "zod"), join(dir, "node_modules", "zod"), "dir");
symlinkSync(ROOT, join(dir, "node_modules", "fluid-tasks"), "dir");
writeFileSync(join(dir, "fluid.config.ts"), `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"] });\n`);
writeFileSync(join(dir, "tasks", "t.ts"), `import { task } from "fluid-tasks";\nexport const quick = task({}, async () => 1);\n`);
const env = { ...process.env, NO_COLOR: "1", FLUID_CONFIG: "" };

interface Result {
  wallMs: number;
  cpuMs: number;
}

/** One `fluid <command>` (default `queue quick`), resolving with its wall time and (with /usr/bin/time) its CPU time. */
function queueOnce(command: string[] = ["queue", "quick"]): Promise<Result> {
  const cmd = TIME ?? process.execPath;
  const args = TIME ? ["-f", "cpu %U %S", process.execPath, BIN, ...command] : [BIN, ...command];
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: dir, env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const wallMs = performance.now() - start;
      if (code !== 0) return reject(new Error(`fluid ${command.join(" ")} exited ${code}: ${stderr}`));
      const m = /cpu ([\d.]+) ([\d.]+)/.exec(stderr);
      resolve({ wallMs, cpuMs: m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN });
    });
  });
}

async function burst(n: number, command?: string[]): Promise<{ wallMs: number; cpuMs: number; perProcessMs: number }> {
  const start = performance.now();
  const results = await Promise.all(Array.from({ length: n }, () => queueOnce(command)));
  return {
    wallMs: performance.now() - start,
    cpuMs: results.reduce((s, r) => s + r.cpuMs, 0),
    perProcessMs: median(results.map((r) => r.wallMs)),
  };
}

const STRACE = ["/usr/bin/strace", "/bin/strace"].find((p) => existsSync(p));

/** A burst under strace: how many nanosleeps of 1 ms or more (SQLite's busy handler) its processes made, and their sum in ms. */
async function busySleeps(n: number): Promise<{ count: number; ms: number } | undefined> {
  if (!STRACE) return undefined;
  const outs = Array.from({ length: n }, (_, i) => join(dir, `strace-${i}.txt`));
  await Promise.all(outs.map((out) => new Promise<void>((resolve) => {
    const child = spawn(STRACE, ["-f", "-e", "trace=nanosleep,clock_nanosleep", "-o", out, process.execPath, BIN, "queue", "quick"], { cwd: dir, env, stdio: "ignore" });
    child.on("close", () => resolve());
    child.on("error", () => resolve());
  })));
  let count = 0;
  let ms = 0;
  for (const out of outs) {
    if (!existsSync(out)) return undefined;
    for (const m of readFileSync(out, "utf8").matchAll(/tv_sec=(\d+), tv_nsec=(\d+)/g)) {
      const sleep = Number(m[1]) * 1000 + Number(m[2]) / 1e6;
      if (sleep >= 1) {
        count++;
        ms += sleep;
      }
    }
  }
  return { count, ms };
}

try {
  spawnSync(process.execPath, [BIN, "queue", "quick"], { cwd: dir, env });
  spawnSync(process.execPath, [BIN, "queue", "quick"], { cwd: dir, env });
  const alone: Result[] = [];
  for (let i = 0; i < 5; i++) alone.push(await queueOnce());
  const bursts = [];
  const peers = [];
  // Interleaved, so both see the same machine.
  for (let i = 0; i < ROUNDS; i++) {
    bursts.push(await burst(PROCESSES));
    peers.push(await burst(PROCESSES, ["ls"]));
  }
  const oneMs = median(alone.map((r) => r.wallMs));
  const oneCpu = median(alone.map((r) => r.cpuMs));
  const wallMs = median(bursts.map((b) => b.wallMs));
  const cpuMs = median(bursts.map((b) => b.cpuMs));
  const cores = availableParallelism();
  const floorMs = cpuMs / cores;
  const s = (ms: number): string => (Number.isNaN(ms) ? "n/a" : `${(ms / 1000).toFixed(2)} s`);
  console.log(`${PROCESSES} \`fluid queue\` at once vs one alone; median of ${ROUNDS} bursts, ${cores} cores, node ${process.version}`);
  printTable(
    ["case", "wall", "per process (median)", "CPU (sum)", "wall vs one alone"],
    [
      ["one alone", s(oneMs), s(oneMs), s(oneCpu), "1.00x"],
      [`${PROCESSES} at once`, s(wallMs), s(median(bursts.map((b) => b.perProcessMs))), s(cpuMs), `${(wallMs / oneMs).toFixed(2)}x`],
      [`CPU floor (CPU / ${cores} cores)`, s(floorMs), "", "", `${(floorMs / oneMs).toFixed(2)}x`],
      [`peer: ${PROCESSES} \`fluid ls\` at once`, s(median(peers.map((b) => b.wallMs))), s(median(peers.map((b) => b.perProcessMs))), s(median(peers.map((b) => b.cpuMs))), `${(median(peers.map((b) => b.wallMs)) / oneMs).toFixed(2)}x`],
    ],
  );
  console.log(`queue burst vs ls burst (same run): ${(wallMs / median(peers.map((b) => b.wallMs))).toFixed(2)}x`);
  const sleeps = await busySleeps(PROCESSES);
  if (sleeps) console.log(`busy-handler sleeps in one burst under strace: ${sleeps.count} sleeps of >= 1 ms, ${s(sleeps.ms)} in all`);
  console.log(`waiting beyond the CPU floor: ${s(Math.max(0, wallMs - floorMs))} (${((Math.max(0, wallMs - floorMs) / wallMs) * 100).toFixed(0)}% of the burst)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
