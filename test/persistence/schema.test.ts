import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
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

describe("store schema", () => {
  it("creates the current schema in a new file", () => {
    const store = open();
    store.close();
    expect(readTable(store.path, "PRAGMA user_version")).toEqual([{ user_version: SCHEMA_VERSION }]);
    expect(SCHEMA_VERSION).toBe(4);
  });

  it("migrates a v1 store without losing history", () => {
    const path = join(tempDir(), "runs.db");
    writeV1Fixture(path);
    const store = openStore({ path, logCap: 3 });
    try {
      expect(readTable(path, "PRAGMA user_version")).toEqual([{ user_version: SCHEMA_VERSION }]);
      const indexes = readTable(path, "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'runs_%' ORDER BY name");
      expect(indexes).toEqual([{ name: "runs_at" }, { name: "runs_from" }, { name: "runs_state_at" }, { name: "runs_task_at" }]);

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
    expect(error.message).toMatch(/older fluid-tasks \(schema v1, this version writes v4\) and cannot be upgraded read-only/);
    expect(error.hint).toMatch(/fluid run/);
    expect(readTable(path, "PRAGMA user_version")).toEqual([{ user_version: 1 }]);
  });
});
