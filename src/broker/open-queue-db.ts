import { resolve } from "node:path";
import type Database from "better-sqlite3";
import { openDatabase } from "../persistence/open-database.js";
import { migrate } from "../persistence/schema.js";
import { toStoreError } from "../persistence/store-error.js";
import { prepareStoreFile } from "../persistence/store-file.js";
import { setWal } from "../persistence/wal.js";

/**
 * Opens a connection of its own to the store file for the SQLite broker, created as the store
 * creates it (`prepareStoreFile`: directory 0700, file 0600) and set up as the store sets its
 * own (WAL, busy_timeout, synchronous = NORMAL), and brings the schema up to date with the
 * store's one migration list (`migrate` of src/persistence/schema.ts). Migrating on this
 * connection instead of opening (and closing) a whole Store avoids the Store's write buffer,
 * exit hook and prepared statements; `migrate` runs in an IMMEDIATE transaction that re-reads
 * the version, so a daemon and a `fluid queue` opening a new file at once migrate it once.
 * Returns the connection and the absolute path. Throws a StoreError saying what to do.
 */
export function openQueueDb(path: string, busyTimeoutMs: number): { db: Database.Database; path: string } {
  const memory = path === ":memory:";
  const file = memory ? path : resolve(path);
  if (!memory) prepareStoreFile(file);
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

