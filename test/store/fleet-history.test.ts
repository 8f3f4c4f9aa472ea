import { Redis } from "ioredis";
import pg from "pg";
import { describe, expect, it } from "vitest";
import type { RunQuery, RunRecord } from "../../src/core/run-record.js";
import { createFleetHistory, openFleetHistory, type FleetHistory } from "../../src/store/fleet-history.js";
import type { HistoryBackend, HistoryBatch } from "../../src/store/history-backend.js";
import { openStore } from "../../src/store/index.js";
import type { Store } from "../../src/store/store.js";
import { BACKENDS, useOwnNamespace } from "../fleet/backends.js";

const T0 = Date.UTC(2026, 11, 1, 12);
const rec = (id: string, attempt: number, state: RunRecord["state"], more: Partial<RunRecord> = {}): RunRecord => ({
  id, attempt, maxAttempts: 2, task: "a", state, trigger: "queue", params: { n: 1 }, queuedAt: T0, host: "h1", pid: 7, ...more,
});

/** The same writes, to a SQLite store and to a fleet history: what the embedded store says is what the history must say. */
function writeBoth(store: Store, history: FleetHistory): void {
  const write = (r: RunRecord): void => (store.writeAttempt(r), history.writeAttempt(r));
  const logs = (id: string, attempt: number, n: number, at: number): void => {
    const lines = Array.from({ length: n }, (_, i) => ({ ts: at + i, level: "info" as const, message: `line ${i} ${"é".repeat(i)}` }));
    store.appendLogs(id, attempt, lines);
    history.appendLogs(id, attempt, lines);
  };
  write(rec("run-aa1", 1, "queued"));
  write(rec("run-aa1", 1, "running", { startedAt: T0 + 10 }));
  logs("run-aa1", 1, 10, T0 + 11);
  write(rec("run-aa1", 1, "failure", { startedAt: T0 + 10, endedAt: T0 + 30, durationMs: 20, error: { name: "Error", message: "boom" } }));
  write(rec("run-aa1", 1, "running", { startedAt: T0 + 10 })); // late: never replaces the failure
  write(rec("run-aa1", 2, "queued", { trigger: "retry", queuedAt: T0 + 40 }));
  write(rec("run-aa1", 2, "success", { trigger: "retry", queuedAt: T0 + 40, startedAt: T0 + 50, endedAt: T0 + 60, durationMs: 10, result: { ok: 1n } }));
  logs("run-aa1", 2, 3, T0 + 51);
  write(rec("run-ab2", 1, "success", { task: "b", queuedAt: T0 + 100, startedAt: T0 + 101, endedAt: T0 + 102, durationMs: 1, fromRunId: "run-aa1", rootRunId: "run-aa1", result: null }));
  write(rec("run-ac3", 1, "running", { task: "b", queuedAt: T0 + 100, startedAt: T0 + 105, fromRunId: "run-ab2", rootRunId: "run-aa1" }));
  write(rec("zz-4", 1, "cancelled", { queuedAt: T0 + 200, endedAt: T0 + 201 }));
}

