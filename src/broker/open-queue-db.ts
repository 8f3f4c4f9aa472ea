import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type Database from "better-sqlite3";
import { openDatabase } from "../loader/sqlite.js";
import { StoreError } from "../errors.js";
import { migrate } from "../store/schema.js";
import { toStoreError } from "../store/store-error.js";
import { setWal } from "../store/wal.js";

/**
 * Opens a connection of its own to the store file for the SQLite broker, set up as the store
 * sets its own (WAL, busy_timeout, synchronous = NORMAL), and brings the schema up to date with
 * the store's one migration list (`migrate` of src/store/schema.ts). Migrating on this
 * connection instead of opening (and closing) a whole Store avoids the Store's write buffer,
 * exit hook and prepared statements; `migrate` runs in an IMMEDIATE transaction that re-reads
 * the version, so a daemon and a `fluid queue` opening a new file at once migrate it once.
 * Returns the connection and the absolute path. Throws a StoreError saying what to do.
 */
export function openQueueDb(path: string, busyTimeoutMs: number): { db: Database.Database; path: string } {
  const memory = path === ":memory:";
  const file = memory ? path : resolve(path);
  if (!memory) {
    try {
      mkdirSync(dirname(file), { recursive: true });
    } catch (error) {
      throw new StoreError(`run store ${file}: cannot create the directory ${dirname(file)}: ${(error as Error).message}`, {
        cause: error,
        hint: `create ${dirname(file)} yourself, fix its permissions, or set another store path`,
      });
    }
  }
  let db: Database.Database | undefined;
  try {
    db = openDatabase(file);
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    setWal(db, busyTimeoutMs);
    db.pragma("synchronous = NORMAL");
    migrate(db, file);
    return { db, path: file };
  } catch (error) {
    db?.close();
    throw toStoreError(error, file, "opening it for the queue");
  }
}

