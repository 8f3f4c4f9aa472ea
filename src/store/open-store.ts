import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type Database from "better-sqlite3";
import { openDatabase } from "../persistence/open-database.js";
import type { ErrorInfo } from "../core/errors.js";
import { StoreError } from "../core/errors.js";
import type { LogLine } from "../core/types.js";
import { printStoreError } from "../persistence/outage.js";
import { prepareStoreFile } from "../persistence/store-file.js";
import { setWal, WalTrimmer } from "../persistence/wal.js";
import { withWriteLock } from "../persistence/write-lock.js";
import { createPruner, type Pruner, type Retention } from "./prune.js";
import { RUN_COLUMNS, UPSERT_RUN_SQL, fromRow, toJson, toRow, type RunRowObject } from "../persistence/rows.js";
import type { RunDetails, RunQuery, RunRecord, TaskState } from "../core/run-record.js";
import { migrate, requireCurrent } from "../persistence/schema.js";
import { RUN_ID_HEAD, runIdKey } from "../core/run-id.js";
import type { Store, StoreOptions } from "./store.js";
import { isTransient, toStoreError } from "../persistence/store-error.js";
import { capLine, droppedMarker } from "./log-cap.js";
import { WriteBuffer, type BufferedWrite } from "./write-buffer.js";

const DEFAULTS = {
  logCap: 1000,
  days: 30,
  perTask: 1000,
  busyTimeoutMs: 5000,
  batchRows: 1000,
  maxBufferedRows: 100_000,
  listLimit: 100,
};

/** Candidates listed when a run id prefix is ambiguous. */
const CANDIDATES = 5;

/** SQL condition: row `r` is the latest attempt of its run. */
const LATEST = "NOT EXISTS (SELECT 1 FROM runs n WHERE n.id_key = r.id_key AND n.attempt > r.attempt)";

/**
 * Opens (creating when missing) the run store at `options.path`: creates the parent directory,
 * sets WAL, busy_timeout and synchronous = NORMAL so a daemon and several CLI processes can
 * share the file, and migrates the schema. Throws a StoreError saying what to do when the
 * file cannot be created, opened, read, or was written by a newer fluid-tasks.
 */
export function openStore(options: StoreOptions): Store {
  const memory = options.path === ":memory:";
  const path = memory ? ":memory:" : resolve(options.path);
  const readonly = options.readonly ?? false;
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULTS.busyTimeoutMs;
  if (!memory && readonly && !existsSync(path)) {
    throw new StoreError(`run store ${path} does not exist: nothing has been recorded there yet`, {
      hint: "run a task first, or check the store path",
    });
  }
  if (!memory && !readonly) prepareStoreFile(path);

  let db: Database.Database | undefined;
  try {
    db = openDatabase(path, { readonly, fileMustExist: readonly });
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    if (readonly) {
      requireCurrent(db, path);
    } else {
      setWal(db, busyTimeoutMs);
      db.pragma("synchronous = NORMAL");
      migrate(db, path);
    }
    return new SqliteStore(db, path, readonly, options);
  } catch (error) {
    db?.close();
    throw toStoreError(error, path, "opening it");
  }
}

/** Open stores, flushed by one `exit` listener so a process that exits without `close()` loses nothing buffered. */
const openStores = new Set<SqliteStore>();
let exitHooked = false;


class SqliteStore implements Store {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly readonly: boolean;
  private readonly logCap: number;
  private readonly busyTimeoutMs: number;
  private readonly retention: Retention;
  private readonly buffer: WriteBuffer;
  private readonly writeBatch: Database.Transaction<(entries: BufferedWrite[]) => void>;
  private readonly s: ReturnType<typeof prepareStatements>;
  private readonly listStatements = new Map<string, Database.Statement>();
  private pruner: Pruner | undefined;
  /** Empties the WAL once writes go quiet (undefined in memory or read-only). */
  private readonly wal: WalTrimmer | undefined;
  private closed = false;