describe.each(BACKENDS)("fleet run history on $name", ({ name, url, up }) => {
  const { test, target } = useOwnNamespace({ name, url, up });

  test("says what the SQLite store says of the same records: runs, attempts, logs over the cap, chains, lists, prefixes", async () => {
    const store = openStore({ path: ":memory:", logCap: 4 });
    const history = await openFleetHistory(target(), { logCap: 4 });
    try {
      writeBoth(store, history);
      store.flush();
      await history.flush();
      for (const id of ["run-aa1", "run-ab2", "run-ac3", "zz"]) expect(await history.getRun(id)).toEqual(store.getRun(id));
      const details = await history.getRun("run-aa1");
      expect(details.droppedLogLines).toBe(6);
      expect(details.logs.filter((l) => l.attempt === 1).map((l) => l.message)).toEqual(["line 0 ", "line 1 é", expect.stringMatching(/6 lines \(\d+ bytes\) dropped/), "line 8 éééééééé", "line 9 ééééééééé"]);
      const queries: RunQuery[] = [
        {}, { task: "b" }, { state: "success" }, { since: T0 + 100 }, { until: T0 + 100 }, { limit: 2 },
        { after: { at: T0 + 100, id: "run-ac3" } }, { task: "a", state: "cancelled" }, { limit: Infinity },
      ];
      for (const q of queries) expect(await history.listRuns(q)).toEqual(store.listRuns(q));
      expect(await history.latestAttempt("run-aa1")).toEqual(store.latestAttempt("run-aa1"));
      expect(await history.latestAttempt("nope")).toBeUndefined();
      expect(await history.lastRuns(["a", "none"])).toEqual(new Map([["a", store.lastRun("a")]]));
      await expect(history.getRun("run-a")).rejects.toThrow(/run id prefix "run-a" is ambiguous: it matches run-aa1 \(a\), run-ab2 \(b\), run-ac3 \(b\)/);
      await expect(history.getRun("nope")).rejects.toThrow(/no run with id "nope" in /);
    } finally {
      store.close();
      await history.close();
    }
  });
});

