import type Database from "better-sqlite3";
import { StoreError } from "../core/errors.js";
import { runIdKey } from "../core/run-id.js";
import { OutageReporter, printStoreError } from "../persistence/outage.js";
import { toRow, type RunRow } from "../persistence/rows.js";
import { STATE_RANK } from "../persistence/state-order.js";
import { WalTrimmer } from "../persistence/wal.js";
import { withWriteLock } from "../persistence/write-lock.js";
import type { RunRecord } from "../core/run-record.js";
import type { RunState } from "../core/types.js";
import { isTransient, toStoreError } from "../persistence/store-error.js";
import type { Broker, BrokerCounts, ClaimOptions, QueuedRun } from "./broker.js";
import { BrokerClosedError } from "./broker-closed-error.js";
import { checkQueuedRun, checkRetry } from "./check-queued-run.js";
import { claimSqliteRows } from "./claim-sqlite-rows.js";
import { EnqueueListeners } from "./enqueue-listeners.js";
import { openQueueDb } from "./open-queue-db.js";
import { fromQueueRow, sortQueueRows, toInsertParams, type QueueRow } from "./queue-row.js";
import { prepareLeaseStatements, prepareQueueStatements, type LeaseStatements, type QueueStatements } from "./queue-statements.js";
import { ensureLeaseTable, LeaseLostError } from "../persistence/lease.js";

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
   * The lease owner token of the daemon using this broker (src/persistence/lease.ts), for fencing:
   * every write transaction (claim, ack, retry, recover, enqueue) first checks the store's lease
   * still names it, and fails with LeaseLostError (changing nothing) when another daemon took
   * it, so a daemon that lost its lease never touches the queue again. Default: none (a
   * producer such as `fluid queue`, which writes whoever serves the store).
   */
  owner?: string;
  /**
   * Receives the reports of an outage (disk full, I/O error, a lock held too long): one when
   * acks or claims start failing, one when writes land again; failures in between are counted.
   * Default: one line on stderr each.
   */
  onError?: (error: StoreError) => void;
  /** Quiet time after this connection's last write before it empties the WAL file, in ms (see `WalTrimmer`). Default 1000. */
  checkpointIdleMs?: number;
}

const DEFAULTS = { busyTimeoutMs: 5000, skipScanRows: 256 };

/** First and longest wait before writing kept acks and retries again, in ms. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;

/** Most runs one claim takes, whatever `max` says. */
const MAX_CLAIM = 2 ** 31 - 1;

/**
 * Opens the broker that keeps the queue in the store's SQLite file, shared by every process
 * using the file: `fluid serve` claims, `fluid queue` enqueues, `fluid cancel` cancels.
 *
 * Guarantees and costs:
 * - `enqueue`, `ack`, `retry` and `recordAttempt` are group-committed: the calls of one event-loop turn share
 *   one IMMEDIATE transaction (on the next turn, or earlier when a claim or another call
 *   needs to read), and each promise settles after that commit. A resolved enqueue survives a
 *   crash of the process (WAL, synchronous = NORMAL: a power loss may lose the last commits).
 *   A crash after a run ended but before its ack committed runs it again after `recover`:
 *   delivery is at least once.
 * - `enqueue` writes the run's `queued` record (when given) in the same transaction as its
 *   queue row, and refuses an id the queue or the store already holds: the queue row and the
 *   record are one write, so a producer's record can never land after the daemon's `success`.
 * - `recordAttempt` (the daemon's consumer records every attempt through it) commits a run's
 *   record with the acks of the same turn, so an outcome and its ack land together, and a
 *   run that starts and ends within one turn costs one row.
 * - A write SQLite refuses (a bad row) rejects alone: the writes of a group commit run in one
 *   savepoint, and again each in its own when one is refused. A transient failure (disk full, I/O error, lock held past busy_timeout)
 *   rolls the whole commit back: its enqueues reject (nothing was queued), while its acks,
 *   retries and records are kept in memory and written again with backoff (100 ms doubling to 5 s, and
 *   with every later write) until they land; they resolve at once. A fenced daemon (see
 *   `owner`) still writes its records, in a transaction of their own. During such an outage a
 *   claim resolves [] instead of throwing. `onError` hears one line when it starts and one
 *   when it ends. `close` makes a last attempt; what still cannot land is reported (those
 *   runs run again after a restart).
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
    const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULTS.busyTimeoutMs;
    const wal = path === ":memory:" ? undefined : new WalTrimmer(db, {
      busyTimeoutMs, ...(options.checkpointIdleMs !== undefined ? { idleMs: options.checkpointIdleMs } : {}),
    });
    return new SqliteBroker(db, path, busyTimeoutMs, Math.max(0, options.skipScanRows ?? DEFAULTS.skipScanRows), options.onError ?? printStoreError, wal, options.owner);
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
  /**
   * An ack or retry: on a transient failure it is kept and written again later, and its
   * promise resolves with `keptResult` at once. Otherwise (enqueue) it rejects.
   */
  keep: boolean;
  keptResult?: unknown;
}