  constructor(db: Database.Database, path: string, readonly: boolean, options: StoreOptions) {
    this.db = db;
    this.path = path;
    this.readonly = readonly;
    this.logCap = Math.max(0, Math.floor(options.logCap ?? DEFAULTS.logCap));
    this.busyTimeoutMs = options.busyTimeoutMs ?? DEFAULTS.busyTimeoutMs;
    this.retention = {
      days: options.retention?.days ?? DEFAULTS.days,
      perTask: options.retention?.perTask ?? DEFAULTS.perTask,
    };
    this.s = prepareStatements(db);
    if (!readonly && path !== ":memory:") {
      this.wal = new WalTrimmer(db, { busyTimeoutMs: options.busyTimeoutMs ?? DEFAULTS.busyTimeoutMs, ...(options.checkpointIdleMs !== undefined ? { idleMs: options.checkpointIdleMs } : {}) });
    }
    this.writeBatch = db.transaction((entries: BufferedWrite[]) => {
      for (const entry of entries) {
        if (entry.kind === "attempt") this.s.upsertRun.run(entry.row);
        else if (entry.kind === "logs") this.writeLogs(entry.id, entry.attempt, entry.lines);
        else this.s.upsertFire.run(entry.task, entry.at);
      }
    });
    const maxRows = Math.max(1, options.maxBufferedRows ?? DEFAULTS.maxBufferedRows);
    this.buffer = new WriteBuffer({
      // IMMEDIATE takes the write lock up front: a deferred transaction that reads (log counts)
      // before writing can fail with SQLITE_BUSY without waiting when another process wrote.
      write: (entries) => {
        withWriteLock(this.db, this.busyTimeoutMs, () => this.writeBatch.immediate(entries));
        this.wal?.wrote();
      },
      toError: (error) => toStoreError(error, this.path, "recording runs"),
      isTransient,
      onError: options.onError ?? printStoreError,
      // A batch larger than the bound would drop rows before ever trying to write them.
      batchRows: Math.max(1, Math.min(options.batchRows ?? DEFAULTS.batchRows, maxRows)),
      maxRows,
    });
    openStores.add(this);
    if (!exitHooked) {
      exitHooked = true;
      process.on("exit", flushOpenStores);
    }
  }

  writeAttempt(record: RunRecord): void {
    this.assertWritable();
    this.buffer.putAttempt(toRow(record));
  }

  insertAttempt(record: RunRecord): boolean {
    this.assertWritable();
    this.buffer.flush();
    return this.guard("recording a new run", () => this.s.insertRun.run(toRow(record)).changes === 1);
  }

  appendLogs(id: string, attempt: number, lines: LogLine[]): void {
    this.assertWritable();
    if (lines.length > 0) this.buffer.putLogs(id, attempt, lines.map(capLine));
  }

  flush(): void {
    this.assertOpen();
    this.buffer.flush();
  }

  getRun(idOrPrefix: string): RunDetails {
    this.beforeRead();
    // One read transaction: every statement sees the same snapshot while other processes write.
    return this.guard("reading a run", () => this.snapshot(() => {
      const id = this.resolveId(idOrPrefix);
      const attempts = (this.s.attempts.all(runIdKey(id)) as RunRowObject[]).map(fromRow);
      const run = attempts[attempts.length - 1]!;
      const { logs, dropped, droppedBytes } = this.readLogs(id);
      const details: RunDetails = { run, attempts, logs, droppedLogLines: dropped, droppedLogBytes: droppedBytes, children: this.readChildren(id) };
      if (run.fromRunId !== undefined) {
        const parent = this.s.latest.get(runIdKey(run.fromRunId)) as RunRowObject | undefined;
        if (parent) details.parent = fromRow(parent);
      }
      if (run.rootRunId !== undefined && run.rootRunId !== id) {
        const root = this.s.latest.get(runIdKey(run.rootRunId)) as RunRowObject | undefined;
        if (root) details.root = fromRow(root);
      }
      return details;
    }));
  }

  latestAttempt(id: string): RunRecord | undefined {
    this.beforeRead();
    return this.guard("reading a run", () => {
      const row = this.s.latest.get(runIdKey(id)) as RunRowObject | undefined;
      return row && fromRow(row);
    });
  }

