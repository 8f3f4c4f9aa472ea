import type { RunRecord } from "../core/run-record.js";
import type { QueuedRun } from "../core/queued-run.js";

export type { QueuedRun } from "../core/queued-run.js";

/** What a broker holds, for status lines and tests. */
export interface BrokerCounts {
  /** Ready to run now. */
  ready: number;
  /** Waiting for `runAfter`. */
  delayed: number;
  /** Claimed by a consumer and not yet acked. */
  claimed: number;
}

/**
 * How a finished run ended, as `Broker.ack` may be told it. Brokers that keep no finished runs
 * (memory, SQLite: the store has the record) ignore it; BullMQ ends the job as *completed* or
 * *failed* by it, so BullMQ's own tools see the real outcome.
 */
export interface AckOutcome {
  /** The run's final state: "success", or "failure", "timeout", "cancelled", "aborted", "rate_limited"... */
  state: string;
  /** The result of a successful run (JSON-serialisable), if any. */
  result?: unknown;
  /** Why it did not succeed: the error's message. */
  error?: { name?: string; message: string };
}

/** Options of `Broker.claim`. */
export interface ClaimOptions {
  /** Most runs to claim. */
  max: number;
  /** Consumer identity, recorded on claimed runs so a restart can recover them. */
  owner: string;
  /** Tasks not to claim now (at their concurrency limit); their runs stay queued. */
  skipTasks?: ReadonlySet<string>;
  /** Claim as of this time (epoch ms). Default Date.now(). */
  now?: number;
}

/**
 * Where queued runs wait. Enqueue, claim, ack, fail (retry as a delayed run), cancel.
 * Claims are ordered by priority (high, medium, low), then runAfter, then enqueue order.
 * Delivery is at least once: a claimed run that is never acked (consumer died) is given
 * back by `recover`. After `close()` every other method rejects.
 */
export interface Broker {
  readonly kind: "memory" | "sqlite" | "bullmq";
  /**
   * True when `enqueue` writes the `record` it is given in the same transaction as the queue
   * row (SQLite: the store's `runs` table of the same file), so the queue row and the
   * `queued` record land together or not at all. False (memory): the caller writes the record
   * to its store itself.
   */
  readonly recordsRuns: boolean;
  /**
   * Adds a run; durable before the promise resolves (for durable brokers). Resolves false,
   * changing nothing, when a run with the same id is already queued or claimed, or (SQLite)
   * already recorded in the store, so a caller can make an enqueue idempotent with a
   * deterministic id (as BullMQ's `jobId`) and a run id is never reused. `record` is the
   * run's `queued` record, written with the queue row when `recordsRuns` (it never replaces
   * a record further along: a record never goes backwards). Either it resolves and the run
   * is queued, or it rejects and nothing was queued.
   */
  enqueue(run: QueuedRun, record?: RunRecord): Promise<boolean>;
  /**
   * Records an attempt of a run (only where `recordsRuns`; optional): the row goes to the
   * store's `runs` table in the broker's next group commit, the transaction that also commits
   * the acks and retries of that turn, so a run's outcome and its ack land together. A later
   * record of the same attempt made before that commit replaces this one (a run that starts and
   * ends within one turn costs one row); a record never replaces one further along. Never
   * throws for a write that fails: a record SQLite refuses is reported and dropped, and one
   * that cannot be written now (disk full) is kept and written again, as acks are. Throws
   * BrokerClosedError after `close()`.
   */
  recordAttempt?(record: RunRecord): void;
  /** Takes up to `max` runs that are due, marking them claimed by `owner`, in claim order. */
  claim(options: ClaimOptions): Promise<QueuedRun[]>;
  /**
   * The claimed run is finished: removes it. A no-op for an id that is not claimed. A durable
   * broker that cannot write now (disk full, I/O error) keeps the ack in memory and retries it
   * with backoff until it lands, and resolves: the outcome of a run is known, so it must not
   * make the run execute again, and a consumer must not fail for it. `outcome` (optional, ignored
   * by memory and SQLite) says how the run ended; without it the run counts as a success.
   */
  ack(id: string, outcome?: AckOutcome): Promise<void>;
  /**
   * Puts a claimed run back as a delayed run (a retry) with a new attempt and runAfter; it keeps
   * its priority and enqueue order. Resolves true when re-queued; false when the id is not
   * claimed, or when its cancellation was requested: then the run is removed (cancel wins).
   * Kept and retried as `ack` is when the store cannot be written now (then resolves true).
   */
  retry(id: string, attempt: number, runAfter: number): Promise<boolean>;
  /**
   * Cancels a run: a queued (unclaimed) run is removed ("removed"); a claimed run is only
   * flagged ("flagged": its consumer sees it in `cancelRequested`, stops it and acks it);
   * "unknown" when the id is neither queued nor claimed.
   */
  cancel(id: string): Promise<"removed" | "flagged" | "unknown">;
  /** Ids of claimed runs of `owner` whose cancellation was requested (by another process). */
  cancelRequested(owner: string): Promise<string[]>;
  /**
   * Gives runs claimed by `owner` back to the queue, unchanged (same attempt and runAfter), and
   * returns them. Without `owner`: the runs claimed by anyone but the daemon holding the store's
   * lease (SQLite; a claimer without the lease is gone or lost it), or by anyone (memory). A run
   * whose cancellation was requested is removed instead, and not returned.
   */
  recover(owner?: string): Promise<QueuedRun[]>;
  /** Earliest runAfter among unclaimed runs (epoch ms), or undefined when none is queued. */
  nextDue(): Promise<number | undefined>;
  /**
   * Whether a run of `task` is queued or claimed (for the overlap policy), other than the run
   * `except`: on a fleet backend, the schedule slot being fired, which another daemon's timer
   * may have enqueued a moment ago. Brokers whose slots never have such ids (memory, SQLite) ignore it.
   */
  hasPending(task: string, except?: string): Promise<boolean>;
  /** Is this run id still queued or claimed? */
  has(id: string): Promise<boolean>;
  /** How many runs are ready, delayed and claimed as of `now` (epoch ms, default Date.now()). */
  counts(now?: number): Promise<BrokerCounts>;
  /**
   * Calls `listener` when a run may be ready sooner than the consumer thinks (an enqueue,
   * retry or recover through this broker object, after it is committed). Other processes'
   * enqueues are seen by polling. A listener that throws is ignored. Returns an unsubscribe.
   */
  onEnqueue(listener: () => void): () => void;
  /** Releases the broker (for SQLite: commits buffered writes, closes the connection). Idempotent. */
  close(): Promise<void>;
}
