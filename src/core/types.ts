/**
 * Terminology (the same nouns in code, docs and messages):
 *
 * - task:      a named definition: function + params schema + options. Made by `task()`.
 * - run:       one execution of a task (with its retry attempts), with an id, params, state,
 *              timestamps and a result or error.
 * - attempt:   one try of a run; a retry is the next attempt of the same run (same id).
 * - run record: what is known of one attempt (`RunRecord`, core/run-record.ts): built by the
 *              consumer and `runTask`, kept by the store.
 * - queued run: a run waiting in a broker (`QueuedRun`, core/queued-run.ts).
 * - registry:  the set of tasks loaded from the config's task modules.
 * - broker:    where queued runs wait (memory, SQLite). Enqueue, claim, ack, fail.
 * - executor:  how an attempt executes: inline on the event loop, or in a child process.
 * - consumer:  takes runs and hands them to an executor, applying timeout, retry and recording.
 * - scheduler: turns schedules into runs at the right time; never runs task code itself.
 * - store:     durable record of runs, task state (enabled) and schedule state (last fire).
 * - daemon:    `fluid serve`: scheduler + consumer + store, signals and shutdown.
 * - cli:       turns argv into options and calls library functions. Nothing imports the cli.
 * - core:      this folder: the vocabulary every layer may use (types, errors and their codes,
 *              the run record, building a queued run, the retry policy).
 * - startup:   what makes a `fluid` start fast on Node 20; no domain module imports it.
 */
import type { z } from "zod";
import type { ErrorInfo } from "./errors.js";

/** Where a run ends up. `queued -> running -> success | failure | aborted | timeout | cancelled`,
 * plus `rate_limited` (dropped at a concurrency limit) and `interrupted` (stopped by shutdown). */
export type RunState =
  | "queued"
  | "running"
  | "success"
  | "failure"
  | "aborted"
  | "timeout"
  | "cancelled"
  | "rate_limited"
  | "interrupted";

/** States after which nothing more happens to an attempt. */
export const FINAL_STATES: ReadonlySet<RunState> = new Set([
  "success",
  "failure",
  "aborted",
  "timeout",
  "cancelled",
  "rate_limited",
  "interrupted",
]);

/** What started a run. */
export type RunTrigger = "cli" | "schedule" | "queue" | "retry";

export type Priority = "high" | "medium" | "low";

/** The zod object schema of a task's params. */
export type ParamsSchema = z.ZodObject<z.ZodRawShape>;

/** A duration: milliseconds, or text such as "500ms", "30s", "5m", "1h". */
export type Duration = number | string;

/** Retry policy of a task (`task({ retry })`). */
export interface RetryOptions {
  /** Total attempts including the first. Default 3 when `retry` is given. */
  attempts?: number;
  /** Wait before the first retry. Default "1s". */
  delay?: Duration;
  /** Multiplier applied to the wait after each retry. Default 2 (exponential); 1 = fixed. */
  backoff?: number;
  /** Upper bound of the wait. Default "5m". */
  maxDelay?: Duration;
  /**
   * Which failures to retry. Default: every failure except a timeout. Aborts (`ctx.abort`)
   * and params errors are never retried. Return true to retry.
   */
  retryOn?: (error: Error, attempt: number) => boolean;
}

/** A retry policy with every field resolved to a number. */
export interface RetryPolicy {
  attempts: number;
  delayMs: number;
  backoff: number;
  maxDelayMs: number;
  retryOn: (error: Error, attempt: number) => boolean;
}

/** A schedule made by `every`, `crontab` or `cron`. */
export interface Schedule {
  readonly kind: "every" | "crontab" | "cron" | "start";
  /** Human text, e.g. "every 1s", "at minute 0 past every 2nd hour (UTC)". */
  describe(): string;
  /** The source form, e.g. `every("1s")`, `cron("0 3 * * *")`. */
  toString(): string;
  /** The next fire strictly after `after`, or null when there is none. */
  next(after: Date): Date | null;
  /** Params every scheduled run of this schedule carries (validated at load). */
  readonly params: Record<string, unknown> | undefined;
  /** IANA time zone of a calendar schedule; undefined for `every`. */
  readonly timezone: string | undefined;
}

/** Leveled logger of a run, tagged with the task name and run id. */
export interface RunLogger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

/** One log line of a run, as recorded. */
export interface LogLine {
  ts: number;
  level: LogLevel | "stdout" | "stderr";
  message: string;
}

/** The result of one attempt. */
export interface AttemptOutcome {
  state: Extract<RunState, "success" | "failure" | "aborted" | "timeout" | "cancelled" | "interrupted">;
  result?: unknown;
  error?: ErrorInfo;
  /** The thrown value itself, for the retry policy (not serialised). */
  thrown?: unknown;
}