  listRuns(query: RunQuery = {}): RunRecord[] {
    this.beforeRead();
    return this.guard("listing runs", () => {
      const where = [LATEST];
      const args: unknown[] = [];
      const filter = (condition: string, value: unknown): void => {
        if (value === undefined) return;
        where.push(condition);
        args.push(value);
      };
      filter("r.task = ?", query.task);
      filter("r.state = ?", query.state);
      filter("r.at >= ?", query.since);
      filter("r.at < ?", query.until);
      if (query.after) {
        // Spelled out (not a row value) so SQLite ranges over the index on `at`.
        where.push("r.at <= ? AND (r.at < ? OR r.id < ?)");
        args.push(query.after.at, query.after.at, query.after.id);
      }
      const limit = query.limit ?? DEFAULTS.listLimit;
      args.push(Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : -1);
      const sql = `SELECT * FROM runs r WHERE ${where.join(" AND ")} ORDER BY r.at DESC, r.id DESC LIMIT ?`;
      let statement = this.listStatements.get(sql);
      if (!statement) this.listStatements.set(sql, (statement = this.db.prepare(sql)));
      return (statement.all(...args) as RunRowObject[]).map(fromRow);
    });
  }

  children(id: string): RunRecord[] {
    this.beforeRead();
    return this.guard("listing child runs", () => this.readChildren(id));
  }

  setTaskEnabled(task: string, enabled: boolean, reason?: string): void {
    this.assertWritable();
    this.guard("saving the task state", () => this.s.setTask.run(task, enabled ? 1 : 0, reason ?? null, Date.now()));
    this.wal?.wrote();
  }

  taskStates(): Map<string, TaskState> {
    this.assertOpen();
    return this.guard("reading task states", () => {
      const rows = this.s.taskStates.all() as Array<{ task: string; enabled: number; reason: string | null; changed_at: number }>;
      const states = new Map<string, TaskState>();
      for (const row of rows) {
        const state: TaskState = { enabled: row.enabled === 1, changedAt: row.changed_at };
        if (row.reason !== null) state.reason = row.reason;
        states.set(row.task, state);
      }
      return states;
    });
  }

  lastRun(task: string): RunRecord | undefined {
    this.beforeRead();
    return this.guard("reading the last run", () => {
      const row = this.s.lastRun.get(task) as RunRowObject | undefined;
      return row ? fromRow(row) : undefined;
    });
  }

  lastSuccessAt(task: string): number | undefined {
    this.beforeRead();
    return this.guard("reading the last success", () => (this.s.lastSuccess.get(task) as number | null | undefined) ?? undefined);
  }

  lastRuns(): Map<string, RunRecord> {
    this.beforeRead();
    return this.guard("reading the last runs", () => this.snapshot(() => {
      const runs = new Map<string, RunRecord>();
      for (const task of this.s.tasks.all() as string[]) {
        const row = this.s.lastRun.get(task) as RunRowObject | undefined;
        if (row) runs.set(task, fromRow(row));
      }
      return runs;
    }));
  }

  setLastFire(task: string, at: number): void {
    this.assertWritable();
    this.buffer.putFire(task, at);
  }

  lastFires(): Map<string, number> {
    this.beforeRead();
    return this.guard("reading schedule state", () => {
      const rows = this.s.fires.all() as Array<{ task: string; last_fire: number }>;
      return new Map(rows.map((r) => [r.task, r.last_fire]));
    });
  }

  markInterrupted(filter: { host?: string; pidAlive?: (pid: number, startedAt?: number) => boolean }): RunRecord[] {
    this.assertWritable();
    this.buffer.flushQuietly();
    const mark = this.db.transaction((): RunRecord[] => {
      const rows = (filter.host === undefined ? this.s.running.all() : this.s.runningOn.all(filter.host)) as RunRowObject[];
      const now = Date.now();
      const marked: RunRecord[] = [];
      for (const row of rows) {
        if (filter.pidAlive?.(row.pid, row.started_at ?? undefined)) continue;
        const rec = fromRow(row);
        const error: ErrorInfo = {
          name: "RunInterruptedError",
          code: "FLUID_INTERRUPTED",
          message: `interrupted: the process running it (pid ${row.pid} on ${row.host || "an unknown host"}) is gone`,
        };
        const durationMs = rec.startedAt === undefined ? undefined : Math.max(0, now - rec.startedAt);
        const changes = this.s.interrupt.run(now, durationMs ?? null, toJson(error), runIdKey(row.id), row.attempt).changes;
        if (changes !== 1) continue;
        rec.state = "interrupted";
        rec.endedAt = now;
        rec.error = error;
        if (durationMs !== undefined) rec.durationMs = durationMs;
        marked.push(rec);
      }
      return marked;
    });
    const marked = this.guard("marking interrupted runs", () => withWriteLock(this.db, this.busyTimeoutMs, () => mark.immediate()));
    this.wal?.wrote();
    return marked;
  }

