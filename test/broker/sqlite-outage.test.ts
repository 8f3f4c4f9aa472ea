import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it, vi } from "vitest";
import { openSqliteBroker } from "../../src/broker/sqlite.js";
import type { StoreError } from "../../src/core/errors.js";
import { makeRun, T0 } from "./broker-contract.js";
import { readRows, useTempDirs } from "./temp-dirs.js";
import { holdWriteLock } from "../store/temp-store.js";

const tempDir = useTempDirs();


describe("sqlite broker while the store cannot be written", () => {
  it("keeps acks and retries in memory until they land, claims nothing meanwhile, and says so twice", async () => {
    const path = join(tempDir(), "runs.db");
    const errors: StoreError[] = [];
    const broker = openSqliteBroker({ path, busyTimeoutMs: 10, onError: (e) => errors.push(e) });
    try {
      for (const id of ["a", "b", "c"]) await broker.enqueue(makeRun({ id }));
      expect(await broker.claim({ max: 2, owner: "w", now: T0 })).toHaveLength(2);

      const lock = holdWriteLock(path);
      // The outcomes are known: neither call may fail, or the consumer would crash and the runs run again.
      expect(await Promise.all([broker.ack("a"), broker.retry("b", 2, T0 + 1)])).toEqual([undefined, true]);
      expect(errors).toHaveLength(1);
      expect(errors[0]!.message).toMatch(/locked for too long.*\(2 acks and retries kept in memory; retrying with backoff/);
      // Claims find nothing rather than throw, and retries go on quietly.
      for (let i = 0; i < 20; i++) expect(await broker.claim({ max: 5, owner: "w", now: T0 + 10 })).toEqual([]);
      await new Promise((r) => setTimeout(r, 400));
      expect(errors).toHaveLength(1);
      // An enqueue fails whole: rejected, and nothing queued.
      await expect(broker.enqueue(makeRun({ id: "d" }))).rejects.toMatchObject({ code: "FLUID_STORE" });

      lock.release();
      await vi.waitFor(() => expect(readRows(path, "SELECT id, attempt, claimed_by FROM queue ORDER BY id")).toEqual([
        { id: "b", attempt: 2, claimed_by: null },
        { id: "c", attempt: 1, claimed_by: null },
      ]), { timeout: 10_000 });
      expect(errors).toHaveLength(2);
      expect(errors[1]!.message).toMatch(/^the run store is written again after \d+\.\ds \(\d+ failed attempts; 2 kept acks and retries landed\)$/);
      expect(await broker.has("d")).toBe(false);
    } finally {
      await broker.close();
    }
  });

  it("commits the kept writes on close when it can, and reports those it cannot instead of throwing", async () => {
    const path = join(tempDir(), "runs.db");
    const errors: StoreError[] = [];
    const broker = openSqliteBroker({ path, busyTimeoutMs: 10, onError: (e) => errors.push(e) });
    await broker.enqueue(makeRun({ id: "a" }));
    await broker.claim({ max: 1, owner: "w", now: T0 });
    const lock = holdWriteLock(path);
    await broker.ack("a");
    await expect(broker.close()).resolves.toBeUndefined();
    lock.release();
    expect(errors.at(-1)!.message).toMatch(/1 acks and retries could not be written: those runs run again after a restart/);
    expect(readRows(path, "SELECT id FROM queue")).toEqual([{ id: "a" }]);

    const again = openSqliteBroker({ path, busyTimeoutMs: 10 });
    await again.claim({ max: 1, owner: "w", now: T0 });
    const lock2 = holdWriteLock(path);
    await again.ack("a");
    lock2.release();
    await again.close(); // the lock is gone: the kept ack lands on close
    expect(readRows(path, "SELECT id FROM queue")).toEqual([]);
  });

  it("rejects alone a write SQLite refuses, committing the others of the same turn", async () => {
    const path = join(tempDir(), "runs.db");
    const broker = openSqliteBroker({ path });
    try {
      const db = new Database(path);
      db.exec("CREATE TRIGGER refuse BEFORE INSERT ON queue WHEN NEW.id = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END");
      db.close();
      const results = await Promise.allSettled(["ok1", "bad", "ok2"].map((id) => broker.enqueue(makeRun({ id }))));
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
      expect(readRows(path, "SELECT id FROM queue ORDER BY id")).toEqual([{ id: "ok1" }, { id: "ok2" }]);
    } finally {
      await broker.close();
    }
  });
});
