import { formatDuration } from "../core/duration.js";
import { TaskTimeoutError, RunInterruptedError, isFluidError } from "../core/errors.js";
import { captureOutput, outsideRun } from "../task/capture.js";
import { createContext, type ContextInit, type LogSink, type QueueFn } from "../task/context.js";
import type { AttemptOutcome } from "../core/types.js";
import { toWireError } from "./protocol.js";
import { NeverSettledError } from "./run-errors.js";

/** Options of one inline attempt. */
export interface InlineOptions {
  /** Time limit in ms; 0 = none. */
  timeoutMs: number;
  /** Outside stop (Ctrl-C, shutdown, cancel): aborts `ctx.signal` and ends the attempt. */
  signal?: AbortSignal;
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
 */
export async function executeInline(init: Omit<ContextInit, "signal">, options: InlineOptions): Promise<InlineOutcome> {
  const controller = new AbortController();
  const { task } = init;
  let timer: NodeJS.Timeout | undefined;
  const stopped = new Promise<never>((_, reject) => {
    controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
  });
  stopped.catch(() => {}); // handled by the race below; this avoids an unhandled rejection when the task wins
  const onOutside = (): void => {
    const reason: unknown = options.signal?.reason;
    controller.abort(isFluidError(reason) ? reason : new RunInterruptedError());
  };
  if (options.signal?.aborted) onOutside();
  else options.signal?.addEventListener("abort", onOutside, { once: true });
  if (options.timeoutMs > 0) {
    timer = setTimeout(() => controller.abort(new TaskTimeoutError(task.name, options.timeoutMs)), options.timeoutMs);
  }
  // fluid's own work for the run (printing and recording its lines, queueing) is not task output.
  const log: LogSink = (line) => outsideRun(() => init.log(line));
  const queue: QueueFn = (target, params, o) => outsideRun(() => init.queue(target, params, o));
  const pending = { abort: () => controller.abort(new NeverSettledError(task.name)) };
  pendingAttempts.add(pending);
  watchEmptyLoop();
  let fn: Promise<unknown> | undefined;
  let end = (): void => {};
  try {
    const ctx = createContext({ ...init, log, queue, signal: controller.signal });
    const call = (): Promise<unknown> => Promise.resolve().then(() => task.fn(ctx));
    if (options.capture) {
      const captured = captureOutput((level, message) => init.log({ ts: Date.now(), level, message, task: task.name, runId: init.id, attempt: init.attempt }), call);
      fn = captured.value;
      end = captured.end;
    } else {
      fn = call();
    }
    const result = await Promise.race([fn, stopped]);
    end();
    return { state: "success", result };
  } catch (error) {
    end();
    const outcome: InlineOutcome = { state: stateOf(error), error: toWireError(error), thrown: error };
    // Where fluid noticed a run can never settle says nothing about the task.
    if (outcome.error?.code === "FLUID_NEVER_SETTLED") delete outcome.error.stack;
    if (fn && controller.signal.aborted && error === controller.signal.reason) {
      outcome.settled = stillRunning(fn, init, log, options.ignoredAbortGraceMs ?? IGNORED_ABORT_GRACE_MS);
    }
    return outcome;
  } finally {
    pendingAttempts.delete(pending);
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onOutside);
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

/** Attempts whose function is pending on this event loop; aborted when the loop empties. */
const pendingAttempts = new Set<{ abort: () => void }>();
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
    for (const attempt of [...pendingAttempts]) attempt.abort();
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
