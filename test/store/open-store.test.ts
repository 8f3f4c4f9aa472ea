import { spawnSync } from "node:child_process";
import { setImmediate as tick } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { StoreError } from "../../src/core/errors.js";
import { newRunId } from "../../src/core/run-id.js";
import { isPidAlive, openStore, type RunRecord } from "../../src/store/index.js";
import { catchStoreError, makeRecord, readTable, useTempStores } from "./temp-store.js";

const { open } = useTempStores();

describe("openStore: records", () => {
  it("round-trips every field of an attempt", () => {
    const store = open();
    const full: RunRecord = {
      id: "01J9ZK4Q6Y",
      attempt: 2,
      maxAttempts: 3,
      task: "resize",
      state: "failure",
      trigger: "retry",
      params: { path: "/tmp/a.png", sizes: [1, 2], nested: { ok: true }, nothing: null },
      result: { partial: [1, "two"] },
      error: { name: "Error", message: "boom", code: "E_BOOM", stack: "Error: boom\n    at x", cause: { name: "TypeError", message: "inner" } },
      queuedAt: 1_700_000_000_000,
      startedAt: 1_700_000_000_100,
      endedAt: 1_700_000_001_100,
      durationMs: 1000,
      fromRunId: "01J9ZK0000",
      rootRunId: "01J9ZJ0000",
      host: "box-1",
      pid: 31337,
      exitCode: 1,
    };
    store.writeAttempt(full);
    const details = store.getRun(full.id);
    expect(details.run).toStrictEqual(full);
    expect(details.attempts).toStrictEqual([full]);
  });

  it("leaves absent optional fields out instead of setting them to undefined", () => {
    const store = open();
    store.writeAttempt(makeRecord({ queuedAt: 5 }));
    const run = store.getRun("run-0001").run;
    expect(Object.keys(run).sort()).toEqual(["attempt", "host", "id", "maxAttempts", "params", "pid", "queuedAt", "state", "task", "trigger"]);
  });

  it("records values JSON cannot hold as-is without failing the write", () => {
    const store = open();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    store.writeAttempt(makeRecord({ params: { big: 10n }, result: cyclic }));
    const run = store.getRun("run-0001").run;
    expect(run.params).toEqual({ big: "10" });
    expect(run.result).toMatchObject({ unserializable: expect.stringMatching(/circular/i) });
  });

  it("keeps every attempt of a retried run, and the latest is the run", () => {
    const store = open();
    store.writeAttempt(makeRecord({ id: "r1", attempt: 1, maxAttempts: 3, state: "running", startedAt: 10 }));
    store.writeAttempt(makeRecord({ id: "r1", attempt: 1, maxAttempts: 3, state: "failure", startedAt: 10, endedAt: 20 }));
    store.writeAttempt(makeRecord({ id: "r1", attempt: 2, maxAttempts: 3, state: "queued", trigger: "retry", queuedAt: 30 }));
    store.flush();
    store.writeAttempt(makeRecord({ id: "r1", attempt: 2, maxAttempts: 3, state: "success", trigger: "retry", queuedAt: 30, endedAt: 40 }));
    const details = store.getRun("r1");
    expect(details.attempts.map((a) => [a.attempt, a.state])).toEqual([
      [1, "failure"],
      [2, "success"],
    ]);
    expect(details.run.attempt).toBe(2);
    expect(store.listRuns({})).toHaveLength(1);
    expect(store.listRuns({}).at(0)).toMatchObject({ id: "r1", attempt: 2, state: "success" });
  });

  it("flushes buffered writes on the next tick without being asked", async () => {
    const store = open();
    store.writeAttempt(makeRecord({ id: "later" }));
    expect(readTable(store.path, "SELECT id FROM runs")).toEqual([]);
    await tick();
    expect(readTable(store.path, "SELECT id FROM runs")).toEqual([{ id: "later" }]);
  });

  it("flushes at once when batchRows are waiting", () => {
    const store = open({ batchRows: 3 });
    store.writeAttempt(makeRecord({ id: "a" }));
    store.writeAttempt(makeRecord({ id: "b" }));
    expect(readTable(store.path, "SELECT count(*) AS n FROM runs")).toEqual([{ n: 0 }]);
    store.appendLogs("b", 1, [{ ts: 1, level: "info", message: "x" }]);
    expect(readTable(store.path, "SELECT count(*) AS n FROM runs")).toEqual([{ n: 2 }]);
  });

  it("uses WAL so readers and writers of other processes do not block each other", () => {
    const store = open();
    store.writeAttempt(makeRecord());
    store.flush();
    expect(readTable(store.path, "PRAGMA journal_mode")).toEqual([{ journal_mode: "wal" }]);
  });

  it("works in memory", () => {
    const store = openStore({ path: ":memory:" });
    try {
      store.writeAttempt(makeRecord());
      expect(store.path).toBe(":memory:");
      expect(store.getRun("run-0001").run.task).toBe("say_hi");
    } finally {
      store.close();
    }
  });
});

