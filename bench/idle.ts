/**
 * What an idle `fluid serve` costs: CPU time, wake-ups and memory when nothing is due.
 *
 *   npx tsx bench/idle.ts [--window 60] [--settle 20] [--rounds 1] [--baseline <checkout>]
 *
 * Three generated projects, each served by the real `bin/fluid.js serve` in its own process,
 * one after the other (never two daemons at once on the 2-core machines this runs on):
 * - "one task": one task, no schedule;
 * - "every 1m": one task with an every("1m") schedule;
 * - "1,000 crons": 1,000 tasks, each with a daily cron schedule ("0 3 * * *"), none due.
 * After the daemon prints "started" and a settle pause (default 20 s: start-up work, then V8's
 * memory reducer, which runs a few garbage collections over the first seconds after start-up
 * allocations stop; `--settle 0` includes them), the bench reads, at the start and the end of a window (default 60 s):
 * - CPU time: the sum over the daemon's threads of /proc/<pid>/task/<tid>/schedstat (ns on
 *   the CPU), or utime + stime of /proc/<pid>/stat where schedstat is missing;
 * - wake-ups: voluntary context switches (the thread went to sleep, to be woken later), summed
 *   over the daemon's threads from /proc/<pid>/task/<tid>/status. A thread that exits during
 *   the window takes its counts with it (an idle daemon starts none);
 * - RSS: VmRSS of /proc/<pid>/status at the end of the window.
 * A 60 s window of the every("1m") project holds one fire and its run: that is the cost of
 * such a project, and the `runs` column shows it.
 *
 * `--baseline <checkout>` measures another checkout of fluid-tasks (its bin/fluid.js, with
 * its dist/ built) on the same projects in the same run, e.g. the release before the idle
 * work, and prints both side by side with the ratio ours / baseline.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { median, printTable } from "./stats.js";

const ROOT = resolve(import.meta.dirname, "..");

interface Args {
  windowS: number;
  rounds: number;
  settleS: number;
  baseline: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { windowS: 60, rounds: 1, settleS: 20, baseline: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--window") out.windowS = Number(value());
    else if (arg === "--rounds") out.rounds = Number(value());
    else if (arg === "--settle") out.settleS = Number(value());
    else if (arg === "--baseline") out.baseline = resolve(value());
    else throw new Error(`unknown argument ${arg}; usage: npx tsx bench/idle.ts [--window 60] [--settle 20] [--rounds 1] [--baseline <checkout>]`);
  }
  if (!(out.windowS > 0) || !(out.rounds >= 1) || !(out.settleS >= 0)) throw new Error("--window, --rounds and --settle must be positive numbers");
  return out;
}

const CONFIG = `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"] });\n`;

/** The three projects: name -> task module source. */
function projects(): Array<{ name: string; tasks: string }> {
  const head = `import { task, every, cron } from "fluid-tasks";\n`;
  const crons = Array.from({ length: 1000 }, (_, i) => `export const daily_${i} = task({ schedule: cron("0 3 * * *") }, async () => {});`);
  return [
    { name: "one task", tasks: `${head}export const hello = task({}, async () => "hi");\n` },
    { name: "every 1m", tasks: `${head}export const minutely = task({ schedule: every("1m") }, async () => {});\n` },
    { name: "1,000 crons", tasks: `${head}${crons.join("\n")}\n` },
  ];
}

/** Writes a project whose `fluid-tasks` is the checkout at `root`. */
function makeProject(root: string, tasks: string): string {
  const dir = mkdtempSync(join(tmpdir(), "fluid-bench-idle-"));
  mkdirSync(join(dir, "node_modules"));
  mkdirSync(join(dir, "tasks"));
  symlinkSync(join(ROOT, "node_modules", "zod"), join(dir, "node_modules", "zod"), "dir");
  symlinkSync(root, join(dir, "node_modules", "fluid-tasks"), "dir");
  writeFileSync(join(dir, "fluid.config.ts"), CONFIG);
  writeFileSync(join(dir, "tasks", "t.ts"), tasks);
  return dir;
}

/** CPU ns, voluntary context switches, over all threads of `pid`. */
function sample(pid: number): { cpuNs: number; wakes: number } {
  let cpuNs = 0;
  let wakes = 0;
  let schedstat = true;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
      wakes += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
      if (schedstat) cpuNs += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT" && String((error as Error).message).includes("schedstat")) schedstat = false;
      // else: the thread exited between the listing and the read
    }
  }
  if (!schedstat) {
    // utime and stime, fields 14 and 15, in clock ticks (100 a second on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    cpuNs = (Number(fields[11]) + Number(fields[12])) * 1e7;
  }
  return { cpuNs, wakes };
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

