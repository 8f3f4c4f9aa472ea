import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Broker } from "../../src/broker/broker.js";
import { openSqliteBroker, type SqliteBrokerOptions } from "../../src/broker/sqlite.js";
import { StoreError } from "../../src/core/errors.js";
import { openStore } from "../../src/store/index.js";
import { describeBrokerContract, makeRun, T0 } from "./broker-contract.js";
import { readRows, useTempDirs } from "./temp-dirs.js";

const tempDir = useTempDirs();

describeBrokerContract("sqlite", () => openSqliteBroker({ path: join(tempDir(), "runs.db") }));
// The same contract with the fallback of skipped-task claims taken at once (no head scan).
describeBrokerContract("sqlite (skipScanRows 0)", () => openSqliteBroker({ path: join(tempDir(), "runs.db"), skipScanRows: 0 }));

describe("sqlite broker", () => {
  const brokers: Broker[] = [];
  const open = (options: Partial<SqliteBrokerOptions> & { path: string }): Broker => {
    const broker = openSqliteBroker(options);
    brokers.push(broker);
    return broker;
  };
  const closeAll = async (): Promise<void> => {
    for (const broker of brokers.splice(0)) await broker.close();
  };

  it("commits an enqueue, an ack and a retry before resolving them", async () => {
    const path = join(tempDir(), "runs.db");
    try {
      const broker = open({ path });
      await broker.enqueue(makeRun({ id: "r1" }));
      await broker.enqueue(makeRun({ id: "r2" }));
      expect(readRows(path, "SELECT id FROM queue ORDER BY seq")).toEqual([{ id: "r1" }, { id: "r2" }]);
      await broker.claim({ max: 2, owner: "w", now: T0 });
      await broker.ack("r1");
      await broker.retry("r2", 2, T0 + 50);
      expect(readRows(path, "SELECT id, attempt, run_after, claimed_by FROM queue")).toEqual([
        { id: "r2", attempt: 2, run_after: T0 + 50, claimed_by: null },
      ]);
    } finally {
      await closeAll();
    }
  });

  it("group-commits the calls of one turn, and settles each with its own result", async () => {
    const path = join(tempDir(), "runs.db");
    try {
      const broker = open({ path });
      const added = await Promise.all([
        broker.enqueue(makeRun({ id: "a" })),
        broker.enqueue(makeRun({ id: "b" })),
        broker.enqueue(makeRun({ id: "a" })),
        broker.enqueue(makeRun({ id: "bad", params: { n: 1n } as never })),
      ].map((p) => p.then((v) => v, (e: Error) => e.name)));
      expect(added).toEqual([true, true, false, "TypeError"]); // BigInt params: rejected at once, alone
      expect(readRows(path, "SELECT id FROM queue ORDER BY seq")).toEqual([{ id: "a" }, { id: "b" }]);
    } finally {
      await closeAll();
    }
  });

  it("keeps queued, delayed and claimed runs across close and reopen", async () => {
    const path = join(tempDir(), "nested", "dir", "runs.db");
    try {
      const first = open({ path });
      await first.enqueue(makeRun({ id: "ready", params: { deep: { list: [1, "two", null] } }, fromRunId: "p", rootRunId: "p" }));
      await first.enqueue(makeRun({ id: "delayed", runAfter: T0 + 10_000, priority: "high", scheduledAt: T0 }));
      await first.enqueue(makeRun({ id: "claimed", task: "other" }));
      await first.claim({ max: 1, owner: "dead-daemon", now: T0, skipTasks: new Set(["say_hi"]) });
      await first.close();

      const second = open({ path });
      expect(await second.counts(T0)).toEqual({ ready: 1, delayed: 1, claimed: 1 });
      expect(await second.nextDue()).toBe(T0);
      expect(await second.recover("dead-daemon")).toEqual([makeRun({ id: "claimed", task: "other" })]);
      expect(await second.claim({ max: 5, owner: "w", now: T0 + 10_000 })).toEqual([
        makeRun({ id: "delayed", runAfter: T0 + 10_000, priority: "high", scheduledAt: T0 }),
        makeRun({ id: "ready", params: { deep: { list: [1, "two", null] } }, fromRunId: "p", rootRunId: "p" }),
        makeRun({ id: "claimed", task: "other" }),
      ]);
    } finally {
      await closeAll();
    }
  });

  it("commits buffered writes on close", async () => {
    const path = join(tempDir(), "runs.db");
    const broker = openSqliteBroker({ path });
    const enqueued = broker.enqueue(makeRun({ id: "last" }));
    await broker.close(); // before the turn that would have committed it
    expect(await enqueued).toBe(true);
    expect(readRows(path, "SELECT id FROM queue")).toEqual([{ id: "last" }]);
  });

  it("sees enqueues and cancels of another connection, even while polling an idle queue", async () => {
    const path = join(tempDir(), "runs.db");
    try {
      const daemon = open({ path });
      const cli = open({ path });
      // Idle: nothing queued, then only a run due later. These answers are cached per data_version.
      expect(await daemon.claim({ max: 5, owner: "d", now: T0 })).toEqual([]);
      expect(await daemon.nextDue()).toBeUndefined();
      await cli.enqueue(makeRun({ id: "later", runAfter: T0 + 100 }));
      expect(await daemon.nextDue()).toBe(T0 + 100);
      expect(await daemon.claim({ max: 5, owner: "d", now: T0 })).toEqual([]);
      await cli.enqueue(makeRun({ id: "now" }));
      expect((await daemon.claim({ max: 5, owner: "d", now: T0 })).map((r) => r.id)).toEqual(["now"]);
      expect(await cli.cancel("now")).toBe("flagged");
      expect(await daemon.cancelRequested("d")).toEqual(["now"]);
      expect(await cli.cancel("later")).toBe("removed");
      expect(await daemon.nextDue()).toBeUndefined();
      expect(await daemon.claim({ max: 5, owner: "d", now: T0 + 100 })).toEqual([]);
      expect(await cli.counts(T0)).toEqual({ ready: 0, delayed: 0, claimed: 1 });
    } finally {
      await closeAll();
    }
  });

  it("shares the file with the run store", async () => {
    const path = join(tempDir(), "runs.db");
    try {
      const broker = open({ path });
      await broker.enqueue(makeRun({ id: "q1" }));
      const store = openStore({ path });
      store.writeAttempt({ id: "q1", attempt: 1, maxAttempts: 1, task: "say_hi", state: "queued", trigger: "queue", params: {}, queuedAt: T0, host: "h", pid: 1 });
      store.close();
      expect(await broker.has("q1")).toBe(true);
      expect(readRows(path, "SELECT id, state FROM runs")).toEqual([{ id: "q1", state: "queued" }]);
    } finally {
      await closeAll();
    }
  });

  it("says what is wrong when the file cannot be opened", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "file"), "not a directory");
    expect(() => openSqliteBroker({ path: join(dir, "file", "runs.db") })).toThrow(StoreError);
    writeFileSync(join(dir, "garbage.db"), "this is not a SQLite database, just text that is long enough ".repeat(20));
    expect(() => openSqliteBroker({ path: join(dir, "garbage.db") })).toThrow(/corrupt or not a SQLite database/);
  });
});