describe("openStore: listRuns", () => {
  function seed(): ReturnType<typeof open> {
    const store = open();
    store.writeAttempt(makeRecord({ id: "a1", task: "a", state: "success", queuedAt: 100 }));
    store.writeAttempt(makeRecord({ id: "a2", task: "a", state: "failure", queuedAt: 200 }));
    store.writeAttempt(makeRecord({ id: "b1", task: "b", state: "success", queuedAt: 150 }));
    store.writeAttempt(makeRecord({ id: "b2", task: "b", state: "running", queuedAt: undefined, startedAt: 300 }));
    // Failed first, succeeded on retry: only the latest attempt counts.
    store.writeAttempt(makeRecord({ id: "a3", task: "a", attempt: 1, state: "failure", queuedAt: 250 }));
    store.writeAttempt(makeRecord({ id: "a3", task: "a", attempt: 2, state: "success", queuedAt: 260 }));
    return store;
  }

  it("lists the latest attempt of each run, newest first", () => {
    const runs = seed().listRuns();
    expect(runs.map((r) => `${r.id}#${r.attempt}`)).toEqual(["b2#1", "a3#2", "a2#1", "b1#1", "a1#1"]);
  });

  it("filters by task, state (of the latest attempt) and time, and limits", () => {
    const store = seed();
    expect(store.listRuns({ task: "a" }).map((r) => r.id)).toEqual(["a3", "a2", "a1"]);
    expect(store.listRuns({ state: "failure" }).map((r) => r.id)).toEqual(["a2"]);
    expect(store.listRuns({ task: "a", state: "success" }).map((r) => r.id)).toEqual(["a3", "a1"]);
    expect(store.listRuns({ since: 150, until: 260 }).map((r) => r.id)).toEqual(["a2", "b1"]);
    expect(store.listRuns({ limit: 2 }).map((r) => r.id)).toEqual(["b2", "a3"]);
    expect(store.listRuns({ limit: Infinity })).toHaveLength(5);
    expect(store.listRuns({ task: "nope" })).toEqual([]);
  });

  it("defaults to 100 runs", () => {
    const store = open();
    for (let i = 0; i < 120; i++) store.writeAttempt(makeRecord({ id: `r${i}`, queuedAt: i }));
    const runs = store.listRuns();
    expect(runs).toHaveLength(100);
    expect(runs[0]!.id).toBe("r119");
  });

  it("gives the latest running or finished run of each task for `fluid ls`", () => {
    const store = seed();
    store.writeAttempt(makeRecord({ id: "b3", task: "b", state: "queued", queuedAt: 999 }));
    const last = store.lastRuns();
    expect([...last.keys()].sort()).toEqual(["a", "b"]);
    expect(last.get("a")).toMatchObject({ id: "a3", attempt: 2 });
    expect(last.get("b")).toMatchObject({ id: "b2", state: "running" });
  });
});

