import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { openSqliteBroker } from "../../src/broker/sqlite.js";
import { openStore, SCHEMA_VERSION } from "../../src/store/index.js";
import { makeRun, T0 } from "./broker-contract.js";
import { readRows, useTempDirs } from "./temp-dirs.js";

const tempDir = useTempDirs();

/**
 * A store as fluid-tasks with schema v2 (the version before the queue) wrote it, frozen here
 * on purpose: the file a user upgrading has on disk. Never edit it to follow the current schema.
 */
function writeV2Fixture(path: string): void {
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
      dropped_ts INTEGER, PRIMARY KEY (id, attempt)
    );
    CREATE INDEX runs_state_at ON runs (state, at);
    CREATE INDEX runs_at ON runs (at);
    CREATE INDEX runs_from ON runs (from_run_id) WHERE from_run_id IS NOT NULL;

    INSERT INTO runs VALUES ('old-1', 1, 1, 'say_hi', 'success', 'cli', '{"name":"bob"}', '"hi bob"',
      NULL, 1000, 1000, 1001, 1002, 1, NULL, NULL, 'old-host', 11, 0);
    INSERT INTO logs VALUES ('old-1', 1, 0, 1001, 'info', 'hello');
    INSERT INTO log_counts VALUES ('old-1', 1, 1, 0, NULL);
    INSERT INTO task_state VALUES ('say_hi', 0, 'paused', 1500);
    PRAGMA user_version = 2;
  `);
  db.close();
}

describe("sqlite broker: migration", () => {
  it("adds the queue to a v2 store without touching its history", async () => {
    const path = join(tempDir(), "runs.db");
    writeV2Fixture(path);
    const broker = openSqliteBroker({ path });
    try {
      expect(SCHEMA_VERSION).toBe(5);
      expect(readRows(path, "PRAGMA user_version")).toEqual([{ user_version: SCHEMA_VERSION }]);
      expect(readRows(path, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'queue' AND name LIKE 'queue_%' ORDER BY name")).toEqual([
        { name: "queue_claimed" },
        { name: "queue_due" },
        { name: "queue_key" },
        { name: "queue_task" },
      ]);
      await broker.enqueue(makeRun({ id: "new-1" }));
      expect((await broker.claim({ max: 1, owner: "w", now: T0 }))[0]?.id).toBe("new-1");

      const store = openStore({ path });
      try {
        const old = store.getRun("old-1");
        expect(old.run).toMatchObject({ state: "success", result: "hi bob", host: "old-host" });
        expect(old.logs.map((l) => l.message)).toEqual(["hello"]);
        expect(store.taskStates().get("say_hi")).toEqual({ enabled: false, reason: "paused", changedAt: 1500 });
      } finally {
        store.close();
      }
    } finally {
      await broker.close();
    }
  });

  it("opens a store the run store created at the current version, and the store opens one the broker created", async () => {
    const dir = tempDir();
    openStore({ path: join(dir, "a.db") }).close();
    const a = openSqliteBroker({ path: join(dir, "a.db") });
    await a.enqueue(makeRun());
    await a.close();
    const b = openSqliteBroker({ path: join(dir, "b.db") });
    await b.close();
    const store = openStore({ path: join(dir, "b.db"), readonly: true });
    store.close();
    expect(readRows(join(dir, "a.db"), "SELECT count(*) AS n FROM queue")).toEqual([{ n: 1 }]);
  });

  it("refuses a SQLite database that is not a run store, leaving it untouched", () => {
    const path = join(tempDir(), "app.db");
    const db = new Database(path);
    db.exec("CREATE TABLE users (name TEXT)");
    db.close();
    expect(() => openSqliteBroker({ path })).toThrow(/not a fluid-tasks run store/);
    expect(readRows(path, "SELECT name FROM sqlite_master")).toEqual([{ name: "users" }]);
  });
});
