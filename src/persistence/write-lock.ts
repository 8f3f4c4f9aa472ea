import type Database from "better-sqlite3";
import { errorCode } from "./store-error.js";

/** Longest nap between two tries for the write lock, in ms: naps start at 0.25 ms and double up to it, with jitter. */
const NAP_MAX_MS = 4;

const nap = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Runs `transaction` (one that begins IMMEDIATE, so SQLITE_BUSY can only come from taking the
 * write lock, before anything ran) and retries it while another connection holds the lock,
 * in short jittered naps (0.25 ms doubling to 4 ms) until `busyTimeoutMs` has passed; then
 * throws the SQLITE_BUSY error. SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25,
 * 25, 50, 50, then 100 ms between tries: with many writers at once (50 `fluid queue` started
 * together) they slept while the lock stood free, and the burst took 30 times one process.
 * Like busy_timeout, the wait blocks this thread (better-sqlite3 is synchronous).
 */
export function withWriteLock<T>(db: Database.Database, busyTimeoutMs: number, transaction: () => T): T {
  const deadline = Date.now() + busyTimeoutMs;
  let cap = 0.25;
  // Not a prepared statement kept for reuse: SQLite applies busy_timeout when the pragma is
  // compiled, so running a kept statement again would change nothing.
  db.pragma("busy_timeout = 0");
  try {
    for (;;) {
      try {
        return transaction();
      } catch (error) {
        if (!errorCode(error).startsWith("SQLITE_BUSY") || db.inTransaction || Date.now() >= deadline) throw error;
      }
      nap(cap / 2 + Math.random() * (cap / 2));
      cap = Math.min(cap * 2, NAP_MAX_MS);
    }
  } finally {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  }
}
