import { describe, expect, it } from "vitest";
import { PRUNE_CHUNK } from "../../src/store/prune.js";
import { makeRecord, readTable, useTempStores } from "./temp-store.js";

const { open } = useTempStores();

const DAY = 86_400_000;
const NOW = 1_750_000_000_000;

const count = (path: string, table: string): number => (readTable(path, `SELECT count(*) AS n FROM ${table}`)[0] as { n: number }).n;

describe("store prune", () => {
  it("deletes runs older than `days`, with every attempt and log line", () => {
    const store = open({ retention: { days: 30 } });
    store.writeAttempt(makeRecord({ id: "old", attempt: 1, state: "failure", queuedAt: NOW - 40 * DAY, endedAt: NOW - 40 * DAY }));
    store.writeAttempt(makeRecord({ id: "old", attempt: 2, state: "success", queuedAt: NOW - 39 * DAY, endedAt: NOW - 39 * DAY }));
    store.appendLogs("old", 1, [{ ts: NOW - 40 * DAY, level: "info", message: "bye" }]);
    store.writeAttempt(makeRecord({ id: "recent", queuedAt: NOW - 10 * DAY, endedAt: NOW - 10 * DAY }));
    // Queued long ago but its retry ended yesterday: the run is recent.
    store.writeAttempt(makeRecord({ id: "retried", attempt: 1, state: "failure", queuedAt: NOW - 40 * DAY, endedAt: NOW - 40 * DAY }));
    store.writeAttempt(makeRecord({ id: "retried", attempt: 2, state: "success", queuedAt: NOW - 2 * DAY, endedAt: NOW - DAY }));
    // Started long ago and still running (or left running): never deleted by retention.
    store.writeAttempt(makeRecord({ id: "running", state: "running", queuedAt: NOW - 40 * DAY }));

    expect(store.prune(NOW)).toEqual({ deleted: 1 });
    expect(store.listRuns().map((r) => r.id).sort()).toEqual(["recent", "retried", "running"]);
    expect(count(store.path, "runs")).toBe(4);
    expect(count(store.path, "logs")).toBe(0);
    expect(count(store.path, "log_counts")).toBe(0);
    expect(() => store.getRun("old")).toThrow(/no run with id/);
  });

  it("keeps the newest `perTask` runs of each task", () => {
    const store = open({ retention: { days: Infinity, perTask: 3 } });
    for (let i = 0; i < 6; i++) {
      store.writeAttempt(makeRecord({ id: `a${i}`, task: "a", queuedAt: NOW - (10 - i) * 1000, state: i === 1 ? "running" : "success" }));
      store.appendLogs(`a${i}`, 1, [{ ts: NOW, level: "info", message: `a${i}` }]);
    }
    store.writeAttempt(makeRecord({ id: "b0", task: "b", queuedAt: NOW - 99 * DAY }));
    store.writeAttempt(makeRecord({ id: "b1", task: "b", queuedAt: NOW - 98 * DAY }));

    // a5, a4, a3 are the newest three; a1 is beyond them but running, so it stays.
    expect(store.prune(NOW)).toEqual({ deleted: 2 });
    expect(store.listRuns({ task: "a" }).map((r) => r.id)).toEqual(["a5", "a4", "a3", "a1"]);
    expect(store.listRuns({ task: "b" }).map((r) => r.id)).toEqual(["b1", "b0"]);
    expect(count(store.path, "logs")).toBe(4);
  });

  it("counts runs, not attempts, against perTask", () => {
    const store = open({ retention: { days: Infinity, perTask: 2 } });
    for (const id of ["x", "y"]) {
      for (let attempt = 1; attempt <= 3; attempt++) {
        store.writeAttempt(makeRecord({ id, attempt, state: attempt < 3 ? "failure" : "success", queuedAt: NOW + attempt }));
      }
    }
    expect(store.prune(NOW)).toEqual({ deleted: 0 });
    expect(count(store.path, "runs")).toBe(6);
  });

  it("deletes in chunks until everything beyond the retention is gone", () => {
    const store = open({ retention: { days: 1, perTask: 10 } });
    const old = PRUNE_CHUNK * 2 + 7;
    for (let i = 0; i < old; i++) {
      store.writeAttempt(makeRecord({ id: `old-${i}`, task: `t${i % 3}`, queuedAt: NOW - 5 * DAY + i, endedAt: NOW - 5 * DAY + i }));
    }
    for (let i = 0; i < 15; i++) store.writeAttempt(makeRecord({ id: `new-${i}`, task: "t0", queuedAt: NOW - 1000 + i }));
    expect(store.prune(NOW)).toEqual({ deleted: old + 5 });
    expect(count(store.path, "runs")).toBe(10);
  });

  it("uses the defaults of 30 days and 1000 runs per task", () => {
    const store = open();
    store.writeAttempt(makeRecord({ id: "d31", queuedAt: NOW - 31 * DAY }));
    store.writeAttempt(makeRecord({ id: "d29", queuedAt: NOW - 29 * DAY }));
    for (let i = 0; i < 1001; i++) store.writeAttempt(makeRecord({ id: `n${i}`, task: "busy", queuedAt: NOW - 1000 + i }));
    expect(store.prune(NOW)).toEqual({ deleted: 2 });
    expect(() => store.getRun("n0")).toThrow(/no run/);
    expect(store.getRun("d29").run.id).toBe("d29");
  });
});