/** What this connection last saw of the unclaimed runs, valid while `version` is the file's data_version. */
interface IdleView {
  version: number;
  /** Earliest runAfter of unclaimed runs; undefined when there are none. */
  nextDue: number | undefined;
}

/** The outcome of one write of a group commit. */
type Applied = { ok: true; value: unknown } | { ok: false; error: unknown };

class SqliteBroker implements Broker {
  readonly kind = "sqlite" as const;
  readonly recordsRuns = true;
  private readonly db: Database.Database;
  private readonly path: string;
  private readonly skipScanRows: number;
  private readonly busyTimeoutMs: number;
  private readonly s: QueueStatements;
  private readonly transaction: Database.Transaction<(work: () => unknown) => unknown>;
  private readonly listeners = new EnqueueListeners();
  private readonly outage: OutageReporter;
  /** Empties the WAL once writes go quiet. */
  private readonly wal: WalTrimmer | undefined;
  private readonly report: (error: StoreError) => void;
  private pending: PendingWrite[] = [];
  /** Attempt records for the next commit (`recordAttempt`), by attempt and id; insertion order is call order. */
  private records = new Map<string, RunRow>();
  /** Records that were in the buffer when writes last failed (for the report when they land). */
  private keptRecords = 0;
  /** Acks and retries whose commit failed transiently, in call order: written before anything else. */
  private kept: Array<() => unknown> = [];
  private flushTimer: NodeJS.Immediate | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Consecutive transient failures, for the backoff; and when writing may be tried again. */
  private failures = 0;
  private retryAt = 0;
  private idle: IdleView | undefined;
  private closed = false;
  private readonly owner: string | undefined;
  private lease: LeaseStatements | undefined;

  constructor(db: Database.Database, path: string, busyTimeoutMs: number, skipScanRows: number, onError: (error: StoreError) => void, wal: WalTrimmer | undefined, owner: string | undefined) {
    this.db = db;
    this.busyTimeoutMs = busyTimeoutMs;
    this.wal = wal;
    this.path = path;
    this.skipScanRows = skipScanRows;
    this.owner = owner;
    if (owner !== undefined) this.leaseStatements();
    this.report = onError;
    this.outage = new OutageReporter(onError);
    this.s = prepareQueueStatements(db);
    // Called inside the group commit's transaction it is a savepoint (better-sqlite3 nests them).
    this.transaction = db.transaction((work: () => unknown) => work());
  }

  enqueue(run: QueuedRun, record?: RunRecord): Promise<boolean> {
    return this.guarded(() => {
      checkQueuedRun(run);
      const row = toInsertParams(run); // JSON.stringify throws here, for this call only
      const recordRow = record === undefined ? undefined : toRow(record);
      if (recordRow && (recordRow[0] !== run.id || recordRow[1] !== run.attempt)) {
        throw new TypeError(`cannot queue run ${JSON.stringify(run.id)}: its record is of run ${JSON.stringify(recordRow[0])} attempt ${recordRow[1]}`);
      }
      return this.buffer(() => {
        // An id is used once: one the store has recorded (the run ended) is refused like a queued one.
        if (this.s.recorded.get(runIdKey(run.id)) !== undefined) return false;
        if (this.s.insert.run(row).changes !== 1) return false;
        if (recordRow) this.s.upsertRun.run(recordRow);
        return true;
      }, { wakes: true, keep: false });
    });
  }

  recordAttempt(record: RunRecord): void {
    if (this.closed) throw new BrokerClosedError(this.kind);
    const row = toRow(record);
    const key = `${row[1]}\u0000${row[0]}`;
    const buffered = this.records.get(key);
    if (buffered === undefined || rank(row) >= rank(buffered)) this.records.set(key, row);
    // While writes fail, records wait for the retry after the backoff, as kept acks do.
    if (!this.backingOff()) this.scheduleFlush();
  }

