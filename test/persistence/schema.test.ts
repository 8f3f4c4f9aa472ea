import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { openSqliteBroker } from "../../src/broker/sqlite.js";
import { StoreError } from "../../src/core/errors.js";
import { openStore, SCHEMA_VERSION } from "../../src/store/index.js";
import { catchStoreError, makeRecord, readTable, useTempStores } from "../store/temp-store.js";

const { tempDir, open } = useTempStores();

/**
 * A store as fluid-tasks with schema v1 wrote it, frozen here on purpose: this is the file a
 * user upgrading from that version has on disk. Never edit it to follow the current schema.
 */
function writeV1Fixture(path: string): void {
  const db = new Database(path);
  db.exec(`
    CREATE TABLE runs (
      id TEXT NOT NULL, attempt INTEGER NOT NULL, max_attempts INTEGER NOT NULL, task TEXT NOT NULL,
      state TEXT NOT NULL, trigger TEXT NOT NULL, params TEXT, result TEXT, error TEXT,
      at INTEGER NOT NULL, queued_at INTEGER, started_at INTEGER, ended_at INTEGER, duration_ms INTEGER,
      from_run_id TEXT, root_run_id TEXT, host TEXT NOT NULL, pid INTEGER NOT NULL,
      PRIMARY KEY (id, attempt)
    );
    CREATE INDEX runs_task_at ON runs (task, at);
    CREATE TABLE logs (
      id TEXT NOT NULL, attempt INTEGER NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
      level TEXT NOT NULL, message TEXT NOT NULL, PRIMARY KEY (id, attempt, seq)
    );
    CREATE TABLE task_state (task TEXT PRIMARY KEY, enabled INTEGER NOT NULL, reason TEXT, changed_at INTEGER NOT NULL);
    CREATE TABLE schedule_state (task TEXT PRIMARY KEY, last_fire INTEGER NOT NULL);

    INSERT INTO runs VALUES ('old-1', 1, 2, 'say_hi', 'failure', 'cli', '{"name":"bob"}', NULL,
      '{"name":"Error","message":"boom"}', 1000, 1000, 1001, 1002, 1, NULL, NULL, 'old-host', 11);
    INSERT INTO runs VALUES ('old-1', 2, 2, 'say_hi', 'success', 'retry', '{"name":"bob"}', '"hi bob"',
      NULL, 2000, 2000, 2001, 2002, 1, NULL, NULL, 'old-host', 11);
    INSERT INTO logs VALUES ('old-1', 2, 0, 2001, 'info', 'hello');
    INSERT INTO logs VALUES ('old-1', 2, 1, 2002, 'info', 'bye');
    INSERT INTO task_state VALUES ('say_hi', 0, 'paused', 1500);
    INSERT INTO schedule_state VALUES ('say_hi', 1900);
    PRAGMA user_version = 1;
  `);
  db.close();
}

/** Ids as fluid-tasks made them before schema v5: 20 random hex characters. */
const OLD_A = "3f9c2e7a41d05b8e96c1";
const OLD_B = "3f9c2e7a77aa0c11d2e4"; // shares its first 8 characters with OLD_A
const OLD_C = "b81d4f0e2c6a9e3d5f70";

/**
 * A store as fluid-tasks with schema v4 wrote it (runs keyed by their random id, a queue with
 * a queued and a claimed row), frozen here on purpose. Never edit it to follow the current schema.
 */
