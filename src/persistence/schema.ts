import type Database from "better-sqlite3";
import { StoreError } from "../core/errors.js";
import { LEASE_TABLE } from "./lease.js";

/**
 * Migrations of the store schema, in order: migration i takes `PRAGMA user_version` from i to
 * i + 1. Append only: a released migration never changes, and none drops history, because a
 * user's file may have been written by any earlier version.
 */
export const MIGRATIONS: readonly string[] = [
  // v1: runs (one row per attempt), log lines, task state, schedule state.
  `
  CREATE TABLE runs (
    id           TEXT    NOT NULL,
    attempt      INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    task         TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    trigger      TEXT    NOT NULL,
    params       TEXT,
    result       TEXT,
    error        TEXT,
    at           INTEGER NOT NULL, -- sort time: queued_at, else started_at, else ended_at
    queued_at    INTEGER,
    started_at   INTEGER,
    ended_at     INTEGER,
    duration_ms  INTEGER,
    from_run_id  TEXT,
    root_run_id  TEXT,
    host         TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    PRIMARY KEY (id, attempt)
  );
  CREATE INDEX runs_task_at ON runs (task, at);
  CREATE TABLE logs (
    id      TEXT    NOT NULL,
    attempt INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    ts      INTEGER NOT NULL,
    level   TEXT    NOT NULL,
    message TEXT    NOT NULL,
    PRIMARY KEY (id, attempt, seq)
  );
  CREATE TABLE task_state (
    task       TEXT    PRIMARY KEY,
    enabled    INTEGER NOT NULL,
    reason     TEXT,
    changed_at INTEGER NOT NULL
  );
  CREATE TABLE schedule_state (
    task      TEXT    PRIMARY KEY,
    last_fire INTEGER NOT NULL
  );
  `,
  // v2: exit codes of child processes; per-attempt log counts for logCap (backfilled from the
  // lines already kept); indexes for listing by state and time, and for children of a run.
  `
  ALTER TABLE runs ADD COLUMN exit_code INTEGER;
  CREATE TABLE log_counts (
    id         TEXT    NOT NULL,
    attempt    INTEGER NOT NULL,
    lines      INTEGER NOT NULL,
    dropped    INTEGER NOT NULL DEFAULT 0,
    dropped_ts INTEGER,
    PRIMARY KEY (id, attempt)
  );
  INSERT INTO log_counts (id, attempt, lines) SELECT id, attempt, count(*) FROM logs GROUP BY id, attempt;
  CREATE INDEX runs_state_at ON runs (state, at);
  CREATE INDEX runs_at ON runs (at);
  CREATE INDEX runs_from ON runs (from_run_id) WHERE from_run_id IS NOT NULL;
  `,
  // v3: the queue of the SQLite broker (src/broker/sqlite.ts): one row per queued or claimed
  // run. `seq` is the rowid (enqueue order for free: a new rowid is above every row present);
  // `id` is the run id, unique. priority: 0 high, 1 medium, 2 low. A row is claimed when
  // claimed_by is set; cancel_requested is only ever set on a claimed row.
  // queue_due serves claims and nextDue (unclaimed rows in claim order, by priority IN (0,1,2));
  // queue_task serves claims that skip tasks (one range per task) and hasPending;
  // queue_claimed serves recover, cancelRequested and counts.
  `
  CREATE TABLE queue (
    seq              INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    task             TEXT    NOT NULL,
    params           TEXT    NOT NULL,
    priority         INTEGER NOT NULL,
    attempt          INTEGER NOT NULL,
    trigger          TEXT    NOT NULL,
    run_after        INTEGER NOT NULL,
    queued_at        INTEGER NOT NULL,
    from_run_id      TEXT,
    root_run_id      TEXT,
    scheduled_at     INTEGER,
    claimed_by       TEXT,
    claimed_at       INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX queue_due ON queue (priority, run_after) WHERE claimed_by IS NULL;
  CREATE INDEX queue_task ON queue (task, priority, run_after);
  CREATE INDEX queue_claimed ON queue (claimed_by) WHERE claimed_by IS NOT NULL;
  `,
  // v4: logCap keeps the head and the tail of an attempt's log: bytes of the dropped lines
  // (NULL for lines dropped before v4, whose size was not counted). A line's seq is now its
  // position in the attempt's output, so the dropped lines are where the seqs jump.
  `
  ALTER TABLE log_counts ADD COLUMN dropped_bytes INTEGER;
  `,
  // v5: runs and queue keyed by the run id rotated left by 8 characters (`id_key`, a generated
  // column: src/core/run-id.ts runIdKey), no longer by the id itself. A run id is 8 random hex
  // characters and then a time counter, so its key grows with time and a new run is appended to
  // these indexes instead of dirtying a random page of each (every dirty page is written to
  // the WAL at commit). Both tables are rebuilt: a PRIMARY KEY or UNIQUE constraint on `id`
  // cannot be dropped in place. Rows keep their rowid (the queue's seq: claim order); ids made
  // before v5 (20 random hex characters) keep working, their keys are just not ordered.
  `
  CREATE TABLE runs_v5 (
    id           TEXT    NOT NULL,
    attempt      INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    task         TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    trigger      TEXT    NOT NULL,
    params       TEXT,
    result       TEXT,
    error        TEXT,
    at           INTEGER NOT NULL,
    queued_at    INTEGER,
    started_at   INTEGER,
    ended_at     INTEGER,
    duration_ms  INTEGER,
    from_run_id  TEXT,
    root_run_id  TEXT,
    host         TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    exit_code    INTEGER,
    id_key       TEXT    GENERATED ALWAYS AS (substr(id, 9) || substr(id, 1, 8)) VIRTUAL
  );
  INSERT INTO runs_v5 (rowid, id, attempt, max_attempts, task, state, trigger, params, result, error, at, queued_at,
                       started_at, ended_at, duration_ms, from_run_id, root_run_id, host, pid, exit_code)
    SELECT rowid, id, attempt, max_attempts, task, state, trigger, params, result, error, at, queued_at,
           started_at, ended_at, duration_ms, from_run_id, root_run_id, host, pid, exit_code
    FROM runs ORDER BY rowid;
  DROP TABLE runs;
  ALTER TABLE runs_v5 RENAME TO runs;
  CREATE UNIQUE INDEX runs_key ON runs (id_key, attempt);
  CREATE INDEX runs_task_at ON runs (task, at);
  CREATE INDEX runs_state_at ON runs (state, at);
  CREATE INDEX runs_at ON runs (at);
  CREATE INDEX runs_from ON runs (from_run_id) WHERE from_run_id IS NOT NULL;

  CREATE TABLE queue_v5 (
    seq              INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL,
    task             TEXT    NOT NULL,
    params           TEXT    NOT NULL,
    priority         INTEGER NOT NULL,
    attempt          INTEGER NOT NULL,
    trigger          TEXT    NOT NULL,
    run_after        INTEGER NOT NULL,
    queued_at        INTEGER NOT NULL,
    from_run_id      TEXT,
    root_run_id      TEXT,
    scheduled_at     INTEGER,
    claimed_by       TEXT,
    claimed_at       INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    id_key           TEXT    GENERATED ALWAYS AS (substr(id, 9) || substr(id, 1, 8)) VIRTUAL
  );
  INSERT INTO queue_v5 (seq, id, task, params, priority, attempt, trigger, run_after, queued_at, from_run_id,
                        root_run_id, scheduled_at, claimed_by, claimed_at, cancel_requested)
    SELECT seq, id, task, params, priority, attempt, trigger, run_after, queued_at, from_run_id,
           root_run_id, scheduled_at, claimed_by, claimed_at, cancel_requested
    FROM queue ORDER BY seq;
  DROP TABLE queue;
  ALTER TABLE queue_v5 RENAME TO queue;
  CREATE UNIQUE INDEX queue_key ON queue (id_key);
  CREATE INDEX queue_due ON queue (priority, run_after) WHERE claimed_by IS NULL;
  CREATE INDEX queue_task ON queue (task, priority, run_after);
  CREATE INDEX queue_claimed ON queue (claimed_by) WHERE claimed_by IS NOT NULL;
  `,
];