  claim(options: ClaimOptions): Promise<QueuedRun[]> {
    return this.guarded(() => {
      // Clamped: SQLite's LIMIT takes an integer, not Infinity.
      const max = Math.min(Math.floor(options.max), MAX_CLAIM);
      if (!(max > 0)) return Promise.resolve([]);
      const now = options.now ?? Date.now();
      // The store cannot be written: wait for the backoff instead of failing every poll.
      if (this.outage.active && Date.now() < this.retryAt) return Promise.resolve([]);
      // Polling an idle queue: nothing was due at the last look and no other process wrote since.
      const idle = this.idleView();
      if (idle !== undefined && (idle.nextDue === undefined || idle.nextDue > now)) return Promise.resolve([]);
      let rows: QueueRow[];
      try {
        rows = this.run("claiming runs", () => {
          const version = this.s.dataVersion.get() as number;
          const claimed = claimSqliteRows(this.s, { owner: options.owner, now, max, skipTasks: options.skipTasks, scanRows: this.skipScanRows });
          if (claimed.length === 0) this.remember(version);
          return claimed;
        });
      } catch (error) {
        if (!isTransient((error as StoreError).cause)) throw error;
        this.outage.failed(error as StoreError, "no run is claimed until it can be written again");
        this.scheduleRetry();
        return Promise.resolve([]);
      }
      return Promise.resolve(sortQueueRows(rows).map(fromQueueRow));
    });
  }

  ack(id: string): Promise<void> {
    return this.guarded(() => this.buffer(() => void this.s.ack.run(runIdKey(id)), { wakes: false, keep: true }));
  }

  retry(id: string, attempt: number, runAfter: number): Promise<boolean> {
    return this.guarded(() => {
      checkRetry(id, attempt, runAfter);
      const key = runIdKey(id);
      return this.buffer(() => {
        if (this.s.requeue.run(attempt, runAfter, key).changes === 1) return true;
        this.s.dropCancelled.run(key); // cancel wins over a retry
        return false;
      }, { wakes: true, keep: true, keptResult: true });
    });
  }

  cancel(id: string): Promise<"removed" | "flagged" | "unknown"> {
    return this.guarded(() =>
      Promise.resolve(
        this.run("cancelling a run", () => {
          const key = runIdKey(id);
          if (this.s.removeQueued.run(key).changes === 1) return "removed" as const;
          if (this.s.flagCancel.run(key).changes === 1) return "flagged" as const;
          return "unknown" as const;
        }),
      ),
    );
  }

