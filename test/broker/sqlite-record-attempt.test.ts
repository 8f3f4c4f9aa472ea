import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it, vi } from "vitest";
import { openSqliteBroker } from "../../src/broker/sqlite.js";
import type { StoreError } from "../../src/core/errors.js";
import { acquireLease, thisProcess } from "../../src/persistence/lease.js";
import { openStore, type RunRecord } from "../../src/store/index.js";
import { holdWriteLock } from "../store/temp-store.js";
import { makeRun, T0 } from "./broker-contract.js";
import { readRows, useTempDirs } from "./temp-dirs.js";

// Broker.recordAttempt: the daemon's consumer records attempts through the SQLite broker, in
// the group commit that also writes the acks of the same turn.

const tempDir = useTempDirs();

const record = (id: string, state: RunRecord["state"], overrides: Partial<RunRecord> = {}): RunRecord => ({
  id, attempt: 1, maxAttempts: 1, task: "say_hi", state, trigger: "queue", params: { name: "bob" }, queuedAt: T0, host: "h", pid: 1, ...overrides,
});

/** Opens the store once, so the file has the runs table the broker writes into. */
function storeFile(): string {
  const path = join(tempDir(), "runs.db");
  openStore({ path }).close();
  return path;
}

describe("sqlite broker: recordAttempt", () => {
  it("commits a run's record with its ack, one row for records of one turn, never going backwards", async () => {
    const path = storeFile();
    const broker = openSqliteBroker({ path });
    try {
      for (const id of ["a", "b"]) await broker.enqueue(makeRun({ id }));
      await broker.claim({ max: 2, owner: "w", now: T0 });
      // a starts and ends in one turn; b ends and then a late `running` record of it comes.
      broker.recordAttempt!(record("a", "running", { startedAt: T0 + 1 }));
      broker.recordAttempt!(record("a", "success", { startedAt: T0 + 1, endedAt: T0 + 2, result: 3 }));
      broker.recordAttempt!(record("b", "failure", { startedAt: T0 + 1, endedAt: T0 + 2, error: { name: "Error", message: "no" } }));
      broker.recordAttempt!(record("b", "running", { startedAt: T0 + 1 }));
      // Nothing is written before the commit.
      expect(readRows(path, "SELECT id FROM runs")).toEqual([]);
      await Promise.all([broker.ack("a"), broker.ack("b")]);
      // The ack resolved: the records and the acks are committed, together.
      expect(readRows(path, "SELECT id FROM queue")).toEqual([]);
      expect(readRows(path, "SELECT id, state, result FROM runs ORDER BY id")).toEqual([
        { id: "a", state: "success", result: "3" },
        { id: "b", state: "failure", result: null },
      ]);
      // A later commit does not put a record back either.
      broker.recordAttempt!(record("a", "running", { startedAt: T0 + 1 }));
      await broker.has("a"); // a read commits the buffered writes
      expect(readRows(path, "SELECT state FROM runs WHERE id = 'a'")).toEqual([{ state: "success" }]);
    } finally {
      await broker.close();
    }
  });

  it("drops and reports a record SQLite refuses, committing the other records and acks of the turn", async () => {
    const path = storeFile();
    const db = new Database(path);
    db.exec("CREATE TRIGGER refuse BEFORE INSERT ON runs WHEN NEW.id = 'bad' BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END");
    db.close();
    const errors: StoreError[] = [];
    const broker = openSqliteBroker({ path, onError: (e) => errors.push(e) });
    try {
      for (const id of ["bad", "good"]) await broker.enqueue(makeRun({ id }));
      await broker.claim({ max: 2, owner: "w", now: T0 });
      broker.recordAttempt!(record("bad", "success"));
      broker.recordAttempt!(record("good", "success"));
      await Promise.all([broker.ack("bad"), broker.ack("good")]);
      expect(readRows(path, "SELECT id FROM runs")).toEqual([{ id: "good" }]);
      expect(readRows(path, "SELECT id FROM queue")).toEqual([]);
      expect(errors).toHaveLength(1);
      expect(errors[0]!.message).toMatch(/refused by a test trigger.*\(1 run records could not be written and were dropped\)/);
    } finally {
      await broker.close();
    }
  });

  it("keeps records with the acks while the store cannot be written, and writes them once it can", async () => {
    const path = storeFile();
    const errors: StoreError[] = [];
    const broker = openSqliteBroker({ path, busyTimeoutMs: 10, onError: (e) => errors.push(e) });
    try {
      await broker.enqueue(makeRun({ id: "a" }));
      await broker.claim({ max: 1, owner: "w", now: T0 });
      const lock = holdWriteLock(path);
      broker.recordAttempt!(record("a", "success"));
      await broker.ack("a"); // kept: resolves at once
      expect(errors).toHaveLength(1);
      expect(errors[0]!.message).toMatch(/\(1 acks and retries and 1 run records kept in memory; retrying with backoff/);
      lock.release();
      await vi.waitFor(() => expect(readRows(path, "SELECT id, state FROM runs")).toEqual([{ id: "a", state: "success" }]), { timeout: 10_000 });
      expect(readRows(path, "SELECT id FROM queue")).toEqual([]);
      await vi.waitFor(() => expect(errors).toHaveLength(2));
      expect(errors[1]!.message).toMatch(/1 kept acks and retries and 1 run records landed/);
    } finally {
      await broker.close();
    }
  });

  it("still writes the records of a daemon that lost its lease, though not its acks", async () => {
    const path = storeFile();
    const db = new Database(path);
    const me = thisProcess();
    expect(acquireLease(db, me, 10_000).acquired).toBe(true);
    const broker = openSqliteBroker({ path, owner: me.owner });
    try {
      await broker.enqueue(makeRun({ id: "a" }));
      await broker.claim({ max: 1, owner: me.owner, now: T0 });
      db.prepare("UPDATE fluid_lease SET owner = 'new-holder'").run();
      broker.recordAttempt!(record("a", "success"));
      await expect(broker.ack("a")).rejects.toMatchObject({ code: "FLUID_LEASE_LOST" });
      expect(readRows(path, "SELECT id, state FROM runs")).toEqual([{ id: "a", state: "success" }]);
      expect(readRows(path, "SELECT id, claimed_by FROM queue")).toEqual([{ id: "a", claimed_by: me.owner }]);
    } finally {
      await broker.close();
      db.close();
    }
  });

  it("throws after close", async () => {
    const broker = openSqliteBroker({ path: storeFile() });
    await broker.close();
    expect(() => broker.recordAttempt!(record("a", "success"))).toThrow(expect.objectContaining({ code: "FLUID_BROKER_CLOSED" }));
  });
});
