/**
 * Finding a run by a prefix of its id in a big store, and upgrading a big store to schema v5.
 *
 *   npx tsx bench/id-lookup.ts [rounds=5] [runs=1000000]    (after `npm run build`)
 *
 * Since schema v5 the store indexes runs by the id rotated left by 8 characters (`id_key`,
 * time first), so a prefix of the 8 random characters people see is found by a scan of that
 * index. This measures, on a project whose store holds `runs` runs (50 tasks, ids made by
 * `newRunId`, written in one transaction straight into the store's tables):
 * - `fluid show <id>` as a user types it, wall and CPU time of the whole command (a process of
 *   the built CLI; CPU time is what a loaded machine distorts least), median of `rounds`: the full id (one index seek: the floor of the command
 *   here), its first 8 characters, its first 12 (a range of the index), and 4 characters
 *   matching several runs (the ambiguity error);
 * - the same lookups inside one process (`getRun` on an open store), wall and CPU, median of `rounds`;
 * - opening a store of `runs` runs written by schema v4 (ids of 20 random hex characters),
 *   which rebuilds `runs` and `queue` (migration v5), wall time of one open.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { newRunId } from "../src/core/run-id.js";
import { openStore } from "../src/store/index.js";
import { median, printTable } from "./stats.js";

const ARGS = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const ROUNDS = Number(ARGS[0] ?? 5);
const RUNS = Number(ARGS[1] ?? 1_000_000);
const TASKS = 50;
const ROOT = join(fileURLToPath(import.meta.url), "..", "..");

function project(): string {
  const dir = mkdtempSync(join(tmpdir(), "fluid-bench-ids-"));
  mkdirSync(join(dir, "tasks"));
  mkdirSync(join(dir, "node_modules"));
  writeFileSync(join(dir, "package.json"), '{"type":"module"}');
  for (const [name, target] of [["fluid-tasks", ROOT], ["zod", join(ROOT, "node_modules", "zod")]] as const) symlinkSync(target, join(dir, "node_modules", name));
  writeFileSync(join(dir, "fluid.config.ts"), `import { defineConfig } from "fluid-tasks";
export default defineConfig({ tasks: ["./tasks/*.ts"], store: { retention: { days: 3650, perTask: 10000000 } } });\n`);
  writeFileSync(join(dir, "tasks", "t.ts"), `import { task } from "fluid-tasks";\nexport const t = task({ name: "task0" }, async () => 1);\n`);
  return dir;
}

const COLUMNS = `id, attempt, max_attempts, task, state, trigger, params, result, error, at, queued_at,
  started_at, ended_at, duration_ms, from_run_id, root_run_id, host, pid, exit_code`;

/** Writes `ids.length` runs straight into the `runs` table of `db`, in one transaction. */
function fillRuns(db: Database.Database, ids: readonly string[]): void {
  const insert = db.prepare(`INSERT INTO runs (${COLUMNS}) VALUES (?, 1, 1, ?, 'success', 'schedule', '{}', '1', NULL, ?, ?, ?, ?, 17, NULL, NULL, 'bench', 1, NULL)`);
  const t0 = Date.now() - ids.length * 2000;
  db.transaction(() => {
    ids.forEach((id, i) => {
      const at = t0 + i * 2000;
      insert.run(id, `task${i % TASKS}`, at, at, at + 3, at + 20);
    });
  })();
}

/** The v4 tables the migration rebuilds (runs and queue), as schema v4 made them. */
const V4_TABLES = `
  CREATE TABLE runs (id TEXT NOT NULL, attempt INTEGER NOT NULL, max_attempts INTEGER NOT NULL, task TEXT NOT NULL,
    state TEXT NOT NULL, trigger TEXT NOT NULL, params TEXT, result TEXT, error TEXT, at INTEGER NOT NULL,
    queued_at INTEGER, started_at INTEGER, ended_at INTEGER, duration_ms INTEGER, from_run_id TEXT, root_run_id TEXT,
    host TEXT NOT NULL, pid INTEGER NOT NULL, exit_code INTEGER, PRIMARY KEY (id, attempt));
  CREATE INDEX runs_task_at ON runs (task, at);
  CREATE INDEX runs_state_at ON runs (state, at);
  CREATE INDEX runs_at ON runs (at);
  CREATE INDEX runs_from ON runs (from_run_id) WHERE from_run_id IS NOT NULL;
  CREATE TABLE logs (id TEXT NOT NULL, attempt INTEGER NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
    level TEXT NOT NULL, message TEXT NOT NULL, PRIMARY KEY (id, attempt, seq));
  CREATE TABLE task_state (task TEXT PRIMARY KEY, enabled INTEGER NOT NULL, reason TEXT, changed_at INTEGER NOT NULL);
  CREATE TABLE schedule_state (task TEXT PRIMARY KEY, last_fire INTEGER NOT NULL);
  CREATE TABLE log_counts (id TEXT NOT NULL, attempt INTEGER NOT NULL, lines INTEGER NOT NULL, dropped INTEGER NOT NULL DEFAULT 0,
    dropped_ts INTEGER, dropped_bytes INTEGER, PRIMARY KEY (id, attempt));
  CREATE TABLE queue (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, task TEXT NOT NULL, params TEXT NOT NULL,
    priority INTEGER NOT NULL, attempt INTEGER NOT NULL, trigger TEXT NOT NULL, run_after INTEGER NOT NULL,
    queued_at INTEGER NOT NULL, from_run_id TEXT, root_run_id TEXT, scheduled_at INTEGER, claimed_by TEXT,
    claimed_at INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0);
  CREATE INDEX queue_due ON queue (priority, run_after) WHERE claimed_by IS NULL;
  CREATE INDEX queue_task ON queue (task, priority, run_after);
  CREATE INDEX queue_claimed ON queue (claimed_by) WHERE claimed_by IS NOT NULL;
  PRAGMA user_version = 4;`;

