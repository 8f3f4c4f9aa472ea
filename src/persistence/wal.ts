import { statSync } from "node:fs";
import type Database from "better-sqlite3";
import { errorCode } from "./store-error.js";

/**
 * Most bytes a WAL file keeps after a checkpoint has emptied it (`PRAGMA journal_size_limit`).
 * Without it a WAL that grew during a burst (a reader pinned an old snapshot, so checkpoints
 * could not reset it) keeps its size until the last connection closes: 41 MB was seen.
 */
export const WAL_SIZE_LIMIT = 4 * 1024 * 1024;

/**
 * Switches to WAL (a no-op once the file is in WAL) and bounds the WAL file's size. On a new
 * file that another process is creating at the same moment the switch can fail with
 * SQLITE_BUSY: retry until the timeout.
 */
export function setWal(db: Database.Database, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    try {
      db.pragma("journal_mode = WAL");
      break;
    } catch (error) {
      if (!errorCode(error).startsWith("SQLITE_BUSY") || Date.now() >= deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
}

/** Options of `WalTrimmer`. */
export interface WalTrimmerOptions {
  /** Quiet time after the last write before the WAL is truncated, in ms. Default 1000. */
  idleMs?: number;
  /** The connection's own busy_timeout, restored after each try. */
  busyTimeoutMs: number;
}

/** Longest wait between tries while other connections keep the WAL busy, in ms. */
const MAX_RETRY_MS = 60_000;

/**
 * Empties the WAL file of a connection's database once writes have gone quiet:
 * `PRAGMA wal_checkpoint(TRUNCATE)` `idleMs` after the last `wrote()`, so a WAL a burst grew
 * shrinks to 0 bytes instead of staying until the last connection closes. The try never
 * waits (busy_timeout 0 for its duration): when another connection reads or writes, it gives
 * up and tries again later (backoff to a minute). Its timer is unref'd.
 *
 * Only a commit that changed rows arms it (`total_changes()` moved since the last look): an
 * idle daemon's empty commits (a claim that found nothing, a prune that deleted nothing) must
 * not checkpoint the frames of the daemon lease's heartbeat every time, since each truncate
 * costs two fsyncs, wakes every watch on the store (src/broker/wake.ts) and makes the next
 * heartbeat restart the WAL (one more fsync). Those small frames stay in the WAL until this
 * connection's next real write, or SQLite's own checkpoint at 1,000 frames. A WAL already
 * empty is not checkpointed either.
 */
export class WalTrimmer {
  private readonly db: Database.Database;
  private readonly idleMs: number;
  private readonly busyTimeoutMs: number;
  private timer: NodeJS.Timeout | undefined;
  private delay: number;
  private stopped = false;
  private readonly totalChanges: Database.Statement;
  /** `total_changes()` when last looked at. */
  private changes: number;

  constructor(db: Database.Database, options: WalTrimmerOptions) {
    this.db = db;
    this.idleMs = Math.max(0, options.idleMs ?? 1000);
    this.busyTimeoutMs = Math.max(0, Math.floor(options.busyTimeoutMs));
    this.delay = this.idleMs;
    this.totalChanges = db.prepare("SELECT total_changes()").pluck();
    this.changes = this.totalChanges.get() as number;
  }

  /** Notes a commit: when it changed rows, the truncate waits for `idleMs` of quiet after it. */
  wrote(): void {
    if (this.stopped || !this.db.open) return;
    const changes = this.totalChanges.get() as number;
    if (changes === this.changes) return;
    this.changes = changes;
    this.delay = this.idleMs;
    this.arm();
  }

  /** Stops trying (before the connection closes). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.trim(), this.delay);
    this.timer.unref();
  }

  private trim(): void {
    this.timer = undefined;
    if (this.stopped || !this.db.open || this.db.inTransaction) return;
    if (walBytes(this.db.name) === 0) return; // already empty: a checkpoint would only wake the watches
    let done = false;
    try {
      this.db.pragma("busy_timeout = 0");
      const [row] = this.db.pragma("wal_checkpoint(TRUNCATE)") as Array<{ busy: number }>;
      done = row !== undefined && row.busy === 0;
    } catch {
      // SQLITE_BUSY and the like: another connection is at work; try again later.
    } finally {
      try {
        this.db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
      } catch {} // the connection is closing: there is no timeout left to restore
    }
    if (done) return;
    this.delay = Math.min(this.delay * 2 || 100, MAX_RETRY_MS);
    this.arm();
  }
}

/** Size of the WAL file of the database at `path`, 0 when there is none; undefined when it cannot be told. */
function walBytes(path: string): number | undefined {
  try {
    return statSync(`${path}-wal`).size;
  } catch (error) {
    return errorCode(error) === "ENOENT" ? 0 : undefined;
  }
}
