import type Database from "better-sqlite3";
import { errorCode } from "./store-error.js";

/**
 * Switches to WAL (a no-op once the file is in WAL). On a new file that another process is
 * creating at the same moment the switch can fail with SQLITE_BUSY: retry until the timeout.
 */
export function setWal(db: Database.Database, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    try {
      db.pragma("journal_mode = WAL");
      return;
    } catch (error) {
      if (!errorCode(error).startsWith("SQLITE_BUSY") || Date.now() >= deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}
