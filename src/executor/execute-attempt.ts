import type { ContextInit } from "../task/context.js";
import { executeInline, type InlineOptions } from "./inline.js";
import type { Pool, PoolOutcome } from "./pool.js";
import { toErrorInfo, type ErrorInfo } from "../core/errors.js";
import { ResultError, whyNotJson } from "./run-errors.js";

/** Options of `executeAttempt`: the inline options plus the pool for cpu-bound tasks. */
export interface AttemptOptions extends Omit<InlineOptions, "capture"> {
  /** Worker pool for tasks with `cpuBound: true`. Default: none, every task runs inline. */
  pool?: Pool | undefined;
  /**
   * Capture what an inline task writes to stdout/stderr into its log (`init.log`, levels
   * "stdout" and "stderr"). Default true. (A worker's output is always the run's.)
   */
  capture?: boolean;
}

/** How an attempt ended; `settled` as in `InlineOutcome` (only inline attempts have it). */
export type AttemptResult = PoolOutcome & { settled?: Promise<void> };

/**
 * Executes one attempt where its task belongs: a cpu-bound task in a worker of the pool, any
 * other task inline on this event loop, with its stdout/stderr output captured into its log
 * (unless `capture` is false).
 * Same contract as `executeInline` (never throws; the outcome says how it ended; a worker's
 * exit code when it died). A cpu-bound run's `ctx.deps` are the worker's own: it calls the
 * config's `deps` once when it starts, so `init.deps` is not used for it.
 *
 * One rule for results, wherever the task ran: a result JSON cannot store (a BigInt, a cycle,
 * a function or symbol instead of data) makes the attempt a failure (FLUID_RESULT).
 */
export async function executeAttempt(init: Omit<ContextInit, "signal">, options: AttemptOptions): Promise<AttemptResult> {
  const { task } = init;
  const outcome: AttemptResult = !task.cpuBound || !options.pool
    ? await executeInline(init, {
      // Named one by one: an object spread on this path cost a run microseconds.
      timeoutMs: options.timeoutMs, signal: options.signal, capture: options.capture ?? true, ignoredAbortGraceMs: options.ignoredAbortGraceMs,
    })
    : await options.pool.execute(
      {
        task: task.name, id: init.id, params: init.params, attempt: init.attempt,
        fromRunId: init.fromRunId, rootRunId: init.rootRunId, timeoutMs: options.timeoutMs,
        env: task.env, // copied by the pool only when it starts a worker for it
        ...(task.maxMemoryMb !== undefined ? { maxMemoryMb: task.maxMemoryMb } : {}),
        isolate: task.isolate,
      },
      {
        signal: options.signal,
        queue: init.queue,
        // The pool's lines carry no run: tag them as the inline executor's lines are tagged.
        log: (line) => init.log({ ...line, task: task.name, runId: init.id, attempt: init.attempt }),
      },
    );
  if (outcome.state !== "success") {
    if (outcome.error?.code === "FLUID_RESULT") outcome.error = withoutStacks(outcome.error); // refused in the worker
    return outcome;
  }
  const refused = checkResult(task.name, outcome.result);
  if (!refused) return outcome;
  const { result: _dropped, ...rest } = outcome;
  return { ...rest, state: "failure", error: withoutStacks(toErrorInfo(refused)), thrown: refused };
}

/** A ResultError when JSON cannot store `result` (undefined, "no result", is fine). */
export function checkResult(task: string, result: unknown): ResultError | undefined {
  if (result === undefined) return undefined;
  let text: string | undefined;
  try {
    text = JSON.stringify(result);
  } catch (error) {
    return new ResultError(task, whyNotJson(error), { cause: error });
  }
  return text === undefined ? new ResultError(task, `a ${typeof result} is not data`) : undefined;
}

/** A refused result's error without stacks: they show only fluid's own frames (JSON.stringify, the executor). */
function withoutStacks(error: ErrorInfo): ErrorInfo {
  const { stack: _stack, cause, ...rest } = error;
  return cause ? { ...rest, cause: { name: cause.name, message: cause.message } } : rest;
}
