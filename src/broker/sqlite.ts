import type Database from "better-sqlite3";
import { toStoreError } from "../store/store-error.js";
import type { Broker, BrokerCounts, ClaimOptions, QueuedRun } from "./broker.js";
import { BrokerClosedError } from "./broker-closed-error.js";
import { checkQueuedRun, checkRetry } from "./check-queued-run.js";
import { claimSqliteRows } from "./claim-sqlite-rows.js";
import { EnqueueListeners } from "./enqueue-listeners.js";
import { openQueueDb } from "./open-queue-db.js";
import { fromQueueRow, sortQueueRows, toInsertParams, type QueueRow } from "./queue-row.js";
import { prepareLeaseStatements, prepareQueueStatements, type LeaseStatements, type QueueStatements } from "./queue-statements.js";
import { ensureLeaseTable, LeaseLostError } from "../store/lease.js";

/** Options of `openSqliteBroker`. */
export interface SqliteBrokerOptions {
  /**
   * File of the run store (the queue is the `queue` table of the same file), or ":memory:"
   * (this connection only: tests). The parent directory is created and the schema migrated.
   */
  path: string;
  /**
   * How long a write waits for another process's write lock, in ms (`PRAGMA busy_timeout`).
   * better-sqlite3 is synchronous: the wait blocks this process's event loop. Default 5000.
   */
  busyTimeoutMs?: number;
  /**
   * Rows a claim that skips tasks reads past `max` in claim order before it switches to one
   * index range per task (when the skipped tasks fill the head of the queue). Default 256.
   */
  skipScanRows?: number;
  /**
   * The lease owner token of the daemon using this broker (src/store/lease.ts), for fencing:
   * every write transaction (claim, ack, retry, recover, enqueue) first checks the store's lease
   * still names it, and fails with LeaseLostError (changing nothing) when another daemon took
   * it, so a daemon that lost its lease never touches the queue again. Default: none (a
   * producer such as `fluid queue`, which writes whoever serves the store).
   */
  owner?: string;
}

const DEFAULTS = { busyTimeoutMs: 5000, skipScanRows: 256 };

/** Most runs one claim takes, whatever `max` says. */
const MAX_CLAIM = 2 ** 31 - 1;

/**
 * Opens the broker that keeps the queue in the store's SQLite file, shared by every process
 * using the file: `fluid serve` claims, `fluid queue` enqueues, `fluid cancel` cancels.
 *
 * Guarantees and costs:
 * - `enqueue`, `ack` and `retry` are group-committed: the calls of one event-loop turn share
 *   one IMMEDIATE transaction (on the next turn, or earlier when a claim or another call
 *   needs to read), and each promise settles after that commit. A resolved enqueue survives a
 *   crash of the process (WAL, synchronous = NORMAL: a power loss may lose the last commits).
 *   A crash after a run ended but before its ack committed runs it again after `recover`:
 *   delivery is at least once. A failed commit rejects every call it carried.
 * - `claim` is one IMMEDIATE transaction (the buffered writes first, then
 *   `UPDATE ... WHERE seq IN (SELECT ... LIMIT ?) RETURNING *`), so two processes never claim
 *   the same run. It costs O(k log n) for k runs; with skipTasks it reads at most
 *   `max + skipScanRows` rows in claim order, then falls back to one index range per task
 *   with queued runs: O(T log n + T max), never a scan of a skipped task's runs.
 * - An idle claim or `nextDue` (nothing due, and no other connection committed since the last
 *   look, per `PRAGMA data_version`) answers from memory without touching the file, so a
 *   consumer can poll every few milliseconds.
 * - `nextDue`, `has`, `hasPending`, `cancelRequested` are index lookups; `counts` counts index
 *   ranges (O(n), for status lines); `recover` and `cancel` are short transactions.
 */
export function openSqliteBroker(options: SqliteBrokerOptions): Broker {
  const { db, path } = openQueueDb(options.path, options.busyTimeoutMs ?? DEFAULTS.busyTimeoutMs);
  try {
    return new SqliteBroker(db, path, Math.max(0, options.skipScanRows ?? DEFAULTS.skipScanRows), options.owner);
  } catch (error) {
    db.close();
    throw toStoreError(error, path, "preparing the queue");
  }
}

/** A write waiting for the next commit. */
interface PendingWrite {
  apply: () => unknown;
  resolve: (value: any) => void;
  reject: (error: unknown) => void;
  /** Whether a true result of `apply` wakes the onEnqueue listeners. */
  wakes: boolean;
}

/** What this connection last saw of the unclaimed runs, valid while `version` is the file's data_version. */
interface IdleView {
  version: number;
  /** Earliest runAfter of unclaimed runs; undefined when there are none. */
  nextDue: number | undefined;
}