function oldRandomId(): string {
  let id = "";
  while (id.length < 20) id += Math.floor(Math.random() * 0x1_0000_0000).toString(16).padStart(8, "0");
  return id.slice(0, 20);
}

function ms(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

function main(): void {
  const dir = project();
  try {
    const storePath = join(dir, ".fluid", "fluid.db");
    openStore({ path: storePath }).close(); // schema and indexes as the daemon makes them
    const ids = Array.from({ length: RUNS }, newRunId);
    // Three ids sharing their first 4 characters, for the ambiguity error.
    const shared = ids[0]!.slice(0, 4);
    for (const i of [1, 2]) ids[i] = shared + ids[i]!.slice(4);
    let db = new Database(storePath);
    db.pragma("synchronous = OFF");
    const fillMs = ms(() => fillRuns(db, ids));
    db.close();
    const target = ids[Math.floor(RUNS / 2)]!;
    console.log(`${RUNS.toLocaleString("en-US")} runs written in ${(fillMs / 1000).toFixed(1)} s; looking up ${target}`);

    const cli = join(ROOT, "bin", "fluid.js");
    // The CLI process reports its own CPU time at exit (wall time swings with the machine's load).
    const preload = join(dir, "cpu.cjs");
    writeFileSync(preload, `process.on("exit", () => { const u = process.cpuUsage(); process.stderr.write("\\nCPU " + (u.user + u.system) / 1000 + "\\n"); });\n`);
    const show = (arg: string, ok: boolean): [number, number] => {
      const start = performance.now();
      const r = spawnSync(process.execPath, ["--require", preload, cli, "show", arg, "--json"], { cwd: dir, encoding: "utf8" });
      const wall = performance.now() - start;
      if ((r.status === 0) !== ok) throw new Error(`fluid show ${arg}: exit ${r.status}: ${r.stderr}`);
      return [wall, Number(/\nCPU ([\d.]+)\n/.exec(r.stderr)?.[1])];
    };
    const lookups: Array<[string, string, boolean]> = [
      ["full id (index seek)", target, true],
      ["first 8 characters (scan)", target.slice(0, 8), true],
      ["first 12 characters (range)", target.slice(0, 12), true],
      ["4 characters of 3 runs (ambiguous)", shared, false],
    ];
    const cliRows = lookups.map(([what, arg, ok]) => {
      show(arg, ok); // warm-up: the file in the page cache
      const runs = Array.from({ length: ROUNDS }, () => show(arg, ok));
      return [what, `${median(runs.map((r) => r[0])).toFixed(0)} ms`, `${median(runs.map((r) => r[1])).toFixed(0)} ms`];
    });
    const store = openStore({ path: storePath, readonly: true });
    const inProcess = lookups.map(([what, arg, ok]) => {
      const get = (): [number, number] => {
        const cpu = process.cpuUsage();
        const wall = ms(() => {
          try {
            store.getRun(arg);
            if (!ok) throw new Error("not ambiguous");
          } catch (error) {
            if (ok) throw error;
          }
        });
        const used = process.cpuUsage(cpu);
        return [wall, (used.user + used.system) / 1000];
      };
      get();
      const runs = Array.from({ length: ROUNDS }, get);
      return [what, `${median(runs.map((r) => r[0])).toFixed(1)} ms`, `${median(runs.map((r) => r[1])).toFixed(1)} ms`];
    });
    store.close();

    const oldPath = join(dir, "v4.db");
    db = new Database(oldPath);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = OFF");
    db.exec(V4_TABLES);
    fillRuns(db, Array.from({ length: RUNS }, oldRandomId));
    db.close();
    const migrateMs = ms(() => openStore({ path: oldPath }).close());

    console.log(`\nfluid show, whole command (median of ${ROUNDS})\n`);
    printTable(["id given", "wall", "CPU"], cliRows);
    console.log(`\ngetRun in one process (median of ${ROUNDS})\n`);
    printTable(["id given", "wall", "CPU"], inProcess);
    console.log(`\nopening a v4 store of ${RUNS.toLocaleString("en-US")} runs (migration v5, rebuilds runs and queue): ${(migrateMs / 1000).toFixed(1)} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