function writeV4Fixture(path: string): void {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.exec(`
    CREATE TABLE runs (
      id TEXT NOT NULL, attempt INTEGER NOT NULL, max_attempts INTEGER NOT NULL, task TEXT NOT NULL,
      state TEXT NOT NULL, trigger TEXT NOT NULL, params TEXT, result TEXT, error TEXT,
      at INTEGER NOT NULL, queued_at INTEGER, started_at INTEGER, ended_at INTEGER, duration_ms INTEGER,
      from_run_id TEXT, root_run_id TEXT, host TEXT NOT NULL, pid INTEGER NOT NULL, exit_code INTEGER,
      PRIMARY KEY (id, attempt)
    );
    CREATE INDEX runs_task_at ON runs (task, at);
    CREATE TABLE logs (
      id TEXT NOT NULL, attempt INTEGER NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
      level TEXT NOT NULL, message TEXT NOT NULL, PRIMARY KEY (id, attempt, seq)
    );
    CREATE TABLE task_state (task TEXT PRIMARY KEY, enabled INTEGER NOT NULL, reason TEXT, changed_at INTEGER NOT NULL);
    CREATE TABLE schedule_state (task TEXT PRIMARY KEY, last_fire INTEGER NOT NULL);
    CREATE TABLE log_counts (
      id TEXT NOT NULL, attempt INTEGER NOT NULL, lines INTEGER NOT NULL, dropped INTEGER NOT NULL DEFAULT 0,
      dropped_ts INTEGER, dropped_bytes INTEGER, PRIMARY KEY (id, attempt)
    );
    CREATE INDEX runs_state_at ON runs (state, at);
    CREATE INDEX runs_at ON runs (at);
    CREATE INDEX runs_from ON runs (from_run_id) WHERE from_run_id IS NOT NULL;
    CREATE TABLE queue (
      seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, task TEXT NOT NULL, params TEXT NOT NULL,
      priority INTEGER NOT NULL, attempt INTEGER NOT NULL, trigger TEXT NOT NULL, run_after INTEGER NOT NULL,
      queued_at INTEGER NOT NULL, from_run_id TEXT, root_run_id TEXT, scheduled_at INTEGER,
      claimed_by TEXT, claimed_at INTEGER, cancel_requested INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX queue_due ON queue (priority, run_after) WHERE claimed_by IS NULL;
    CREATE INDEX queue_task ON queue (task, priority, run_after);
    CREATE INDEX queue_claimed ON queue (claimed_by) WHERE claimed_by IS NOT NULL;

    INSERT INTO runs VALUES ('${OLD_A}', 1, 2, 'say_hi', 'failure', 'cli', NULL, NULL,
      '{"name":"Error","message":"boom"}', 1000, 1000, 1001, 1002, 1, NULL, NULL, 'old-host', 11, 1);
    INSERT INTO runs VALUES ('${OLD_A}', 2, 2, 'say_hi', 'success', 'retry', NULL, '"hi"',
      NULL, 2000, 2000, 2001, 2002, 1, NULL, NULL, 'old-host', 11, 0);
    INSERT INTO runs VALUES ('${OLD_B}', 1, 1, 'other', 'success', 'queue', NULL, NULL,
      NULL, 3000, 3000, 3001, 3002, 1, '${OLD_A}', '${OLD_A}', 'old-host', 11, 0);
    INSERT INTO runs VALUES ('nightly-2026.11.29:1', 1, 1, 'say_hi', 'success', 'schedule', NULL, NULL,
      NULL, 4000, 4000, 4001, 4002, 1, NULL, NULL, 'old-host', 11, 0);
    INSERT INTO logs VALUES ('${OLD_A}', 2, 0, 2001, 'info', 'hello');
    INSERT INTO log_counts VALUES ('${OLD_A}', 2, 1, 0, NULL, NULL);
    INSERT INTO queue VALUES (7, '${OLD_C}', 'say_hi', '{}', 1, 1, 'queue', 5000, 5000, NULL, NULL, NULL, NULL, NULL, 0);
    INSERT INTO queue VALUES (9, 'claimed-1', 'say_hi', '{}', 1, 1, 'queue', 5000, 5000, NULL, NULL, NULL, 'gone-owner', 5001, 0);
    PRAGMA user_version = 4;
  `);
  db.close();
}

