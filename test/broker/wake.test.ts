import { join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { noteOwnCommit, watchStore, type StoreWatch } from "../../src/broker/wake.js";
import { useTempDirs } from "./temp-dirs.js";

// The watch on a real SQLite file in WAL mode, written through real connections: another
// process's commit (here another connection) is reported at once and again after the settle
// time; a commit this process announced (the daemon lease's heartbeat) once, flagged `own`.

const tempDir = useTempDirs();
const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0).reverse()) close();
});

function database(path: string): Database.Database {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  closers.push(() => db.close());
  return db;
}

async function waitFor(pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** A watch on `path` recording each call's `own` flag. */
function watched(path: string): { calls: boolean[] } {
  const calls: boolean[] = [];
  const watch: StoreWatch | undefined = watchStore(path, (own) => calls.push(own), { settleMs: 20 });
  if (watch === undefined) throw new Error("this file system cannot be watched");
  closers.push(() => watch.close());
  return { calls };
}

describe("watchStore", () => {
  it("reports another connection's commit at once and after the settle time", async () => {
    const path = join(tempDir(), "fluid.db");
    const writer = database(path);
    writer.exec("CREATE TABLE t (x)");
    await sleep(100); // the setup's own changes
    const { calls } = watched(path);
    writer.prepare("INSERT INTO t VALUES (1)").run();
    await waitFor(() => calls.length >= 2);
    await sleep(100);
    expect(calls.every((own) => own === false)).toBe(true);
  });

  it("reports a commit announced with noteOwnCommit once, as own, with no settle call", async () => {
    const path = join(tempDir(), "fluid.db");
    const writer = database(path);
    writer.exec("CREATE TABLE t (x)");
    await sleep(100);
    const a = watched(path);
    const b = watched(relative(process.cwd(), path)); // the same file by another spelling
    const beat = writer.prepare("INSERT INTO t VALUES (?)");
    for (let i = 0; i < 3; i++) {
      beat.run(i);
      noteOwnCommit(path);
      await waitFor(() => a.calls.length > i && b.calls.length > i);
      await sleep(100); // a settle call would come after 20 ms
    }
    expect(a.calls).toEqual([true, true, true]);
    expect(b.calls).toEqual([true, true, true]);
    // Only the next change is taken for ours: another commit is a change like any other.
    writer.prepare("INSERT INTO t VALUES (9)").run();
    await waitFor(() => a.calls.length >= 5);
    expect(a.calls.slice(3)).toEqual([false, false]);
  });
});