describe("openStore: getRun", () => {
  it("finds a run by a unique prefix of its id", () => {
    const store = open();
    store.writeAttempt(makeRecord({ id: "abc123" }));
    store.writeAttempt(makeRecord({ id: "abd456" }));
    expect(store.getRun("abd").run.id).toBe("abd456");
    expect(store.getRun("abc1").run.id).toBe("abc123");
  });

  it("prefers an exact id over longer ids it is a prefix of", () => {
    const store = open();
    store.writeAttempt(makeRecord({ id: "run1" }));
    store.writeAttempt(makeRecord({ id: "run10" }));
    expect(store.getRun("run1").run.id).toBe("run1");
  });

  it("refuses an ambiguous prefix, listing candidates", () => {
    const store = open();
    for (const id of ["ab1", "ab2", "ab3", "ab4", "ab5", "ab6", "ab7"]) store.writeAttempt(makeRecord({ id, task: `t_${id}` }));
    const error = catchStoreError(() => store.getRun("ab"));
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toBe('run id prefix "ab" is ambiguous: it matches ab1 (t_ab1), ab2 (t_ab2), ab3 (t_ab3), ab4 (t_ab4), ab5 (t_ab5), ...');
    expect(error.hint).toMatch(/more characters/);
  });

  it("finds fluid's time-ordered ids by their shown head, by longer prefixes, and keeps them in time order on disk", () => {
    const store = open();
    const ids = Array.from({ length: 300 }, newRunId);
    // Two ids sharing their first 8 characters (what people see), one of them with 7 attempts.
    const twin = `${ids[0]!.slice(0, 8)}${ids[299]!.slice(8)}`;
    for (const id of ids) store.writeAttempt(makeRecord({ id, task: "t" }));
    for (let attempt = 1; attempt <= 7; attempt++) store.writeAttempt(makeRecord({ id: ids[0]!, attempt, task: "t" }));
    store.writeAttempt(makeRecord({ id: twin, task: "twin" }));
    for (const id of ids.slice(1, 299)) {
      expect(store.getRun(id.slice(0, 8)).run.id).toBe(id);
      expect(store.getRun(id.slice(0, 14)).run.id).toBe(id);
    }
    // (7 attempts of one id are one candidate: the other id is still found.)
    const ambiguous = catchStoreError(() => store.getRun(ids[0]!.slice(0, 8)));
    expect(ambiguous.message).toBe(`run id prefix "${ids[0]!.slice(0, 8)}" is ambiguous: it matches ${[`${ids[0]} (t)`, `${twin} (twin)`].sort().join(", ")}`);
    expect(store.getRun(ids[0]!).attempts).toHaveLength(7);
    expect(store.getRun(ids[0]!.slice(0, 19)).run.id).toBe(ids[0]);
    expect(store.getRun(twin.slice(0, 19)).run.id).toBe(twin);
    expect(catchStoreError(() => store.getRun(`${ids[5]!.slice(0, 8)}x`)).message).toMatch(/no run with id/);
    // The key index holds them in the order they were made.
    store.flush();
    expect((readTable(store.path, "SELECT id FROM runs INDEXED BY runs_key WHERE task = 't' AND attempt = 1 ORDER BY id_key") as Array<{ id: string }>).map((r) => r.id)).toEqual(ids);
  });

  it("refuses an unknown id, saying where it looked", () => {
    const store = open();
    store.writeAttempt(makeRecord({ id: "abc" }));
    const error = catchStoreError(() => store.getRun("zzz"));
    expect(error).toMatchObject({ name: "StoreError", code: "FLUID_STORE" });
    expect(error.message).toBe(`no run with id "zzz" in ${store.path}`);
    expect(catchStoreError(() => store.getRun("")).message).toMatch(/no run id/);
  });

  it("links parent, root and children", () => {
    const store = open();
    store.writeAttempt(makeRecord({ id: "root", queuedAt: 1 }));
    store.writeAttempt(makeRecord({ id: "mid", fromRunId: "root", rootRunId: "root", queuedAt: 2 }));
    store.writeAttempt(makeRecord({ id: "leaf1", fromRunId: "mid", rootRunId: "root", queuedAt: 3 }));
    store.writeAttempt(makeRecord({ id: "leaf2", fromRunId: "mid", rootRunId: "root", queuedAt: 4, attempt: 1, state: "failure" }));
    store.writeAttempt(makeRecord({ id: "leaf2", fromRunId: "mid", rootRunId: "root", queuedAt: 5, attempt: 2 }));
    const mid = store.getRun("mid");
    expect(mid.parent?.id).toBe("root");
    expect(mid.root?.id).toBe("root");
    expect(mid.children.map((c) => `${c.id}#${c.attempt}`)).toEqual(["leaf1#1", "leaf2#2"]);
    const leaf = store.getRun("leaf1");
    expect(leaf.parent?.id).toBe("mid");
    expect(leaf.root?.id).toBe("root");
    expect(store.children("root").map((c) => c.id)).toEqual(["mid"]);
    expect(store.getRun("root").root).toBeUndefined();
  });
});

