import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { openSqliteBroker } from "../../src/broker/sqlite.js";
import { acquireLease, thisProcess } from "../../src/persistence/lease.js";
import { makeRun } from "../broker/broker-contract.js";
import { useTempDirs } from "../broker/temp-dirs.js";

// Recovery and the lease fence of the SQLite broker, on a real store file with several connections.

const tempDir = useTempDirs();

const claimedBy = (path: string): Record<string, string | null> => {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare("SELECT id, claimed_by FROM queue ORDER BY id").all() as Array<{ id: string; claimed_by: string | null }>;
    return Object.fromEntries(rows.map((r) => [r.id, r.claimed_by]));
  } finally {
    db.close();
  }
};

describe("recovery under the daemon lease", () => {
  it("gives back only runs claimed by someone other than the lease holder", async () => {
    const path = join(tempDir(), "store.db");
    const producer = openSqliteBroker({ path });
    for (const id of ["r1", "r2", "r3"]) await producer.enqueue(makeRun({ id, runAfter: 0 }));
    // A daemon that died claimed r1 under its token.
    await producer.claim({ max: 1, owner: "dead-daemon" });
    // The live daemon took the lease and claimed r2.
    const db = new Database(path);
    const me = thisProcess();
    expect(acquireLease(db, me, 10_000).acquired).toBe(true);
    db.close();
    const daemon = openSqliteBroker({ path, owner: me.owner });
    try {
      expect((await daemon.claim({ max: 1, owner: me.owner })).map((r) => r.id)).toEqual(["r2"]);
      // A second daemon that lost the race for the lease (it never got past acquiring) or a
      // daemon restarted by mistake calls recover(): the holder's run stays claimed.
      const recovered = await producer.recover();
      expect(recovered.map((r) => r.id)).toEqual(["r1"]);
      expect(claimedBy(path)).toEqual({ r1: null, r2: me.owner, r3: null });
    } finally {
      await daemon.close();
      await producer.close();
    }
  });

  it("fences a daemon whose lease was taken: claim, ack, retry and recover fail and change nothing", async () => {
    const path = join(tempDir(), "store.db");
    const db = new Database(path);
    const me = thisProcess();
    expect(acquireLease(db, me, 10_000).acquired).toBe(true);
    const daemon = openSqliteBroker({ path, owner: me.owner });
    try {
      for (const id of ["a", "b"]) await daemon.enqueue(makeRun({ id, runAfter: 0 }));
      expect((await daemon.claim({ max: 1, owner: me.owner })).map((r) => r.id)).toEqual(["a"]);
      // Another host's daemon took the lease over (this one had missed its heartbeats).
      db.prepare("UPDATE fluid_lease SET owner = 'new-holder', host = 'elsewhere'").run();
      const lost = { code: "FLUID_LEASE_LOST", message: expect.stringContaining("another fluid serve took it") };
      await expect(daemon.claim({ max: 5, owner: me.owner })).rejects.toMatchObject(lost);
      await expect(daemon.ack("a")).rejects.toMatchObject(lost);
      await expect(daemon.retry("a", 1, 0)).rejects.toMatchObject(lost);
      await expect(daemon.recover()).rejects.toMatchObject(lost);
      expect(claimedBy(path)).toEqual({ a: me.owner, b: null });
    } finally {
      db.close();
      await daemon.close();
    }
  });
});
