import { formatDuration } from "../core/duration.js";
import { TaskTimeoutError, RunInterruptedError, isFluidError, toErrorInfo } from "../core/errors.js";
import { captureOutput, outsideRun } from "../task/capture.js";
import { createContext, type ContextInit, type LogSink, type QueueFn } from "../task/context.js";
import type { RunContext, Task } from "../task/task.js";
import type { AttemptOutcome } from "../core/types.js";
import { NeverSettledError } from "./run-errors.js";
import type { OutsideStop } from "./run-stop.js";
import { deadlines, type Deadline } from "./deadlines.js";

export { RunStop, type OutsideStop } from "./run-stop.js";

/** Options of one inline attempt. */
export interface InlineOptions {
  /** Time limit in ms; 0 = none. */
  timeoutMs: number;
  /** Outside stop (Ctrl-C, shutdown, cancel): aborts `ctx.signal` and ends the attempt. */
  signal?: OutsideStop | undefined;
  /**
   * Capture what the task writes to stdout/stderr (console methods, `process.stdout.write`)
   * while its run is the current async context, as log lines of the run (levels "stdout" and
   * "stderr"). Default false (a pool worker's output is read from its pipes instead).
   */
  capture?: boolean;
  /**
   * After an attempt ended by its timeout or an outside stop, how long the task's function may
   * go on ignoring `ctx.signal` before a warning line says so, in ms. Default 10000.
   */
  ignoredAbortGraceMs?: number;
}

/** How an inline attempt ended, plus when its function really settled. */
export interface InlineOutcome extends AttemptOutcome {
  /**
   * Present when the attempt ended (timeout, outside stop, never settled) while the task's
   * function was still running: resolves when that function settles, which is never for one
   * that ignores `ctx.signal` for good. Whoever limits concurrency keeps the run's slot until then.
   */
  settled?: Promise<void>;
}

/** Default of `InlineOptions.ignoredAbortGraceMs`. */
export const IGNORED_ABORT_GRACE_MS = 10_000;

/**
 * Executes one attempt of a task on this event loop and reports how it ended. Never throws:
 * the task's error becomes the outcome. On timeout or an outside stop, `ctx.signal` is aborted
 * and the attempt ends at once; code that ignores the signal goes on in the background (see
 * `InlineOutcome.settled`; cpu-bound tasks run in a child process, which can be killed). When
 * the process has nothing left to do while the function is pending (its promise can never
 * settle), the attempt fails with FLUID_NEVER_SETTLED instead of the process exiting silently.
 *
 * An attempt pays only for what it uses: `ctx.signal`'s AbortController is made when the task
 * reads `ctx.signal` (or starts a program), and its time limit is an entry in a shared
 * deadline list (see `deadlines`), not a timer of its own.
 */
export async function executeInline(init: Omit<ContextInit, "signal">, options: InlineOptions): Promise<InlineOutcome> {
  const attempt = new InlineAttempt(init.task, options.timeoutMs);
  const outside = options.signal;
  attempt.outside = outside;
  if (outside?.aborted) attempt.handleEvent();
  else outside?.addEventListener("abort", attempt, { once: true });
  if (options.timeoutMs > 0) attempt.deadline = deadlines.add(attempt);
  // fluid's own work for the run (printing and recording its lines, queueing) is not task output.
  const log: LogSink = options.capture ? (line) => outsideRun(() => init.log(line)) : init.log;
  const queue: QueueFn = options.capture ? (target, params, o) => outsideRun(() => init.queue(target, params, o)) : init.queue;
  attempt.pendingAt = pendingAttempts.length;
  pendingAttempts.push(attempt);
  watchEmptyLoop();
  let fn: Promise<unknown> | undefined;
  let captured: { end: () => void } | undefined;
  try {
    // Fields named one by one: an object spread here cost a run several microseconds.
    attempt.ctx = createContext({
      task: init.task, id: init.id, params: init.params, attempt: init.attempt, deps: init.deps,
      fromRunId: init.fromRunId, rootRunId: init.rootRunId, log, queue, signal: attempt.signal,
    });
    if (options.capture) {
      const c = captureOutput((level, message) => init.log({ ts: Date.now(), level, message, task: init.task.name, runId: init.id, attempt: init.attempt }), callTask, attempt);
      fn = c.value;
      captured = c;
    } else {
      fn = callTask(attempt);
    }
    const result = await attempt.outcome(fn);
    captured?.end();
    return { state: "success", result };
  } catch (error) {
    captured?.end();
    const outcome: InlineOutcome = { state: stateOf(error), error: toErrorInfo(error), thrown: error };
    // Where fluid noticed a run can never settle says nothing about the task.
    if (outcome.error?.code === "FLUID_NEVER_SETTLED") delete outcome.error.stack;
    if (fn && attempt.stopped && error === attempt.stopReason) {
      outcome.settled = stillRunning(fn, init, log, options.ignoredAbortGraceMs ?? IGNORED_ABORT_GRACE_MS);
    }
    return outcome;
  } finally {
    attempt.rejectStop = undefined;
    removePending(attempt);
    if (attempt.deadline) deadlines.remove(attempt.deadline);
    outside?.removeEventListener("abort", attempt);
  }
}