  prune(now = Date.now()): { deleted: number } {
    let deleted = 0;
    for (const n of this.pruneSteps(now)) deleted += n;
    return { deleted };
  }

  *pruneSteps(now = Date.now()): Generator<number, void, void> {
    this.assertWritable();
    this.buffer.flushQuietly();
    this.pruner ??= this.guard("deleting old runs", () => createPruner(this.db));
    const steps = this.pruner(this.retention, now);
    for (;;) {
      this.assertOpen();
      const step = this.guard("deleting old runs", () => steps.next());
      if (step.done) return;
      this.wal?.wrote();
      yield step.value;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    openStores.delete(this);
    this.buffer.stop();
    this.wal?.stop();
    try {
      this.buffer.flush(true);
    } finally {
      this.db.close();
    }
  }

  /** Flushes what is buffered, reporting (not throwing) a failure, at process exit. */
  flushAtExit(): void {
    this.buffer.stop();
    this.buffer.flushQuietly();
  }

  /**
   * Stores log lines of an attempt within `logCap`: the first half of the cap (the head) and the
   * latest lines (the tail, the rest of the cap). Past the cap each new line pushes the oldest
   * tail line out; dropped lines and their bytes are counted. A line's seq is its position in
   * the attempt's output, so the dropped lines are where the kept seqs jump.
   */
  private writeLogs(id: string, attempt: number, lines: LogLine[]): void {
    const count = this.s.logCount.get(id, attempt) as { lines: number; dropped: number } | undefined;
    const kept = count?.lines ?? 0;
    let seq = kept + (count?.dropped ?? 0);
    const head = Math.floor(this.logCap / 2);
    const tail = this.logCap - head;
    let dropped = 0;
    let droppedBytes = 0;
    const insert = (line: LogLine): void => {
      this.s.insertLog.run(id, attempt, seq++, line.ts ?? Date.now(), line.level ?? "info", String(line.message));
    };
    const fit = Math.max(0, Math.min(lines.length, this.logCap - kept));
    for (let i = 0; i < fit; i++) insert(lines[i]!);
    const over = lines.length - fit;
    if (over > 0) {
      // Lines of this batch that a later line of it pushes out are never written.
      const written = Math.min(over, tail);
      for (let i = fit; i < lines.length - written; i++) {
        droppedBytes += Buffer.byteLength(String(lines[i]!.message));
        dropped++;
        seq++;
      }
      if (written > 0) {
        // The `written` oldest tail lines go; the head (first `head` rows) stays.
        const pushed = this.s.tailBytes.get(id, attempt, written, head) as { n: number; bytes: number | null };
        this.s.deleteTail.run(id, attempt, id, attempt, written, head);
        dropped += pushed.n;
        droppedBytes += pushed.bytes ?? 0;
        for (let i = lines.length - written; i < lines.length; i++) insert(lines[i]!);
      }
    }
    const droppedTs = dropped > 0 ? (lines[lines.length - 1]!.ts ?? Date.now()) : null;
    this.s.upsertLogCount.run(id, attempt, Math.min(this.logCap, kept + lines.length), dropped, droppedTs, droppedBytes);
  }

  private readLogs(id: string): { logs: RunDetails["logs"]; dropped: number; droppedBytes: number } {
    const rows = this.s.logs.all(id) as Array<LogLine & { attempt: number; seq: number }>;
    const counts = this.s.droppedCounts.all(id) as Array<{ attempt: number; lines: number; dropped: number; dropped_ts: number | null; dropped_bytes: number | null }>;
    const strip = ({ seq: _seq, ...line }: LogLine & { attempt: number; seq: number }): RunDetails["logs"][number] => line;
    if (counts.length === 0) return { logs: rows.map(strip), dropped: 0, droppedBytes: 0 };
    const cut = new Map(counts.map((c) => [c.attempt, c]));
    // A marker line goes where the kept lines of an attempt over the cap jump (a store written
    // before v4 kept only the head: there the marker comes after its last line).
    const logs: RunDetails["logs"] = [];
    let dropped = 0;
    let droppedBytes = 0;
    let i = 0;
    while (i < rows.length || cut.size > 0) {
      const attempt = Math.min(i < rows.length ? rows[i]!.attempt : Infinity, ...cut.keys());
      const count = cut.get(attempt);
      if (!count) {
        logs.push(strip(rows[i++]!));
        continue;
      }
      cut.delete(attempt);
      const marker = (ts: number | undefined): void => {
        dropped += count.dropped;
        droppedBytes += count.dropped_bytes ?? 0;
        logs.push({ attempt, ts: ts ?? count.dropped_ts ?? 0, level: "warn", message: droppedMarker(count.dropped, count.dropped_bytes) });
      };
      let expected = 0;
      let marked = false;
      for (; i < rows.length && rows[i]!.attempt === attempt; i++) {
        const row = rows[i]!;
        if (!marked && row.seq !== expected) {
          marker(row.ts);
          marked = true;
        }
        expected = row.seq + 1;
        logs.push(strip(row));
      }
      if (!marked) marker(count.dropped_ts ?? logs[logs.length - 1]?.ts);
    }
    return { logs, dropped, droppedBytes };
  }

  private readChildren(id: string): RunRecord[] {
    return (this.s.children.all(id) as RunRowObject[]).map(fromRow);
  }

  /** The full id for an id or a unique prefix of one. */
  private resolveId(idOrPrefix: string): string {
    if (idOrPrefix === "") throw new StoreError("no run id given", { hint: "pass a run id or the first characters of one" });
    if (this.s.exactId.get(runIdKey(idOrPrefix)) !== undefined) return idOrPrefix;
    // The key of an id is the id rotated left by RUN_ID_HEAD characters: a prefix within the
    // head is found by a scan of the keys' ends, a longer one by a range of keys.
    const chars = Array.from(idOrPrefix);
    const rows = (chars.length <= RUN_ID_HEAD
      ? this.s.headIds.all({ n: chars.length, prefix: idOrPrefix, limit: CANDIDATES + 1 })
      : this.s.longIds.all({ head: chars.slice(0, RUN_ID_HEAD).join(""), tail: chars.slice(RUN_ID_HEAD).join(""), limit: CANDIDATES + 1 })) as Array<{ id: string; task: string }>;
    if (rows.length === 1) return rows[0]!.id;
    if (rows.length === 0) {
      throw new StoreError(`no run with id "${idOrPrefix}" in ${this.path}`, {
        hint: "list recent runs with `fluid history`; runs older than the retention are deleted",
      });
    }
    const listed = rows.slice(0, CANDIDATES).map((r) => `${r.id} (${r.task})`);
    const more = rows.length > CANDIDATES ? ", ..." : "";
    throw new StoreError(`run id prefix "${idOrPrefix}" is ambiguous: it matches ${listed.join(", ")}${more}`, {
      hint: "type more characters of the id",
    });
  }

  private beforeRead(): void {
    this.assertOpen();
    this.buffer.flushQuietly();
  }

  /** Runs reads in one deferred transaction, so they all see the same state of the file. */
  private snapshot<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  private guard<T>(doing: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw toStoreError(error, this.path, doing);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError(`run store ${this.path} is closed`, { hint: "open it again with openStore()" });
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.readonly) {
      throw new StoreError(`run store ${this.path} was opened read-only`, { hint: "open it without `readonly` to record runs" });
    }
  }
}

