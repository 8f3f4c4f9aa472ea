import { hostname } from "node:os";
import { RunInterruptedError, toErrorInfo, UsageError, type ErrorInfo } from "../core/errors.js";
import { executeAttempt } from "../executor/execute-attempt.js";
import type { Pool, PoolOutcome } from "../executor/pool.js";
import type { LogSink, QueueFn } from "../task/context.js";
import { redactParams, validateParams } from "../task/params.js";
import type { Task } from "../task/task.js";
import { retryDelay, shouldRetry } from "../core/retry.js";
import type { RunRecord } from "../core/run-record.js";
import type { AttemptOutcome, RunState, RunTrigger } from "../core/types.js";
import { newRunId } from "../core/run-id.js";

/** One attempt as it starts or ends: the run record (an alias of `RunRecord`, kept for the public API). */
export type AttemptRecord = RunRecord;

/** Options of `runTask`. */
export interface RunTaskOptions {
  /** Raw params (validated against the task's schema here). Default {}. */
  params?: unknown;
  /** Run id. Default: a new random id. */
  id?: string;
  /** Overrides the task's timeout (ms; 0 = none). */
  timeoutMs?: number;
  /** What started the run. Default "cli". */
  trigger?: RunTrigger;
  /** Outside stop: aborts the attempt and ends the run as `interrupted` (or `cancelled`). */
  signal?: AbortSignal;
  /** User dependencies passed as `ctx.deps`. */
  deps?: unknown;
  fromRunId?: string;
  rootRunId?: string;
  /**
   * Receives the run's log lines. When given, what an inline task writes to stdout and stderr
   * while it runs (console methods, `process.stdout.write`) is captured as lines of its run
   * (levels "stdout" and "stderr") instead of reaching the process's streams. Default: ctx.log
   * lines are dropped and the task's output goes to the streams.
   */
  log?: LogSink;
  /** Handles `ctx.queue`. Default: refuses, saying no queue is available. */
  queue?: QueueFn;
  /** Called as each attempt starts and ends (recording). Errors thrown here are not caught. */
  onAttempt?: (record: AttemptRecord) => void;
  /** Child-process pool for cpu-bound tasks. Default: none, the task runs on this event loop. */
  pool?: Pool;
}

/** How a run ended. */
export interface RunResult {
  id: string;
  task: string;
  state: RunState;
  /** Params with secrets redacted. */
  params: unknown;
  result?: unknown;
  error?: ErrorInfo;
  attempts: number;
  startedAt: number;
  endedAt: number;
  durationMs: number;
}

/**
 * Runs a task now, on this event loop: validates the params (a ParamsError is thrown, never
 * retried), then executes attempts with the task's timeout and retry policy until one
 * succeeds, aborts, or the policy gives up. Resolves with how the run ended; never rejects
 * for a task failure.
 */
export async function runTask(task: Task, options: RunTaskOptions = {}): Promise<RunResult> {
  const params = validateParams(task.name, task.params, options.params ?? {});
  const id = options.id ?? newRunId();
  const redacted = redactParams(task.params, params);
  const maxAttempts = task.retry?.attempts ?? 1;
  const timeoutMs = options.timeoutMs ?? task.timeoutMs;
  const queuedAt = Date.now();
  const base = {
    id, maxAttempts, task: task.name, params: redacted, queuedAt, host: hostname(), pid: process.pid,
    ...(options.fromRunId ? { fromRunId: options.fromRunId } : {}),
    ...(options.rootRunId ? { rootRunId: options.rootRunId } : {}),
  };
  const startedAt = Date.now();
  let outcome: AttemptOutcome = { state: "failure" };
  let attempt = 0;
  while (attempt < maxAttempts) {
    attempt++;
    const trigger: RunTrigger = attempt > 1 ? "retry" : (options.trigger ?? "cli");
    const attemptStart = Date.now();
    options.onAttempt?.({ ...base, attempt, trigger, state: "running", startedAt: attemptStart });
    outcome = await executeAttempt(
      {
        task, id, params, attempt, deps: options.deps, fromRunId: options.fromRunId, rootRunId: options.rootRunId,
        log: options.log ?? (() => {}),
        queue: options.queue ?? noQueue,
      },
      { timeoutMs, ...(options.signal ? { signal: options.signal } : {}), pool: options.pool, capture: options.log !== undefined },
    );
    const endedAt = Date.now();
    options.onAttempt?.({
      ...base, attempt, trigger, state: outcome.state, startedAt: attemptStart, endedAt, durationMs: endedAt - attemptStart,
      ...outcomeFields(outcome),
    });
    if (!shouldRetry(task, outcome, attempt, maxAttempts)) break;
    const wait = retryDelay(task.retry!, attempt + 1);
    options.log?.({ ts: Date.now(), level: "warn", message: `attempt ${attempt}/${maxAttempts} ended ${outcome.state}; retrying in ${wait}ms`, task: task.name, runId: id, attempt });
    if (!(await sleep(wait, options.signal))) {
      outcome = { state: "interrupted", error: toErrorInfo(new RunInterruptedError("interrupted while waiting to retry")) };
      break;
    }
  }
  const endedAt = Date.now();
  return {
    id, task: task.name, state: outcome.state, params: redacted,
    ...(outcome.state === "success" ? { result: outcome.result } : {}),
    ...(outcome.error ? { error: outcome.error } : {}),
    attempts: attempt, startedAt, endedAt, durationMs: endedAt - startedAt,
  };
}

/** The fields of an attempt's record that come from how it ended: result, error, a worker's exit code. */
export function outcomeFields(outcome: PoolOutcome): Pick<AttemptRecord, "result" | "error" | "exitCode"> {
  return {
    ...(outcome.state === "success" ? { result: outcome.result } : {}),
    ...(outcome.error ? { error: outcome.error } : {}),
    ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
  };
}

/** Sleeps `ms`; resolves false early when the signal aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(ok);
    };
    const onAbort = (): void => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

const noQueue: QueueFn = async (target) => {
  const name = typeof target === "string" ? target : target.name;
  throw new UsageError(`cannot queue "${name}": this run has no queue (pass \`queue\` to runTask)`, {
    hint: "queue runs from a task the daemon runs, or give runTask a `queue` (fluid run gives it one)",
  });
};
