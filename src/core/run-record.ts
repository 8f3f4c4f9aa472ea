import type { ErrorInfo } from "./errors.js";
import type { LogLine, RunState, RunTrigger } from "./types.js";

/**
 * One attempt of a run: what the consumer (or `runTask`) builds as an attempt starts and ends,
 * and what the store records. A retry is the next `attempt` of the same `id`.
 */
export interface RunRecord {
  id: string;
  /** 1 for the first try; each retry is the next number. */
  attempt: number;
  maxAttempts: number;
  task: string;
  state: RunState;
  trigger: RunTrigger;
  /** Params of the run, already redacted by the caller; stored as JSON. */
  params: unknown;
  /** Return value of the task; stored as JSON (values JSON cannot hold are stored as a note). */
  result?: unknown;
  error?: ErrorInfo;
  /** Epoch milliseconds. */
  queuedAt?: number;
  startedAt?: number;
  endedAt?: number;
  durationMs?: number;
  /** The run that started this one (e.g. a task that enqueued another). */
  fromRunId?: string;
  /** The first run of the chain `fromRunId` points along. */
  rootRunId?: string;
  /** Host and pid of the process that executed (or is executing) the attempt. */
  host: string;
  pid: number;
  /** Exit code of the child process, for attempts executed out of process. */
  exitCode?: number;
}

/** Filters of `Store.listRuns`. */
export interface RunQuery {
  task?: string;
  /** State of the latest attempt. */
  state?: RunState;
  /** Only runs whose time (see `Store.listRuns`) is `>= since` (epoch ms). */
  since?: number;
  /** Only runs whose time is `< until` (epoch ms). */
  until?: number;
  /** Most runs returned. Default 100; `Infinity` for all. */
  limit?: number;
  /**
   * Keyset pagination: only runs listed after this one (its time and id: the order is time
   * newest first, then id descending), e.g. the last run of the previous page.
   */
  after?: { at: number; id: string };
}

/** Everything the store knows about one run, for `fluid show` and `fluid logs`. */
export interface RunDetails {
  /** The latest attempt. */
  run: RunRecord;
  /** Every attempt, first to last. */
  attempts: RunRecord[];
  /** Log lines of every attempt in order, with a marker line where an attempt that went over `logCap` lost lines. */
  logs: Array<LogLine & { attempt: number }>;
  /** Log lines not kept because an attempt went over `logCap` (sum over attempts). */
  droppedLogLines: number;
  /** UTF-8 bytes of those lines (lines dropped by a store older than schema v4 were not measured). */
  droppedLogBytes: number;
  /** Latest attempt of the run named by `fromRunId`, when it is still recorded. */
  parent?: RunRecord;
  /** Latest attempt of the run named by `rootRunId`, when it differs from this run and is still recorded. */
  root?: RunRecord;
  /** Latest attempt of each run started from this one, oldest first. */
  children: RunRecord[];
}

/** Enabled state of a task, set by `fluid enable` / `fluid disable`. */
export interface TaskState {
  enabled: boolean;
  reason?: string;
  /** Epoch ms of the last change. */
  changedAt: number;
}
