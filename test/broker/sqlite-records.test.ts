import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openSqliteBroker } from "../../src/broker/sqlite.js";
import { openStore, type RunRecord } from "../../src/store/index.js";
import { makeRun, T0 } from "./broker-contract.js";
import { readRows, useTempDirs } from "./temp-dirs.js";

const tempDir = useTempDirs();

const queuedRecord = (id: string, overrides: Partial<RunRecord> = {}): RunRecord => ({
  id, attempt: 1, maxAttempts: 1, task: "say_hi", state: "queued", trigger: "queue", params: { name: "bob" }, queuedAt: T0, host: "h", pid: 1, ...overrides,
});

describe("sqlite broker: the queue row and the queued record are one write", () => {
  it("commits the record with the queue row, before the enqueue resolves", async () => {
    const path = join(tempDir(), "runs.db");
    const broker = openSqliteBroker({ path });
    try {
      expect(broker.recordsRuns).toBe(true);
      expect(await broker.enqueue(makeRun({ id: "r1" }), queuedRecord("r1"))).toBe(true);
      // Read by another connection, as the daemon would: both rows are there, nothing else was flushed.
      expect(readRows(path, "SELECT id FROM queue")).toEqual([{ id: "r1" }]);
      expect(readRows(path, "SELECT id, attempt, state FROM runs")).toEqual([{ id: "r1", attempt: 1, state: "queued" }]);
    } finally {
      await broker.close();
    }
  });

  it("refuses an id that is queued or already recorded, writing nothing", async () => {
    const path = join(tempDir(), "runs.db");
    const store = openStore({ path });
    const broker = openSqliteBroker({ path });
    try {
      store.writeAttempt(queuedRecord("done", { state: "success", endedAt: T0 + 5 }));
      store.flush();
      expect(await broker.enqueue(makeRun({ id: "done" }), queuedRecord("done"))).toBe(false);
      expect(await broker.enqueue(makeRun({ id: "q" }), queuedRecord("q"))).toBe(true);
      expect(await broker.enqueue(makeRun({ id: "q", params: { v: 2 } }), queuedRecord("q", { params: { v: 2 } }))).toBe(false);
      expect(readRows(path, "SELECT id FROM queue")).toEqual([{ id: "q" }]);
      expect(readRows(path, "SELECT id, state, params FROM runs ORDER BY id")).toEqual([
        { id: "done", state: "success", params: '{"name":"bob"}' },
        { id: "q", state: "queued", params: '{"name":"bob"}' },
      ]);
    } finally {
      await broker.close();
      store.close();
    }
  });

  it("rejects an enqueue whose record is of another run, queueing nothing", async () => {
    const path = join(tempDir(), "runs.db");
    const broker = openSqliteBroker({ path });
    try {
      await expect(broker.enqueue(makeRun({ id: "a" }), queuedRecord("b"))).rejects.toThrow(/its record is of run "b"/);
      expect(await broker.has("a")).toBe(false);
    } finally {
      await broker.close();
    }
  });

  it("never lets a late `queued` record replace the daemon's `success`", async () => {
    const path = join(tempDir(), "runs.db");
    const daemonStore = openStore({ path });
    const broker = openSqliteBroker({ path });
    try {
      // The daemon has run and recorded r1 already (the producer's record was slow).
      await broker.enqueue(makeRun({ id: "r1" }));
      daemonStore.writeAttempt(queuedRecord("r1", { state: "running", startedAt: T0 + 1 }));
      daemonStore.writeAttempt(queuedRecord("r1", { state: "success", startedAt: T0 + 1, endedAt: T0 + 2, result: 7 }));
      daemonStore.flush();
      // A late `queued` record from another connection, and one from the same process.
      const producerStore = openStore({ path });
      producerStore.writeAttempt(queuedRecord("r1"));
      producerStore.close();
      daemonStore.writeAttempt(queuedRecord("r1"));
      daemonStore.flush();
      expect(readRows(path, "SELECT state, result, started_at FROM runs")).toEqual([{ state: "success", result: "7", started_at: T0 + 1 }]);
      // Both in one turn, before a flush: the buffer keeps the record further along too.
      daemonStore.writeAttempt(queuedRecord("r3", { state: "success" }));
      daemonStore.writeAttempt(queuedRecord("r3"));
      daemonStore.flush();
      expect(readRows(path, "SELECT state FROM runs WHERE id = 'r3'")).toEqual([{ state: "success" }]);
      // An interrupted attempt runs again (shutdown re-queues the same attempt): running replaces interrupted.
      daemonStore.writeAttempt(queuedRecord("r2", { state: "interrupted" }));
      daemonStore.writeAttempt(queuedRecord("r2", { state: "queued" }));
      daemonStore.flush();
      expect(readRows(path, "SELECT state FROM runs WHERE id = 'r2'")).toEqual([{ state: "interrupted" }]);
      daemonStore.writeAttempt(queuedRecord("r2", { state: "running" }));
      daemonStore.flush();
      expect(readRows(path, "SELECT state FROM runs WHERE id = 'r2'")).toEqual([{ state: "running" }]);
    } finally {
      await broker.close();
      daemonStore.close();
    }
  });
});