interface Figures {
  cpuPct: number;
  wakesPerS: number;
  rssMb: number;
  runs: number;
}

/** Starts `fluid serve` of the checkout at `root` in `dir`; resolves once it says "started". */
async function startServe(root: string, dir: string): Promise<{ child: ChildProcess; runs: () => number }> {
  const child = spawn(process.execPath, [join(root, "bin", "fluid.js"), "serve", "--log-format", "json"], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: "1", FLUID_CONFIG: "" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let text = "";
  let runs = 0;
  await new Promise<void>((resolveStart, reject) => {
    const timeout = setTimeout(() => reject(new Error(`fluid serve did not start within 120 s in ${dir}:\n${text}`)), 120_000);
    child.stderr!.on("data", (chunk: Buffer) => {
      const s = chunk.toString();
      if (text.length < 100_000) text += s;
      runs += s.split('"event":"run-start"').length - 1;
      if (text.includes('"event":"started"')) {
        clearTimeout(timeout);
        resolveStart();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timeout);
      reject(new Error(`fluid serve exited ${code} before it started:\n${text}`));
    });
  });
  return { child, runs: () => runs };
}

async function stopServe(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

async function measure(root: string, tasks: string, a: Args): Promise<Figures> {
  const dir = makeProject(root, tasks);
  try {
    const { child, runs } = await startServe(root, dir);
    try {
      await sleep(a.settleS * 1000);
      const pid = child.pid!;
      const runsBefore = runs();
      const before = sample(pid);
      const t0 = performance.now();
      await sleep(a.windowS * 1000);
      const after = sample(pid);
      const seconds = (performance.now() - t0) / 1000;
      return {
        cpuPct: ((after.cpuNs - before.cpuNs) / 1e9 / seconds) * 100,
        wakesPerS: (after.wakes - before.wakes) / seconds,
        rssMb: rssMb(pid),
        runs: runs() - runsBefore,
      };
    } finally {
      await stopServe(child);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const sides: Array<{ label: string; root: string }> = [{ label: "ours", root: ROOT }];
  if (a.baseline) sides.push({ label: "baseline", root: a.baseline });
  const rows: Array<Array<string>> = [];
  for (const p of projects()) {
    const per = new Map<string, Figures[]>();
    for (let r = 0; r < a.rounds; r++) {
      // Alternate the order between rounds, so neither side always runs on a warmer machine.
      const order = r % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        const f = await measure(side.root, p.tasks, a);
        console.error(`${p.name} ${side.label} round ${r + 1}: cpu ${f.cpuPct.toFixed(3)}%, ${f.wakesPerS.toFixed(2)} wake-ups/s, RSS ${f.rssMb.toFixed(0)} MB, ${f.runs} runs`);
        per.set(side.label, [...(per.get(side.label) ?? []), f]);
      }
    }
    const med = (label: string): Figures => {
      const list = per.get(label)!;
      return {
        cpuPct: median(list.map((f) => f.cpuPct)),
        wakesPerS: median(list.map((f) => f.wakesPerS)),
        rssMb: median(list.map((f) => f.rssMb)),
        runs: median(list.map((f) => f.runs)),
      };
    };
    const ours = med("ours");
    const row = [p.name, `${ours.cpuPct.toFixed(3)}%`, ours.wakesPerS.toFixed(2), `${ours.rssMb.toFixed(0)} MB`];
    if (a.baseline) {
      const base = med("baseline");
      row.push(`${base.cpuPct.toFixed(3)}%`, base.wakesPerS.toFixed(2), `${base.rssMb.toFixed(0)} MB`, `${(ours.cpuPct / base.cpuPct).toFixed(3)}x`);
    }
    row.push(String(ours.runs));
    rows.push(row);
  }
  console.log(`\nidle fluid serve: window ${a.windowS} s after a ${a.settleS} s settle, median of ${a.rounds} round(s); cpu = % of one core, wake-ups = voluntary context switches/s over all threads`);
  if (a.baseline) console.log("baseline: another checkout measured in the same run; ratio = our cpu / baseline cpu (lower is better)\n");
  const headers = ["project", "cpu", "wake-ups/s", "RSS"];
  if (a.baseline) headers.push("baseline cpu", "baseline wake-ups/s", "baseline RSS", "cpu ratio");
  headers.push("runs in window");
  printTable(headers, rows);
}

await main();