/** The schema version this fluid-tasks writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the schema of `db` up to SCHEMA_VERSION. Each pending migration runs in the same
 * IMMEDIATE transaction, which also re-reads the version, so two processes opening a new file
 * at once migrate it once. Refuses a file written by a newer fluid-tasks, and a SQLite file
 * that is not a run store.
 */
export function migrate(db: Database.Database, path: string): void {
  checkVersion(db, path);
  if (readVersion(db) === SCHEMA_VERSION) return;
  db.transaction(() => {
    const from = checkVersion(db, path);
    for (let version = from; version < SCHEMA_VERSION; version++) {
      db.exec(MIGRATIONS[version]!);
    }
    // user_version cannot be bound as a parameter; SCHEMA_VERSION is our own integer.
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/** Throws unless `db` can be read by this version without migrating (for read-only opens). */
export function requireCurrent(db: Database.Database, path: string): void {
  const version = checkVersion(db, path);
  if (version === SCHEMA_VERSION) return;
  if (version === 0) {
    throw new StoreError(`run store ${path} is empty: nothing has been recorded in it yet`, {
      hint: "run a task first, or check the store path",
    });
  }
  throw new StoreError(
    `run store ${path} was written by an older fluid-tasks (schema v${version}, this version writes v${SCHEMA_VERSION}) and cannot be upgraded read-only`,
    { hint: "run any command that records a run (e.g. `fluid run`) once to upgrade it" },
  );
}

function readVersion(db: Database.Database): number {
  return db.pragma("user_version", { simple: true }) as number;
}

/**
 * The schema version of `db`. Throws for a file written by a newer fluid-tasks, and for a SQLite
 * file that is not a run store (tables, but no version; the daemon lease table does not count).
 */
export function checkVersion(db: Database.Database, path: string): number {
  const version = readVersion(db);
  if (version > SCHEMA_VERSION) {
    throw new StoreError(
      `run store ${path} was written by a newer fluid-tasks (schema v${version}, this version knows up to v${SCHEMA_VERSION}); upgrade fluid-tasks`,
      { hint: "install the fluid-tasks version that wrote this file (or newer), or set another store path" },
    );
  }
  if (version === 0) {
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name <> ?").get(LEASE_TABLE) as { n: number };
    if (tables.n > 0) {
      throw new StoreError(`run store ${path} is a SQLite database of something else, not a fluid-tasks run store`, {
        hint: "set another store path; fluid-tasks will not write into a database it did not create",
      });
    }
  }
  return version;
}