  cancelRequested(owner: string): Promise<string[]> {
    // Without committing the buffered writes first (as `read` does): none of them changes which
    // claimed runs have a cancellation requested (an ack or retry of such a run only removes it,
    // and its consumer ignores an id it no longer runs), and a consumer asks at every pump, which
    // would otherwise split each turn's acks from the next claim into a commit of their own.
    return this.guarded(() => Promise.resolve(this.peek("reading cancel requests", () => this.s.cancelRequested.all(owner) as string[])));
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
    return this.guarded(() => Promise.resolve(this.read("reading the queue", () => this.s.hasId.get(runIdKey(id)) !== undefined)));
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

  /** Commits what is buffered or kept (one last try), then closes the connection. Never throws for a write that cannot land: it reports it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.cancelRetry();
    this.wal?.stop();
    try {
      if (this.pending.length > 0 || this.kept.length > 0 || this.records.size > 0) this.run("committing the last writes", () => undefined);
    } catch (error) {
      if (this.kept.length > 0 || this.records.size > 0) {
        const failure = error as StoreError;
        const lost = this.kept.length === 0 ? `${this.records.size} run records could not be written`
          : `${keptWrites(this.kept.length, this.records.size)} could not be written: those runs run again after a restart`;
        this.report(new StoreError(`${failure.message} (${lost})`, {
          cause: failure, ...(failure.hint ? { hint: failure.hint } : {}),
        }));
      }
    } finally {
      this.kept = [];
      this.records = new Map();
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

  /** Queues a write for the next group commit; the promise settles after it (or when kept, see PendingWrite). */
  private buffer<T>(apply: () => T, o: { wakes: boolean; keep: boolean; keptResult?: T }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ apply, resolve, reject, ...o });
      this.scheduleFlush();
    });
  }

  /** Commits the buffered writes on the next turn of the event loop (unless a claim or read commits them first). */
  private scheduleFlush(): void {
    this.flushTimer ??= setImmediate(() => {
      this.flushTimer = undefined;
      if (this.closed || (this.pending.length === 0 && this.records.size === 0)) return;
      try {
        this.run("writing the queue", () => undefined);
      } catch {
        // Every write of the batch was settled with the error (records: reported); nobody else to tell.
      }
    });
  }

  /**
   * Runs `work` in one IMMEDIATE transaction after the kept and the buffered writes (each in a
   * savepoint), then settles those. Throws a StoreError when the transaction fails: then the
   * buffered enqueues reject, and acks and retries are kept for a later try (see PendingWrite).
   */
  private run<T>(doing: string, work: () => T): T {
    if (this.flushTimer !== undefined) {
      clearImmediate(this.flushTimer);
      this.flushTimer = undefined;
    }
    this.cancelRetry();
    const writes = this.pending;
    const kept = this.kept;
    const records = this.records;
    this.pending = [];
    this.kept = [];
    if (records.size > 0) this.records = new Map();
    const results: Applied[] = new Array(writes.length);
    let refused: { count: number; first: unknown } | undefined;
    // Our own commits do not change data_version: forget what we saw before writing.
    this.idle = undefined;
    let out: T;
    try {
      out = withWriteLock(this.db, this.busyTimeoutMs, () => this.transaction.immediate(() => {
        if (this.owner !== undefined) this.checkFence(this.owner);
        this.applyAll(kept);
        if (records.size > 0) {
          const upsert = this.s.upsertRun;
          for (const applied of this.applyAll(Array.from(records.values(), (row) => () => upsert.run(row)))) {
            if (!applied.ok) refused = { count: (refused?.count ?? 0) + 1, first: refused?.first ?? applied.error };
          }
        }
        const applied = this.applyAll(writes.map((write) => write.apply));
        for (let i = 0; i < writes.length; i++) results[i] = applied[i]!;
        return work();
      }) as T);
    } catch (error) {
      if (error instanceof LeaseLostError) {
        // Fenced: this daemon may never write the queue again; nothing is kept or retried.
        for (const write of writes) write.reject(error);
        // Records are history, not the queue (the store is not fenced): they are still written.
        if (records.size > 0) this.writeRecordsUnfenced(records);
        throw error;
      }
      const pending = writes.length + kept.length;
      const failure = toStoreError(error, this.path, pending > 0 ? `${doing} (and ${pending} buffered writes)` : doing);
      if (!isTransient(error)) {
        // Only `work` fails this way (a write SQLite refuses is rolled back alone): try the writes again on their own.
        this.kept = kept;
        this.pending = writes;
        this.records = records;
        if (writes.length > 0 || kept.length > 0 || records.size > 0) {
          try {
            this.run("writing the queue", () => undefined);
          } catch {
            // That commit settled its writes itself.
          }
        }
        throw failure;
      }
      this.kept = kept;
      // Records are kept like acks (the outcome of a run is known and must land): back in the buffer.
      this.records = records;
      this.keptRecords = records.size;
      for (const write of writes) {
        if (!write.keep) {
          write.reject(failure);
          continue;
        }
        this.kept.push(write.apply);
        write.resolve(write.keptResult);
      }
      if (this.kept.length > 0 || this.records.size > 0) {
        this.outage.failed(failure, `${keptWrites(this.kept.length, this.records.size)} kept in memory`);
        this.scheduleRetry();
      }
      throw failure;
    }
    this.failures = 0;
    this.wal?.wrote();
    if (this.outage.active) this.outage.recovered(`${this.keptRecords === 0 ? `${kept.length} kept acks and retries` : `${kept.length} kept acks and retries and ${this.keptRecords} run records`} landed`);
    this.keptRecords = 0;
    if (refused) {
      const error = toStoreError(refused.first, this.path, "recording runs");
      this.report(new StoreError(`${error.message} (${refused.count} run records could not be written and were dropped)`, { cause: refused.first, ...(error.hint ? { hint: error.hint } : {}) }));
    }
    let wake = false;
    for (let i = 0; i < writes.length; i++) {
      const write = writes[i]!;
      const result = results[i]!;
      if (!result.ok) {
        write.reject(toStoreError(result.error, this.path, doing));
        continue;
      }
      write.resolve(result.value);
      if (write.wakes && result.value === true) wake = true;
    }
    if (wake) this.listeners.notify();
    return out;
  }

  /** Writes records in a transaction of their own, without the lease fence (see `run`); a failure is reported. */
  private writeRecordsUnfenced(records: Map<string, RunRow>): void {
    try {
      withWriteLock(this.db, this.busyTimeoutMs, () => this.transaction.immediate(() => {
        for (const row of records.values()) this.applyOne(() => this.s.upsertRun.run(row));
      }));
    } catch (error) {
      this.report(new StoreError(`${toStoreError(error, this.path, "recording runs").message} (${records.size} run records were not written)`, { cause: error }));
    }
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

  /**
   * Applies writes in one savepoint, and only when SQLite refuses one of them (rare: a bad row)
   * again each in its own, so that one rolls back alone: a savepoint per write cost a run about
   * a microsecond each for its ack and its record. A transient failure fails the whole commit.
   */
  private applyAll(applies: ReadonlyArray<() => unknown>): Applied[] {
    if (applies.length === 0) return [];
    if (applies.length === 1) return [this.applyOne(applies[0]!)];
    try {
      return this.transaction(() => applies.map((apply): Applied => ({ ok: true, value: apply() }))) as Applied[];
    } catch (error) {
      if (isTransient(error)) throw error;
      return applies.map((apply) => this.applyOne(apply));
    }
  }

  /** Applies one write in a savepoint: a write SQLite refuses rolls back alone; a transient failure fails the whole commit. */
  private applyOne(apply: () => unknown): Applied {
    try {
      return { ok: true, value: this.transaction(apply) };
    } catch (error) {
      if (isTransient(error)) throw error;
      return { ok: false, error };
    }
  }

  /** Writes the kept acks and retries again after the backoff. */
  private scheduleRetry(): void {
    this.failures++;
    this.retryAt = Date.now() + Math.min(RETRY_MIN_MS * 2 ** (this.failures - 1), RETRY_MAX_MS);
    if ((this.kept.length === 0 && this.records.size === 0) || this.retryTimer !== undefined || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closed || (this.kept.length === 0 && this.pending.length === 0 && this.records.size === 0)) return;
      try {
        this.run("writing kept acks and retries", () => undefined);
      } catch {
        // Counted by the outage; the next retry is scheduled.
      }
    }, Math.max(0, this.retryAt - Date.now()));
    // A retry alone must not keep a finished process alive; `close()` makes the last try.
    this.retryTimer.unref();
  }

  private cancelRetry(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /**
   * Runs a read after committing the buffered writes, so this process reads its own writes.
   * A commit that fails has settled its writes already; the read goes on (reads need no space).
   */
  private read<T>(doing: string, work: () => T): T {
    if (this.pending.length > 0 || ((this.kept.length > 0 || this.records.size > 0) && !this.backingOff())) {
      try {
        this.run("writing the queue", () => undefined);
      } catch {
        // See above.
      }
    }
    try {
      return work();
    } catch (error) {
      throw toStoreError(error, this.path, doing);
    }
  }

  /** Whether writes failed and the backoff before the next try has not passed. */
  private backingOff(): boolean {
    return this.outage.active && Date.now() < this.retryAt;
  }

  /** Runs a read of what other processes committed, leaving this connection's buffered writes buffered. */
  private peek<T>(doing: string, work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw toStoreError(error, this.path, doing);
    }
  }

  /** What was last seen of the unclaimed runs, if still true: no write buffered or kept, and no other connection committed since (our own commits reset it). */
  private idleView(): IdleView | undefined {
    if (this.idle === undefined || this.pending.length > 0 || this.kept.length > 0) return undefined;
    return (this.s.dataVersion.get() as number) === this.idle.version ? this.idle : undefined;
  }

  /** Records the earliest unclaimed runAfter as seen at data_version `version`; returns it. */
  private remember(version: number): number | undefined {
    const next = (this.s.nextDue.get() as number | null) ?? undefined;
    this.idle = { version, nextDue: next };
    return next;
  }
}

/** STATE_RANK of a row's state; an unknown state ranks as final, as in SQL. */
function rank(row: RunRow): number {
  return STATE_RANK[row[4] as RunState] ?? 2;
}

/** "3 acks and retries", plus the run records when there are some: what an outage keeps. */
function keptWrites(writes: number, records: number): string {
  return records === 0 ? `${writes} acks and retries` : `${writes} acks and retries and ${records} run records`;
}