/** Prepares every fixed statement of a store once; they are reused for the life of the connection. */
function prepareStatements(db: Database.Database) {
  return {
    upsertRun: db.prepare(UPSERT_RUN_SQL),
    insertRun: db.prepare(
      `INSERT INTO runs (${RUN_COLUMNS.join(", ")}) VALUES (${RUN_COLUMNS.map(() => "?").join(", ")})
       ON CONFLICT (id_key, attempt) DO NOTHING`,
    ),
    logCount: db.prepare("SELECT lines, dropped FROM log_counts WHERE id = ? AND attempt = ?"),
    tailBytes: db.prepare(
      `SELECT count(*) AS n, sum(length(CAST(message AS BLOB))) AS bytes
       FROM (SELECT message FROM logs WHERE id = ? AND attempt = ? ORDER BY seq LIMIT ? OFFSET ?)`,
    ),
    deleteTail: db.prepare(
      "DELETE FROM logs WHERE id = ? AND attempt = ? AND seq IN (SELECT seq FROM logs WHERE id = ? AND attempt = ? ORDER BY seq LIMIT ? OFFSET ?)",
    ),
    insertLog: db.prepare("INSERT INTO logs (id, attempt, seq, ts, level, message) VALUES (?, ?, ?, ?, ?, ?)"),
    upsertLogCount: db.prepare(
      `INSERT INTO log_counts (id, attempt, lines, dropped, dropped_ts, dropped_bytes) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id, attempt) DO UPDATE SET lines = excluded.lines, dropped = dropped + excluded.dropped,
         dropped_ts = coalesce(excluded.dropped_ts, dropped_ts),
         dropped_bytes = CASE WHEN dropped > 0 AND dropped_bytes IS NULL THEN NULL ELSE coalesce(dropped_bytes, 0) + excluded.dropped_bytes END`,
    ),
    upsertFire: db.prepare(
      "INSERT INTO schedule_state (task, last_fire) VALUES (?, ?) ON CONFLICT (task) DO UPDATE SET last_fire = excluded.last_fire",
    ),
    // Statements taking a run id take its key (`runIdKey`): runs is indexed by (id_key, attempt).
    exactId: db.prepare("SELECT id FROM runs WHERE id_key = ? LIMIT 1").pluck(),
    // Ids whose first 8 characters (the last 8 of the key) start with @prefix (at most 8
    // characters): a scan of the key index, the only index holding every id (~0.2 s for a
    // million runs; see docs/store.md).
    headIds: db.prepare(
      `SELECT id, task FROM runs WHERE id_key IN (
         SELECT DISTINCT id_key FROM runs INDEXED BY runs_key WHERE substr(substr(id_key, -8), 1, @n) = @prefix LIMIT @limit)
       GROUP BY id_key ORDER BY id LIMIT @limit`,
    ),
    // Ids starting with @head (8 characters) and then @tail: their keys start with @tail and end
    // with @head, a range of the key index (narrow when @tail holds more than the counter's
    // first digits, which change every ~37 hours).
    longIds: db.prepare(
      `SELECT id, task FROM runs WHERE id_key IN (
         SELECT DISTINCT id_key FROM runs INDEXED BY runs_key
         WHERE id_key >= @tail AND id_key < @tail || char(1114111) AND length(id_key) > 8 AND substr(id_key, -8) = @head LIMIT @limit)
       GROUP BY id_key ORDER BY id LIMIT @limit`,
    ),
    attempts: db.prepare("SELECT * FROM runs WHERE id_key = ? ORDER BY attempt"),
    latest: db.prepare("SELECT * FROM runs WHERE id_key = ? ORDER BY attempt DESC LIMIT 1"),
    logs: db.prepare("SELECT attempt, seq, ts, level, message FROM logs WHERE id = ? ORDER BY attempt, seq"),
    droppedCounts: db.prepare("SELECT attempt, lines, dropped, dropped_ts, dropped_bytes FROM log_counts WHERE id = ? AND dropped > 0"),
    children: db.prepare(`SELECT * FROM runs r WHERE r.from_run_id = ? AND ${LATEST} ORDER BY r.at, r.id`),
    tasks: db.prepare("SELECT DISTINCT task FROM runs").pluck(),
    lastRun: db.prepare("SELECT * FROM runs WHERE task = ? AND state <> 'queued' ORDER BY at DESC, attempt DESC LIMIT 1"),
    // `+state`: walk the task's own index (bounded by its retention), never every success of every task.
    lastSuccess: db.prepare("SELECT ended_at FROM runs WHERE task = ? AND +state = 'success' ORDER BY at DESC LIMIT 1").pluck(),
    setTask: db.prepare(
      `INSERT INTO task_state (task, enabled, reason, changed_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (task) DO UPDATE SET enabled = excluded.enabled, reason = excluded.reason, changed_at = excluded.changed_at`,
    ),
    taskStates: db.prepare("SELECT task, enabled, reason, changed_at FROM task_state ORDER BY task"),
    fires: db.prepare("SELECT task, last_fire FROM schedule_state ORDER BY task"),
    running: db.prepare("SELECT * FROM runs WHERE state = 'running'"),
    runningOn: db.prepare("SELECT * FROM runs WHERE state = 'running' AND host = ?"),
    interrupt: db.prepare(
      "UPDATE runs SET state = 'interrupted', ended_at = ?, duration_ms = ?, error = ? WHERE id_key = ? AND attempt = ? AND state = 'running'",
    ),
    };
}

function flushOpenStores(): void {
  for (const store of openStores) store.flushAtExit();
}