describe.each(BACKENDS)("fleet run history retention on $name", ({ name, url, up }) => {
  const { test, target } = useOwnNamespace({ name, url, up });
  const DAY = 86_400_000;

  /** Runs for retention: old and new, ended and still queued or running, two tasks. */
  function writeRuns(write: (r: RunRecord) => void, logs: (id: string, n: number) => void, now: number): void {
    const old = now - 40 * DAY;
    // Task a: 8 runs; the 3 newest are kept by perTask 3 (one of them running), the oldest ones are past 30 days.
    for (let i = 0; i < 6; i++) {
      const at = now - (6 - i) * 60_000;
      write(rec(`a-new-${i}`, 1, i === 5 ? "running" : "success", { queuedAt: at, startedAt: at + 1, ...(i === 5 ? {} : { endedAt: at + 2 }) }));
      logs(`a-new-${i}`, 2);
    }
    write(rec("a-old-done", 1, "failure", { queuedAt: old, startedAt: old + 1, endedAt: old + 2 }));
    logs("a-old-done", 3);
    write(rec("a-old-queued", 1, "queued", { queuedAt: old })); // never deleted, however old
    write(rec("a-old-long", 1, "success", { queuedAt: old, startedAt: old + 1, endedAt: now - DAY })); // ended yesterday: kept by days, not by perTask
    // Task b: 2 recent runs and one old.
    write(rec("b-new-0", 1, "success", { task: "b", queuedAt: now - 1000, endedAt: now - 900 }));
    write(rec("b-new-1", 1, "cancelled", { task: "b", queuedAt: now - 500, endedAt: now - 400 }));
    write(rec("b-old", 1, "timeout", { task: "b", queuedAt: old, endedAt: old + 5 }));
  }

  test("applies days and perTask as the SQLite store does (never a queued or running run), in the background by one daemon of the fleet at a time", async () => {
    const now = Date.now();
    const retention = { days: 30, perTask: 3 };
    const store = openStore({ path: ":memory:", retention });
    const histories = [
      await openFleetHistory(target(), { retentionDays: 30, retentionPerTask: 3 }),
      await openFleetHistory(target(), { retentionDays: 30, retentionPerTask: 3 }),
    ];
    const history = histories[0]!;
    try {
      writeRuns((r) => (store.writeAttempt(r), history.writeAttempt(r)), (id, n) => {
        const lines = Array.from({ length: n }, (_, i) => ({ ts: now + i, level: "info" as const, message: `line ${i}` }));
        store.appendLogs(id, 1, lines);
        history.appendLogs(id, 1, lines);
      }, now);
      store.flush();
      await history.flush();
      expect((await history.listRuns({ limit: Infinity })).length).toBe(12);

      // Two daemons of one fleet: one takes the turn and prunes, the other finds it taken.
      const pruned: number[] = [];
      const stops = histories.map((h) => h.startPruning({ delayMs: 0, everyMs: 60_000, onPruned: (n) => pruned.push(n) }));
      const deleted = store.prune(now).deleted;
      expect(deleted).toBe(6); // a-old-done, b-old (days); a-new-0..2 and a-old-long (perTask; a-old-queued stays)
      for (let i = 0; i < 100 && pruned.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300)); // the other daemon's check has answered too
      stops.forEach((stop) => stop());
      expect(pruned).toEqual([deleted]);

      const ids = (runs: RunRecord[]) => runs.map((r) => r.id);
      expect(ids(await history.listRuns({ limit: Infinity }))).toEqual(ids(store.listRuns({ limit: Infinity })));
      for (const task of ["a", "b"]) expect(ids(await history.listRuns({ task, limit: Infinity }))).toEqual(ids(store.listRuns({ task, limit: Infinity })));
      expect(ids(store.listRuns({ limit: Infinity })).sort()).toEqual(["a-new-3", "a-new-4", "a-new-5", "a-old-queued", "b-new-0", "b-new-1"]);
      await expect(history.getRun("a-old-done")).rejects.toThrow(/no run with id "a-old-done"/);
      await expect(history.getRun("a-new-0")).rejects.toThrow(/no run with id "a-new-0"/);
      expect((await history.getRun("a-new-4")).logs.map((l) => l.message)).toEqual(["line 0", "line 1"]);
      // Nothing of a deleted run is left behind in the backend.
      if (target().kind === "redis") {
        const t = target() as Extract<ReturnType<typeof target>, { kind: "redis" }>;
        const redis = new Redis({ host: t.host, port: t.port, db: t.db });
        try {
          const keys = await redis.keys(`${t.prefix}:fluid-history:*a-new-0*`);
          expect(keys).toEqual([]);
          expect(await redis.zscore(`${t.prefix}:fluid-history:task:a`, "a-new-0")).toBeNull();
        } finally {
          redis.disconnect();
        }
      } else {
        const t = target() as Extract<ReturnType<typeof target>, { kind: "postgres" }>;
        const client = new pg.Client({ connectionString: t.connectionString });
        await client.connect();
        try {
          const left = await client.query(`SELECT (SELECT count(*) FROM "${t.schema}".fluid_attempts WHERE id = 'a-new-0')::int AS a, (SELECT count(*) FROM "${t.schema}".fluid_logs WHERE id = 'a-new-0')::int AS l`);
          expect(left.rows[0]).toEqual({ a: 0, l: 0 });
        } finally {
          await client.end();
        }
      }
      // Applied again at once: nothing more to delete.
      expect((await history.prune(now)).deleted).toBe(0);
    } finally {
      store.close();
      for (const h of histories) await h.close();
    }
  });
});