class SqliteBroker implements Broker {
  readonly kind = "sqlite" as const;
  private readonly db: Database.Database;
  private readonly path: string;
  private readonly skipScanRows: number;
  private readonly s: QueueStatements;
  private readonly transaction: Database.Transaction<(work: () => unknown) => unknown>;
  private readonly listeners = new EnqueueListeners();
  private pending: PendingWrite[] = [];
  private flushTimer: NodeJS.Immediate | undefined;
  private idle: IdleView | undefined;
  private closed = false;
  private readonly owner: string | undefined;
  private lease: LeaseStatements | undefined;

  constructor(db: Database.Database, path: string, skipScanRows: number, owner: string | undefined) {
    this.db = db;
    this.path = path;
    this.skipScanRows = skipScanRows;
    this.owner = owner;
    this.s = prepareQueueStatements(db);
    if (owner !== undefined) this.leaseStatements();
    this.transaction = db.transaction((work: () => unknown) => work());
  }

  enqueue(run: QueuedRun): Promise<boolean> {
    return this.guarded(() => {
      checkQueuedRun(run);
      const row = toInsertParams(run); // JSON.stringify throws here, for this call only
      return this.buffer(() => this.s.insert.run(row).changes === 1, true);
    });
  }

  claim(options: ClaimOptions): Promise<QueuedRun[]> {
    return this.guarded(() => {
      // Clamped: SQLite's LIMIT takes an integer, not Infinity.
      const max = Math.min(Math.floor(options.max), MAX_CLAIM);
      if (!(max > 0)) return Promise.resolve([]);
      const now = options.now ?? Date.now();
      // Polling an idle queue: nothing was due at the last look and no other process wrote since.
      const idle = this.idleView();
      if (idle !== undefined && (idle.nextDue === undefined || idle.nextDue > now)) return Promise.resolve([]);
      const rows = this.run("claiming runs", () => {
        const version = this.s.dataVersion.get() as number;
        const claimed = claimSqliteRows(this.s, { owner: options.owner, now, max, skipTasks: options.skipTasks, scanRows: this.skipScanRows });
        if (claimed.length === 0) this.remember(version);
        return claimed;
      });
      return Promise.resolve(sortQueueRows(rows).map(fromQueueRow));
    });
  }

  ack(id: string): Promise<void> {
    return this.guarded(() => this.buffer(() => void this.s.ack.run(id), false));
  }

  retry(id: string, attempt: number, runAfter: number): Promise<boolean> {
    return this.guarded(() => {
      checkRetry(id, attempt, runAfter);
      return this.buffer(() => {
        if (this.s.requeue.run(attempt, runAfter, id).changes === 1) return true;
        this.s.dropCancelled.run(id); // cancel wins over a retry
        return false;
      }, true);
    });
  }

  cancel(id: string): Promise<"removed" | "flagged" | "unknown"> {
    return this.guarded(() =>
      Promise.resolve(
        this.run("cancelling a run", () => {
          if (this.s.removeQueued.run(id).changes === 1) return "removed" as const;
          if (this.s.flagCancel.run(id).changes === 1) return "flagged" as const;
          return "unknown" as const;
        }),
      ),
    );
  }

  cancelRequested(owner: string): Promise<string[]> {
    return this.guarded(() => Promise.resolve(this.read("reading cancel requests", () => this.s.cancelRequested.all(owner) as string[])));
  }

  recover(owner?: string): Promise<QueuedRun[]> {
    return this.guarded(() => {
      const lease = owner === undefined ? this.leaseStatements() : undefined;
      const rows = this.run("recovering claimed runs", () => {
        if (lease !== undefined) {
          lease.dropCancelledStale.run();
          return lease.recoverStale.all() as QueueRow[];
        }
        this.s.dropCancelledOf.run(owner);
        return this.s.recoverOf.all(owner) as QueueRow[];
      });
      if (rows.length > 0) this.listeners.notify();
      return Promise.resolve(sortQueueRows(rows).map(fromQueueRow));
    });
  }

  nextDue(): Promise<number | undefined> {
    return this.guarded(() => {
      const idle = this.idleView();
      if (idle !== undefined) return Promise.resolve(idle.nextDue);
      return Promise.resolve(
        this.read("reading the queue", () => {
          // One read transaction: the version read and the minimum belong to the same snapshot.
          return this.transaction.deferred(() => {
            const version = this.s.dataVersion.get() as number;
            return this.remember(version);
          }) as number | undefined;
        }),
      );
    });
  }