describe("openStore: logs", () => {
  it("returns log lines of every attempt in order", () => {
    const store = open();
    store.writeAttempt(makeRecord({ id: "r", attempt: 1 }));
    store.appendLogs("r", 1, [{ ts: 1, level: "info", message: "one" }]);
    store.appendLogs("r", 1, [{ ts: 2, level: "stderr", message: "two" }]);
    store.flush();
    store.appendLogs("r", 2, [{ ts: 3, level: "error", message: "three" }]);
    store.appendLogs("r", 1, [{ ts: 4, level: "debug", message: "four" }]);
    const details = store.getRun("r");
    expect(details.logs).toEqual([
      { attempt: 1, ts: 1, level: "info", message: "one" },
      { attempt: 1, ts: 2, level: "stderr", message: "two" },
      { attempt: 1, ts: 4, level: "debug", message: "four" },
      { attempt: 2, ts: 3, level: "error", message: "three" },
    ]);
    expect(details.droppedLogLines).toBe(0);
  });

  it("keeps the head and the tail of each attempt's lines within logCap, counts the rest and marks the gap", () => {
    const store = open({ logCap: 3 });
    const lines = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({ ts: from + i, level: "info" as const, message: `line ${from + i}` }));
    store.writeAttempt(makeRecord({ id: "r" }));
    store.appendLogs("r", 1, lines(0, 2));
    store.flush(); // the cap holds across flushes, not only within one
    store.appendLogs("r", 1, lines(2, 4));
    store.flush();
    store.appendLogs("r", 1, lines(6, 1));
    store.appendLogs("r", 2, lines(100, 3));
    const details = store.getRun("r");
    expect(details.droppedLogLines).toBe(4);
    expect(details.droppedLogBytes).toBe(4 * "line 1".length);
    expect(details.logs.map((l) => `${l.attempt}:${l.message}`)).toEqual([
      "1:line 0",
      "1:[fluid] … 4 lines (24 bytes) dropped … (logCap: the store keeps the first and the last lines of an attempt)",
      "1:line 5",
      "1:line 6",
      "2:line 100",
      "2:line 101",
      "2:line 102",
    ]);
    expect(details.logs[1]).toMatchObject({ level: "warn", ts: 5 });
    expect(readTable(store.path, "SELECT count(*) AS n FROM logs")).toEqual([{ n: 6 }]);
  });
});