describe("fleet run history writes", () => {
  /** A backend in memory that refuses writes while `down`. */
  function fakeBackend() {
    const batches: HistoryBatch[] = [];
    const backend = {
      down: false as boolean,
      batches,
      where: "fake://",
      async write(batch: HistoryBatch) {
        if (backend.down) throw new Error("connection refused");
        batches.push(batch);
      },
      attempt: async () => undefined,
      resolve: async (id: string) => id,
      attempts: async () => [],
      logs: async () => [],
      latestAttempt: async () => undefined,
      children: async () => [],
      listRuns: async () => [],
      lastRuns: async () => new Map(),
      takePruneTurn: async () => false,
      pruneSteps: async function* () {},
      close: async () => {},
    } satisfies HistoryBackend & { down: boolean; batches: HistoryBatch[] };
    return backend;
  }

  it("batches: many records and lines, one write; records of one attempt fold into the furthest along", async () => {
    const backend = fakeBackend();
    const history = createFleetHistory(backend);
    for (let i = 0; i < 100; i++) {
      history.writeAttempt(rec(`r${i}`, 1, "running"));
      history.appendLogs(`r${i}`, 1, [{ ts: T0, level: "info", message: "hi" }]);
      history.writeAttempt(rec(`r${i}`, 1, "success"));
      history.writeAttempt(rec(`r${i}`, 1, "running"));
    }
    await history.flush();
    expect(backend.batches).toHaveLength(1);
    expect(backend.batches[0]!.attempts.map((r) => r.state)).toEqual(Array(100).fill("success"));
    expect(backend.batches[0]!.logs).toHaveLength(100);
    await history.close();
  });

  it("one batch in flight at a time: what comes in meanwhile goes in the next, after it", async () => {
    const backend = fakeBackend();
    let writing = 0;
    let most = 0;
    const write = backend.write;
    backend.write = async (batch) => {
      most = Math.max(most, ++writing);
      await new Promise((r) => setTimeout(r, 20));
      await write(batch);
      writing--;
    };
    const history = createFleetHistory(backend);
    history.appendLogs("r1", 1, [{ ts: T0, level: "info", message: "first" }]);
    const first = history.flush();
    history.appendLogs("r1", 1, [{ ts: T0, level: "info", message: "second" }]);
    const second = history.flush();
    history.appendLogs("r1", 1, [{ ts: T0, level: "info", message: "third" }]);
    await Promise.all([first, second, history.flush()]);
    expect(most).toBe(1);
    expect(backend.batches.flatMap((b) => b.logs.map((l) => l.line.message))).toEqual(["first", "second", "third"]);
    await history.close();
  });

  it("a backend that cannot be reached: rows stay buffered and land when it is back, said in two lines; over the bound the oldest log lines are dropped, and said", async () => {
    const backend = fakeBackend();
    const messages: string[] = [];
    const history = createFleetHistory(backend, { maxBufferedRows: 50, onError: (m) => messages.push(m) });
    backend.down = true;
    history.writeAttempt(rec("r1", 1, "running"));
    await expect(history.flush()).rejects.toThrow(/connection refused/);
    history.appendLogs("r1", 1, Array.from({ length: 60 }, (_, i) => ({ ts: T0 + i, level: "info" as const, message: `l${i}` })));
    history.writeAttempt(rec("r1", 1, "success"));
    expect(messages).toEqual([
      expect.stringMatching(/^run history: cannot write to the backend fake:\/\/ \(connection refused\); 1 records and log lines kept, retrying with backoff$/),
      expect.stringMatching(/more than 50 records and log lines wait for the backend fake:\/\/; dropping the oldest log lines/),
    ]);
    backend.down = false;
    await history.flush();
    const landed = backend.batches.flatMap((b) => b.logs.map((l) => l.line.message));
    expect(backend.batches.flatMap((b) => b.attempts.map((r) => r.state))).toEqual(["success"]);
    expect(landed).toHaveLength(49); // 50 rows: the record and the newest 49 lines
    expect(landed.at(-1)).toBe("l59");
    expect(messages[2]).toMatch(/^run history: writes to the backend fake:\/\/ land again after \d+\.\d s; 11 buffered rows \(log lines first\) were dropped over the bound of 50$/);
    await history.close();
  });

  it("close sends what is left, and says what it could not send", async () => {
    const backend = fakeBackend();
    const messages: string[] = [];
    const history = createFleetHistory(backend, { closeWaitMs: 300, onError: (m) => messages.push(m) });
    history.writeAttempt(rec("r1", 1, "success"));
    await history.close();
    expect(backend.batches.flatMap((b) => b.attempts)).toHaveLength(1);
    const down = fakeBackend();
    down.down = true;
    const lost = createFleetHistory(down, { closeWaitMs: 300, onError: (m) => messages.push(m) });
    lost.writeAttempt(rec("r2", 1, "success"));
    await lost.close();
    expect(messages.at(-1)).toMatch(/^run history: 1 records and log lines could not be written to the backend fake:\/\/ before closing; they are lost/);
  });
});
