import type { StoreError } from "../core/errors.js";
import type { LogLine } from "../core/types.js";
import type { RunDetails, RunQuery, RunRecord, TaskState } from "../core/run-record.js";

/** How long runs are kept by `Store.prune`. */
export interface RetentionOptions {
  /** Delete runs that ended (or were queued) more than this many days ago. Default 30; `Infinity` keeps all. */
  days?: number;
  /** Keep at most this many runs per task, newest first. Default 1000; `Infinity` keeps all. */
  perTask?: number;
}

/** Options of `openStore`. */
export interface StoreOptions {
  /** File path of the SQLite database, or ":memory:". The parent directory is created. The default location is the config layer's decision. */
  path: string;
  /** Open for reading only (`fluid history`, `fluid show`): no migration, writes throw. The file must exist. Default false. */
  readonly?: boolean;
  /**
   * Most log lines kept per attempt: the first half and the last half of the cap; the lines in
   * between are counted (lines and bytes) and a marker says how many were dropped. A line
   * longer than 8 KiB is cut to 8 KiB. Default 1000.
   */
  logCap?: number;
  /** Retention applied by `Store.prune`. Defaults: 30 days, 1000 runs per task. */
  retention?: RetentionOptions;
  /**
   * Receives write failures of background flushes (disk full, I/O error, a lock held too long)
   * instead of having them thrown out of a timer; the rows stay buffered and are retried after
   * 100 ms, doubling up to 5 s, until they land. An outage is reported twice: one line when it
   * starts, a summary when writes land again. Default: print each line to stderr.
   */
  onError?: (error: StoreError) => void;
  /** How long a write waits for another process's write lock, in ms (`PRAGMA busy_timeout`). Default 5000. */
  busyTimeoutMs?: number;
  /** Buffered rows (attempts + log lines + fires) that trigger a flush right away instead of on the next tick. Default 1000. */
  batchRows?: number;
  /**
   * Quiet time after this connection's last write before it empties the WAL file
   * (`wal_checkpoint(TRUNCATE)`, never waiting for other connections), in ms. Default 1000.
   */
  checkpointIdleMs?: number;
  /** Most rows kept buffered while writes fail; beyond it the oldest are dropped (log lines first) and counted. Default 100000. */
  maxBufferedRows?: number;
}

/** Durable record of runs, task state (enabled) and schedule state (last fire), in one SQLite file. */
export interface Store {
  /** Absolute path of the file, or ":memory:". */
  readonly path: string;
  /**
   * Records an attempt, replacing the earlier record of the same (id, attempt) unless that one
   * is further along (`STATE_RANK`: a record never goes backwards, whichever process writes
   * last). Buffered: written on the next tick.
   */
  writeAttempt(record: RunRecord): void;
  /**
   * Records the first attempt of a new run at once (not buffered), unless a run with this id is
   * already recorded: then nothing is written and it returns false. Atomic (one INSERT that
   * does nothing on conflict), so two processes cannot both take an id.
   */
  insertAttempt(record: RunRecord): boolean;
  /** Appends log lines of an attempt (see `logCap`). Buffered: written on the next tick. */
  appendLogs(id: string, attempt: number, lines: LogLine[]): void;
  /**
   * Writes every buffered row now, in one transaction. Throws a StoreError when it cannot: after
   * a failure a retry may cure (disk full, lock, I/O) the rows stay buffered and are retried;
   * rows SQLite refuses outright are dropped, and the error counts them.
   */
  flush(): void;
  /** The run with this id, or the only run whose id starts with it. Throws a StoreError for an unknown or ambiguous id. */
  getRun(idOrPrefix: string): RunDetails;
  /** The latest attempt of the run with exactly this id, or undefined when none is recorded. */
  latestAttempt(id: string): RunRecord | undefined;
  /** Latest attempt of each run matching the query, newest first. A run's time is its latest attempt's queuedAt, else startedAt, else endedAt. */
  listRuns(query?: RunQuery): RunRecord[];
  /** Latest attempt of each run whose `fromRunId` is `id`, oldest first. */
  children(id: string): RunRecord[];
  /** Enables or disables a task (written at once, not buffered). */
  setTaskEnabled(task: string, enabled: boolean, reason?: string): void;
  /** Enabled state of every task that was ever enabled or disabled. */
  taskStates(): Map<string, TaskState>;
  /** Latest attempt that is running or finished (not queued) of each task, for `fluid ls`. */
  lastRuns(): Map<string, RunRecord>;
  /** Latest attempt that is running or finished (not queued) of one task (one indexed read, whatever the size of the history). */
  lastRun(task: string): RunRecord | undefined;
  /** Records when a task's schedule last fired (epoch ms). Buffered. */
  setLastFire(task: string, at: number): void;
  /** When each task's schedule last fired (epoch ms). */
  lastFires(): Map<string, number>;
  /**
   * Marks attempts left `running` by a process that is gone as `interrupted`, and returns them.
   * `host` limits it to attempts of that host; `pidAlive` says whether the process that started
   * the attempt (at `startedAt`, epoch ms) still runs (without it, every matching running
   * attempt counts as gone).
   */
  markInterrupted(filter: { host?: string; pidAlive?: (pid: number, startedAt?: number) => boolean }): RunRecord[];
  /** Deletes runs (every attempt and log line) beyond the retention, in small transactions. Never deletes queued or running runs. */
  prune(now?: number): { deleted: number };
  /**
   * `prune` one small transaction at a time: each `next()` deletes up to 500 runs in one
   * transaction and yields how many, so a caller can yield to its event loop in between
   * (`startPruning`). Throws a StoreError from `next()` when a step fails or the store closed.
   */
  pruneSteps(now?: number): Generator<number, void, void>;
  /** Flushes, then closes the file. Idempotent. */
  close(): void;
}