describe("openStore: task and schedule state", () => {
  it("enables and disables tasks with a reason", () => {
    const store = open();
    const before = Date.now();
    store.setTaskEnabled("say_hi", false, "flaky upstream");
    store.setTaskEnabled("resize", false);
    store.setTaskEnabled("resize", true);
    const states = store.taskStates();
    expect(states.get("say_hi")).toMatchObject({ enabled: false, reason: "flaky upstream" });
    expect(states.get("resize")).toEqual({ enabled: true, changedAt: expect.any(Number) });
    expect(states.get("say_hi")!.changedAt).toBeGreaterThanOrEqual(before);
  });

  it("keeps the last fire of each schedule, visible to other connections after a flush", () => {
    const store = open();
    store.setLastFire("tick", 1000);
    store.setLastFire("tick", 2000);
    store.setLastFire("tock", 1500);
    expect(store.lastFires()).toEqual(new Map([["tick", 2000], ["tock", 1500]]));
    const other = openStore({ path: store.path, readonly: true });
    try {
      expect(other.lastFires().get("tick")).toBe(2000);
    } finally {
      other.close();
    }
  });
});

describe("openStore: markInterrupted", () => {
  it("marks runs left running by a dead process on this host, and only those", () => {
    const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
    expect(isPidAlive(dead)).toBe(false);
    expect(isPidAlive(process.pid)).toBe(true);
    const store = open();
    store.writeAttempt(makeRecord({ id: "dead", state: "running", host: "h1", pid: dead, startedAt: Date.now() - 5000 }));
    store.writeAttempt(makeRecord({ id: "alive", state: "running", host: "h1", pid: process.pid }));
    store.writeAttempt(makeRecord({ id: "elsewhere", state: "running", host: "h2", pid: dead }));
    store.writeAttempt(makeRecord({ id: "done", state: "success", host: "h1", pid: dead }));

    const marked = store.markInterrupted({ host: "h1", pidAlive: isPidAlive });
    expect(marked.map((r) => r.id)).toEqual(["dead"]);
    expect(marked[0]).toMatchObject({ state: "interrupted", error: { name: "RunInterruptedError", code: "FLUID_INTERRUPTED" } });
    expect(marked[0]!.error!.message).toContain(`pid ${dead} on h1`);
    expect(marked[0]!.durationMs).toBeGreaterThanOrEqual(5000);
    expect(store.getRun("dead").run).toStrictEqual(marked[0]);
    expect(store.getRun("alive").run.state).toBe("running");
    expect(store.getRun("elsewhere").run.state).toBe("running");
    expect(store.getRun("done").run.state).toBe("success");
    // Nothing left to mark on h1; without pidAlive every running attempt of the host counts as gone.
    expect(store.markInterrupted({ host: "h1", pidAlive: isPidAlive })).toEqual([]);
    expect(store.markInterrupted({ host: "h2" }).map((r) => r.id)).toEqual(["elsewhere"]);
  });
});

describe("openStore: lifecycle", () => {
  it("refuses calls after close, and close is idempotent", () => {
    const store = open();
    store.writeAttempt(makeRecord());
    store.close();
    store.close();
    expect(readTable(store.path, "SELECT id FROM runs")).toEqual([{ id: "run-0001" }]);
    expect(() => store.writeAttempt(makeRecord())).toThrow(/is closed/);
    expect(() => store.listRuns()).toThrow(StoreError);
  });

  it("refuses writes to a store opened read-only, and reads it", () => {
    const writer = open();
    writer.writeAttempt(makeRecord());
    writer.flush();
    const reader = openStore({ path: writer.path, readonly: true });
    try {
      expect(reader.listRuns().map((r) => r.id)).toEqual(["run-0001"]);
      const error = catchStoreError(() => reader.writeAttempt(makeRecord({ id: "x" })));
      expect(error).toBeInstanceOf(StoreError);
      expect(error.message).toMatch(/opened read-only/);
      expect(() => reader.setTaskEnabled("t", false)).toThrow(/read-only/);
    } finally {
      reader.close();
    }
  });

  it("refuses a record without an id or an integer attempt at once", () => {
    const store = open();
    expect(() => store.writeAttempt(makeRecord({ id: "" }))).toThrow(StoreError);
    expect(() => store.writeAttempt(makeRecord({ attempt: 1.5 }))).toThrow(/integer attempt/);
  });
});
