import { setImmediate as tick } from "node:timers/promises";
import Database from "better-sqlite3";
import { describe, expect, it, vi } from "vitest";
import { StoreError } from "../../src/core/errors.js";
import { holdWriteLock, makeRecord, readTable, useTempStores } from "./temp-store.js";

const { open } = useTempStores();


const ids = (path: string): string[] => (readTable(path, "SELECT id FROM runs ORDER BY id") as Array<{ id: string }>).map((r) => r.id);

describe("store write buffer", () => {
  it("reports a failed background flush to onError, keeps the rows and retries", async () => {
    const errors: StoreError[] = [];
    const store = open({ busyTimeoutMs: 20, onError: (e) => errors.push(e) });
    store.writeAttempt(makeRecord({ id: "before" }));
    store.flush();

    const lock = holdWriteLock(store.path);
    store.writeAttempt(makeRecord({ id: "during" }));
    store.appendLogs("during", 1, [{ ts: 1, level: "info", message: "kept" }]);
    await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0));
    expect(errors[0]).toBeInstanceOf(StoreError);
    expect(errors[0]!.message).toMatch(/another process held the file locked for too long, while recording runs/);
    expect(errors[0]!.message).toMatch(/\(2 rows kept to retry\) \(records and log lines are kept in memory; retrying with backoff/);
    expect(((errors[0]!.cause as StoreError).cause as { code?: string }).code).toBe("SQLITE_BUSY");
    // An explicit flush says so by throwing; the rows are still kept.
    expect(() => store.flush()).toThrow(/rows kept to retry/);
    // Retries go on (100, 200, 400 ms...) without a line each: one line per outage.
    await new Promise((r) => setTimeout(r, 800));
    expect(errors).toHaveLength(1);

    lock.release();
    await vi.waitFor(() => expect(ids(store.path)).toEqual(["before", "during"]), { timeout: 5000 });
    expect(store.getRun("during").logs.map((l) => l.message)).toEqual(["kept"]);
    expect(errors).toHaveLength(2);
    expect(errors[1]!.message).toMatch(/^the run store is written again after \d+\.\ds \(\d+ failed attempts; 2 kept rows written\)$/);
  });

  it("drops the oldest rows beyond maxBufferedRows while writes fail, and says how many", async () => {
    const errors: StoreError[] = [];
    const store = open({ busyTimeoutMs: 10, maxBufferedRows: 5, onError: (e) => errors.push(e) });
    store.flush();
    const lock = holdWriteLock(store.path);
    for (let i = 0; i < 8; i++) store.writeAttempt(makeRecord({ id: `r${i}` }));
    expect(() => store.flush()).toThrow(/\(5 rows kept to retry, 3 older rows dropped\)/);
    lock.release();
    store.flush();
    expect(ids(store.path)).toEqual(["r3", "r4", "r5", "r6", "r7"]);
    expect(errors.at(-1)!.message).toBe("the run store is written again, but 3 rows buffered while it failed were dropped");
  });

  it("drops log lines before outcomes when the bound is reached", async () => {
    const store = open({ busyTimeoutMs: 10, maxBufferedRows: 5, onError: () => {} });
    store.flush();
    const lock = holdWriteLock(store.path);
    store.writeAttempt(makeRecord({ id: "r0" }));
    store.appendLogs("r0", 1, [1, 2, 3, 4].map((n) => ({ ts: n, level: "info" as const, message: `line ${n}` })));
    store.writeAttempt(makeRecord({ id: "r1" }));
    store.writeAttempt(makeRecord({ id: "r2" }));
    expect(() => store.flush()).toThrow(/\(5 rows kept to retry, 2 older rows dropped\)/);
    lock.release();
    store.flush();
    expect(ids(store.path)).toEqual(["r0", "r1", "r2"]);
    expect(store.getRun("r0").logs.map((l) => l.message)).toEqual(["line 3", "line 4"]);
  });

  it("never throws out of a timer, even when onError throws", async () => {
    const onError = vi.fn(() => {
      throw new Error("a broken onError");
    });
    const store = open({ busyTimeoutMs: 10, onError });
    store.flush();
    const lock = holdWriteLock(store.path);
    try {
      store.writeAttempt(makeRecord());
      await vi.waitFor(() => expect(onError).toHaveBeenCalled());
      await tick();
    } finally {
      lock.release();
    }
    store.flush();
    expect(ids(store.path)).toEqual(["run-0001"]);
  });

  it("prints one line to stderr by default", async () => {
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const store = open({ busyTimeoutMs: 10 });
      store.flush();
      const lock = holdWriteLock(store.path);
      try {
        store.writeAttempt(makeRecord());
        await vi.waitFor(() => expect(write).toHaveBeenCalled());
      } finally {
        lock.release();
      }
      const line = String(write.mock.calls[0]![0]);
      expect(line).toMatch(/^fluid-tasks: run store .*runs\.db: another process held the file locked for too long/);
      expect(line.indexOf("\n")).toBe(line.length - 1);
    } finally {
      write.mockRestore();
    }
  });

  it("writes the good rows of a batch SQLite refuses one row of, and reports the bad one", () => {
    const errors: StoreError[] = [];
    const store = open({ onError: (e) => errors.push(e) });
    store.flush();
    // A trigger stands in for any row SQLite refuses (a constraint): retrying cannot cure it.
    const db = new Database(store.path);
    db.exec("CREATE TRIGGER refuse BEFORE INSERT ON runs WHEN NEW.id = 'poison' BEGIN SELECT RAISE(ABORT, 'refused'); END");
    db.close();
    store.writeAttempt(makeRecord({ id: "good-1" }));
    store.writeAttempt(makeRecord({ id: "poison" }));
    store.writeAttempt(makeRecord({ id: "good-2" }));
    expect(() => store.flush()).toThrow(/refused.*\(1 rows could not be recorded and were dropped\)/);
    expect(ids(store.path)).toEqual(["good-1", "good-2"]);
    store.writeAttempt(makeRecord({ id: "good-3" }));
    store.flush();
    expect(ids(store.path)).toEqual(["good-1", "good-2", "good-3"]);
  });

  it("closes the file even when the final flush fails, saying how many rows were lost", () => {
    const store = open({ busyTimeoutMs: 10 });
    store.flush();
    const lock = holdWriteLock(store.path);
    try {
      store.writeAttempt(makeRecord({ id: "a" }));
      store.writeAttempt(makeRecord({ id: "b" }));
      expect(() => store.close()).toThrow(/\(2 buffered rows were not recorded\)$/);
      expect(() => store.listRuns()).toThrow(/is closed/);
    } finally {
      lock.release();
    }
  });
});