  hasPending(task: string): Promise<boolean> {
    return this.guarded(() => Promise.resolve(this.read("reading the queue", () => this.s.hasTask.get(task) !== undefined)));
  }

  has(id: string): Promise<boolean> {
    return this.guarded(() => Promise.resolve(this.read("reading the queue", () => this.s.hasId.get(id) !== undefined)));
  }

  counts(now = Date.now()): Promise<BrokerCounts> {
    return this.guarded(() => {
      const c = this.read("counting runs", () => this.s.counts.get(now) as { ready: number; unclaimed: number; claimed: number });
      return Promise.resolve({ ready: c.ready, delayed: c.unclaimed - c.ready, claimed: c.claimed });
    });
  }

  onEnqueue(listener: () => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    try {
      if (this.pending.length > 0) this.run("committing the last writes", () => undefined);
    } finally {
      this.db.close();
    }
  }

  /** Runs `fn` unless closed; a throw becomes a rejection, as an async method's would. */
  private guarded<T>(fn: () => Promise<T>): Promise<T> {
    try {
      if (this.closed) throw new BrokerClosedError(this.kind);
      return fn();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Queues a write for the next group commit; the promise settles after it. */
  private buffer<T>(apply: () => T, wakes: boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ apply, resolve, reject, wakes });
      this.flushTimer ??= setImmediate(() => {
        this.flushTimer = undefined;
        if (this.closed || this.pending.length === 0) return;
        try {
          this.run("writing the queue", () => undefined);
        } catch {
          // Every write of the batch was rejected with the error; nobody else to tell.
        }
      });
    });
  }

  /**
   * Runs `work` in one IMMEDIATE transaction after the buffered writes, then settles those.
   * Throws (and rejects every buffered write with) a StoreError when the transaction fails.
   */
  private run<T>(doing: string, work: () => T): T {
    if (this.flushTimer !== undefined) {
      clearImmediate(this.flushTimer);
      this.flushTimer = undefined;
    }
    const writes = this.pending;
    this.pending = [];
    const results: unknown[] = new Array(writes.length);
    // Our own commits do not change data_version: forget what we saw before writing.
    this.idle = undefined;
    let out: T;
    try {
      out = this.transaction.immediate(() => {
        if (this.owner !== undefined) this.checkFence(this.owner);
        for (let i = 0; i < writes.length; i++) results[i] = writes[i]!.apply();
        return work();
      }) as T;
    } catch (error) {
      const failure = error instanceof LeaseLostError ? error : toStoreError(error, this.path, writes.length > 0 ? `${doing} (and ${writes.length} buffered writes)` : doing);
      for (const write of writes) write.reject(failure);
      throw failure;
    }
    let wake = false;
    for (let i = 0; i < writes.length; i++) {
      writes[i]!.resolve(results[i]);
      if (writes[i]!.wakes && results[i] === true) wake = true;
    }
    if (wake) this.listeners.notify();
    return out;
  }

  /** The statements that read the lease table, prepared (and the table created) on first use. */
  private leaseStatements(): LeaseStatements {
    if (this.lease === undefined) {
      try {
        ensureLeaseTable(this.db);
        this.lease = prepareLeaseStatements(this.db);
      } catch (error) {
        throw toStoreError(error, this.path, "reading the daemon lease");
      }
    }
    return this.lease;
  }

  /** Fencing: throws LeaseLostError inside a write transaction when the store's lease no longer names `owner`. */
  private checkFence(owner: string): void {
    const holder = this.lease!.leaseOwner.get() as string | undefined;
    if (holder === owner) return;
    throw new LeaseLostError(
      `this daemon no longer holds the lease on the store ${this.path} (${holder === undefined ? "it was removed" : "another fluid serve took it"}); it stops touching the queue`,
      "run one fluid serve per store",
    );
  }

  /** Runs a read after committing the buffered writes, so this process reads its own writes. */
  private read<T>(doing: string, work: () => T): T {
    if (this.pending.length > 0) this.run("writing the queue", () => undefined);
    try {
      return work();
    } catch (error) {
      throw toStoreError(error, this.path, doing);
    }
  }

  /** What was last seen of the unclaimed runs, if still true: no write buffered, and no other connection committed since (our own commits reset it). */
  private idleView(): IdleView | undefined {
    if (this.idle === undefined || this.pending.length > 0) return undefined;
    return (this.s.dataVersion.get() as number) === this.idle.version ? this.idle : undefined;
  }

  /** Records the earliest unclaimed runAfter as seen at data_version `version`; returns it. */
  private remember(version: number): number | undefined {
    const next = (this.s.nextDue.get() as number | null) ?? undefined;
    this.idle = { version, nextDue: next };
    return next;
  }
}