describe("store schema", () => {
  it("creates the current schema in a new file", () => {
    const store = open();
    store.close();
    expect(readTable(store.path, "PRAGMA user_version")).toEqual([{ user_version: SCHEMA_VERSION }]);
    expect(SCHEMA_VERSION).toBe(5);
  });

  it("migrates a v1 store without losing history", () => {
    const path = join(tempDir(), "runs.db");
    writeV1Fixture(path);
    const store = openStore({ path, logCap: 3 });
    try {
      expect(readTable(path, "PRAGMA user_version")).toEqual([{ user_version: SCHEMA_VERSION }]);
      const indexes = readTable(path, "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'runs_%' ORDER BY name");
      expect(indexes).toEqual([{ name: "runs_at" }, { name: "runs_from" }, { name: "runs_key" }, { name: "runs_state_at" }, { name: "runs_task_at" }]);

      const old = store.getRun("old");
      expect(old.attempts.map((a) => [a.attempt, a.state])).toEqual([
        [1, "failure"],
        [2, "success"],
      ]);
      expect(old.run).toMatchObject({ result: "hi bob", host: "old-host", pid: 11 });
      expect(old.run.exitCode).toBeUndefined();
      expect(old.logs.map((l) => l.message)).toEqual(["hello", "bye"]);
      expect(store.taskStates().get("say_hi")).toEqual({ enabled: false, reason: "paused", changedAt: 1500 });
      expect(store.lastFires().get("say_hi")).toBe(1900);

      // v2 features on v1 data: the log cap counts the lines v1 kept (backfilled), exit codes are stored.
      // v4: the cap keeps the head (1 line of 3) and the latest lines.
      store.appendLogs("old-1", 2, [1, 2, 3].map((i) => ({ ts: 3000 + i, level: "info" as const, message: `more ${i}` })));
      store.writeAttempt(makeRecord({ id: "new-1", exitCode: 137, state: "failure" }));
      const again = store.getRun("old-1");
      expect(again.logs.map((l) => l.message)).toEqual([
        "hello",
        "[fluid] … 2 lines (9 bytes) dropped … (logCap: the store keeps the first and the last lines of an attempt)",
        "more 2",
        "more 3",
      ]);
      expect(store.getRun("new-1").run.exitCode).toBe(137);
      expect(store.listRuns({ state: "failure" }).map((r) => r.id)).toEqual(["new-1"]);
    } finally {
      store.close();
    }
  });

  it("v5 keys a v4 store's runs and queue by id_key, and keeps its random ids findable", async () => {
    const path = join(tempDir(), "runs.db");
    writeV4Fixture(path);
    const store = openStore({ path });
    try {
      expect(readTable(path, "PRAGMA user_version")).toEqual([{ user_version: SCHEMA_VERSION }]);
      // No index on the id itself is left: only the key's (and the queue's seq order is kept).
      const indexes = readTable(path, "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('runs', 'queue') ORDER BY name");
      expect(indexes).toEqual(["queue_claimed", "queue_due", "queue_key", "queue_task", "runs_at", "runs_from", "runs_key", "runs_state_at", "runs_task_at"]
        .map((name) => ({ name, tbl_name: name.split("_")[0] })));
      expect(readTable(path, "SELECT seq, id, id_key, claimed_by FROM queue ORDER BY seq")).toEqual([
        { seq: 7, id: OLD_C, id_key: OLD_C.slice(8) + OLD_C.slice(0, 8), claimed_by: null },
        { seq: 9, id: "claimed-1", id_key: "1claimed-", claimed_by: "gone-owner" },
      ]);

      // Every old id is found whole, by a prefix within its first 8 characters, and by a longer one.
      expect(store.getRun(OLD_A).attempts.map((a) => [a.attempt, a.state])).toEqual([[1, "failure"], [2, "success"]]);
      expect(store.getRun(OLD_A).logs.map((l) => l.message)).toEqual(["hello"]);
      expect(store.getRun(OLD_A).children.map((c) => c.id)).toEqual([OLD_B]);
      expect(store.getRun(OLD_B).parent?.id).toBe(OLD_A);
      expect(store.getRun("3f9c2e7a4").run.id).toBe(OLD_A);
      expect(store.getRun("3f9c2e7a77").run.id).toBe(OLD_B);
      expect(store.getRun("nightly").run.id).toBe("nightly-2026.11.29:1");
      expect(store.getRun("nightly-2026").run.id).toBe("nightly-2026.11.29:1");
      expect(store.latestAttempt(OLD_A)?.attempt).toBe(2);
      const ambiguous = catchStoreError(() => store.getRun("3f9c2e7a"));
      expect(ambiguous.message).toBe(`run id prefix "3f9c2e7a" is ambiguous: it matches ${OLD_A} (say_hi), ${OLD_B} (other)`);
      expect(catchStoreError(() => store.getRun("3f9c2e7b")).message).toMatch(/no run with id "3f9c2e7b"/);
      expect(store.listRuns().map((r) => [r.id, r.attempt])).toEqual([["nightly-2026.11.29:1", 1], [OLD_B, 1], [OLD_A, 2]]);

      // The queue's old rows: claimed in seq order, acked, cancelled and recovered by their ids.
      const broker = openSqliteBroker({ path });
      try {
        expect(await broker.has(OLD_C)).toBe(true);
        expect(await broker.enqueue({ id: OLD_C, task: "say_hi", params: {}, priority: "medium", attempt: 1, trigger: "queue", runAfter: 0, queuedAt: 0 })).toBe(false);
        expect(await broker.enqueue({ id: OLD_A, task: "say_hi", params: {}, priority: "medium", attempt: 1, trigger: "queue", runAfter: 0, queuedAt: 0 })).toBe(false);
        expect((await broker.claim({ max: 5, owner: "w", now: 6000 })).map((r) => r.id)).toEqual([OLD_C]);
        expect(await broker.cancel("claimed-1")).toBe("flagged");
        await broker.ack(OLD_C);
        expect(await broker.has(OLD_C)).toBe(false);
      } finally {
        await broker.close();
      }

      // An attempt of an old run is still replaced, not added.
      store.writeAttempt(makeRecord({ id: OLD_B, attempt: 1, task: "other", state: "failure" }));
      store.flush();
      expect(readTable(path, `SELECT count(*) AS n FROM runs WHERE id = '${OLD_B}'`)).toEqual([{ n: 1 }]);
    } finally {
      store.close();
    }
  });

  it("refuses a store written by a newer fluid-tasks, leaving it untouched", () => {
    const path = join(tempDir(), "runs.db");
    const db = new Database(path);
    db.exec("CREATE TABLE runs (id TEXT); CREATE TABLE future_thing (x INTEGER); PRAGMA user_version = 7");
    db.close();
    const error = catchStoreError(() => openStore({ path }));
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toBe(
      `run store ${path} was written by a newer fluid-tasks (schema v7, this version knows up to v${SCHEMA_VERSION}); upgrade fluid-tasks`,
    );
    expect(readTable(path, "PRAGMA user_version")).toEqual([{ user_version: 7 }]);
    expect(() => openStore({ path, readonly: true })).toThrow(/newer fluid-tasks/);
  });

  it("refuses a SQLite database that is not a run store", () => {
    const path = join(tempDir(), "app.db");
    const db = new Database(path);
    db.exec("CREATE TABLE users (name TEXT)");
    db.close();
    expect(() => openStore({ path })).toThrow(/not a fluid-tasks run store/);
    expect(readTable(path, "SELECT name FROM sqlite_master")).toEqual([{ name: "users" }]);
  });

  it("does not upgrade a store opened read-only, and says how to", () => {
    const path = join(tempDir(), "runs.db");
    writeV1Fixture(path);
    const error = catchStoreError(() => openStore({ path, readonly: true }));
    expect(error.message).toMatch(/older fluid-tasks \(schema v1, this version writes v5\) and cannot be upgraded read-only/);
    expect(error.hint).toMatch(/fluid run/);
    expect(readTable(path, "PRAGMA user_version")).toEqual([{ user_version: 1 }]);
  });
});