/** Calls the task's function on a later microtask (a synchronous throw becomes its rejection). */
function callTask(attempt: InlineAttempt): Promise<unknown> {
  return Promise.resolve(attempt).then(runFn);
}

function runFn(attempt: InlineAttempt): unknown {
  return attempt.task.fn(attempt.ctx!);
}

/**
 * The state of one inline attempt: how it was stopped, and `ctx.signal`'s controller, made on
 * first use. A class, so that an attempt allocates one object instead of a closure per hook
 * (it is the outside stop's listener, the deadline's and the empty loop's target).
 */
class InlineAttempt {
  /** Set once the attempt was stopped (timeout, outside stop, never settled). */
  stopped = false;
  /** Index in `pendingAttempts` while pending, else -1. */
  pendingAt = -1;
  /** Why it was stopped: the outcome's error. */
  stopReason: unknown = undefined;
  controller: AbortController | undefined = undefined;
  rejectStop: ((reason: unknown) => void) | undefined = undefined;
  outside: OutsideStop | undefined = undefined;
  deadline: Deadline | undefined = undefined;
  ctx: RunContext<Record<string, unknown>> | undefined = undefined;
  /** `ctx.signal`, made on first read. */
  readonly signal = (): AbortSignal => {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.stopped) this.controller.abort(this.stopReason);
    }
    return this.controller.signal;
  };

  constructor(readonly task: Task, readonly timeoutMs: number) {}

  abort(reason: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopReason = reason;
    this.controller?.abort(reason);
    this.rejectStop?.(reason);
  }

  /** The outside stop fired (an AbortSignal's or RunStop's listener). */
  handleEvent(): void {
    const reason: unknown = this.outside?.reason;
    this.abort(isFluidError(reason) ? reason : new RunInterruptedError());
  }

  /** The time limit passed. */
  expire(): void {
    this.abort(new TaskTimeoutError(this.task.name, this.timeoutMs));
  }

  /** The event loop emptied while the function was pending. */
  neverSettled(): void {
    this.abort(new NeverSettledError(this.task.name));
  }

  /** The function's outcome, or the stop's reason if the attempt is stopped first. */
  outcome(fn: Promise<unknown>): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      if (this.stopped) return reject(this.stopReason);
      this.rejectStop = reject;
      fn.then(resolve, reject);
    });
  }
}

/**
 * Whether the function ended the attempt may still be running: a promise that settles when it
 * does. Says so once in the run's log when it is still running after `graceMs`.
 */
function stillRunning(fn: Promise<unknown>, init: Omit<ContextInit, "signal">, log: LogSink, graceMs: number): Promise<void> {
  let running = true;
  const settled = fn.then(() => {}, () => {}).finally(() => {
    running = false;
    clearTimeout(warning);
  });
  const warning = setTimeout(() => {
    if (!running) return;
    log({
      ts: Date.now(), level: "warn", task: init.task.name, runId: init.id, attempt: init.attempt,
      message: `task ${init.task.name} run ${init.id} ignored its abort signal and is still running ${formatDuration(graceMs)} after it was stopped (its concurrency slot stays held until it settles; check ctx.signal)`,
    });
  }, graceMs);
  // The warning alone must not keep a process alive.
  warning.unref();
  return settled;
}

/**
 * Attempts whose function is pending on this event loop; aborted when the loop empties. An
 * array with swap-removal (each attempt knows its index), not a Set: the Set cost a run
 * several microseconds, mostly in garbage collection.
 */
const pendingAttempts: InlineAttempt[] = [];

function removePending(attempt: InlineAttempt): void {
  const at = attempt.pendingAt;
  if (at < 0) return;
  attempt.pendingAt = -1;
  const last = pendingAttempts.pop()!;
  if (last !== attempt) {
    pendingAttempts[at] = last;
    last.pendingAt = at;
  }
}
let watching = false;

/**
 * 'beforeExit' fires only when the event loop is empty: nothing left can settle a pending
 * task's promise, so each pending attempt ends as never settled (the run is then recorded and
 * the process exits normally, instead of Node's silent exit code 13 for an unsettled top-level
 * await). A daemon's loop never empties; there the listener never fires.
 */
function watchEmptyLoop(): void {
  if (watching) return;
  watching = true;
  process.on("beforeExit", () => {
    for (const attempt of [...pendingAttempts]) attempt.neverSettled();
  });
}

function stateOf(error: unknown): AttemptOutcome["state"] {
  switch ((error as { code?: unknown } | null)?.code) {
    case "FLUID_ABORTED":
      return "aborted";
    case "FLUID_TIMEOUT":
      return "timeout";
    case "FLUID_CANCELLED":
      return "cancelled";
    case "FLUID_INTERRUPTED":
      return "interrupted";
    default:
      return "failure";
  }
}
