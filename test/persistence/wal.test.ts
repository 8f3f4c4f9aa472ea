import { existsSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { openSqliteBroker } from "../../src/broker/sqlite.js";
import { WAL_SIZE_LIMIT } from "../../src/persistence/wal.js";
import { makeRun } from "../broker/broker-contract.js";
import { makeRecord, useTempStores } from "../store/temp-store.js";

const { open } = useTempStores();
const walSize = (path: string): number => (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0);

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

describe("the WAL file after a burst", () => {
  it("shrinks to nothing once writes go quiet, although a reader made it grow past the limit", async () => {
    const store = open({ checkpointIdleMs: 100 });
    // Another process reading the whole time: checkpoints cannot reset the WAL, so it grows.
    const reader = new Database(store.path, { readonly: true });
    const pinned = reader.prepare("SELECT count(*) FROM runs");
    reader.exec("BEGIN");
    pinned.get();
    const params = { blob: "x".repeat(2000) };
    for (let i = 0; i < 6000; i++) store.writeAttempt(makeRecord({ id: `run-${i}`, params }));
    store.flush();
    const grown = walSize(store.path);
    expect(grown).toBeGreaterThan(2 * WAL_SIZE_LIMIT); // the burst did grow it
    reader.exec("COMMIT");
    reader.close();
    await until(() => walSize(store.path) < 1024 * 1024);
    expect(walSize(store.path)).toBeLessThan(1024 * 1024);
    expect(store.listRuns({ limit: Infinity })).toHaveLength(6000); // nothing lost by the truncate
  });

  it("is emptied by the broker's connection too, and not while a reader holds it", async () => {
    const store = open();
    store.close();
    const broker = openSqliteBroker({ path: store.path, checkpointIdleMs: 50 });
    try {
      const reader = new Database(store.path, { readonly: true });
      reader.exec("BEGIN");
      reader.prepare("SELECT count(*) FROM queue").get();
      await Promise.all(Array.from({ length: 3000 }, (_, i) => broker.enqueue(makeRun({ id: `r${i}`, params: { blob: "y".repeat(1000) } }))));
      expect(walSize(store.path)).toBeGreaterThan(WAL_SIZE_LIMIT);
      await new Promise((r) => setTimeout(r, 300));
      expect(walSize(store.path)).toBeGreaterThan(WAL_SIZE_LIMIT); // a reader holds it: no truncate, no wait
      reader.exec("COMMIT");
      reader.close();
      await until(() => walSize(store.path) < 1024 * 1024);
      expect(walSize(store.path)).toBeLessThan(1024 * 1024);
      expect((await broker.counts()).ready).toBe(3000);
    } finally {
      await broker.close();
    }
  });

  it("is not checkpointed after a commit that changed nothing (an idle claim after the lease's heartbeat)", async () => {
    const store = open();
    store.close();
    const broker = openSqliteBroker({ path: store.path, checkpointIdleMs: 50 });
    const other = new Database(store.path); // the lease's connection
    try {
      other.exec("CREATE TABLE beats (at INTEGER)");
      const beat = other.prepare("INSERT INTO beats VALUES (?)");
      for (let i = 0; i < 3; i++) {
        beat.run(i);
        const before = walSize(store.path);
        expect(before).toBeGreaterThan(0);
        // Another connection committed, so this claim is a real write transaction, which finds nothing.
        expect(await broker.claim({ max: 1, owner: "me" })).toEqual([]);
        await new Promise((r) => setTimeout(r, 300));
        // No checkpoint, no truncate: they would cost fsyncs and wake every watch on the store.
        expect(walSize(store.path)).toBe(before);
      }
      // A commit that changed rows still empties it.
      await broker.enqueue(makeRun({ id: "real" }));
      await until(() => walSize(store.path) === 0);
      expect(walSize(store.path)).toBe(0);
    } finally {
      other.close();
      await broker.close();
    }
  });
});
