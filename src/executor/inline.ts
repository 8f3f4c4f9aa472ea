import { formatDuration } from "../duration.js";
import { TaskTimeoutError, RunInterruptedError, isFluidError } from "../errors.js";
import { captureOutput, outsideRun } from "../task/capture.js";
import { createContext, type ContextInit, type LogSink, type QueueFn } from "../task/context.js";
import type { AttemptOutcome } from "../types.js";
import { toWireError } from "./protocol.js";
import { NeverSettledError } from "./run-errors.js";

/**
 * What an attempt needs of an outside stop. An AbortSignal is one; so is `RunStop`, the
 * consumer's cheaper stop, which builds an AbortSignal only when something asks for one.
 */
export interface OutsideStop {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/**
 * A stop from outside of one run (cancel, shutdown) that costs nothing until it is used: it
 * holds at most one listener (the attempt it stops) and makes an AbortSignal only when one is
 * asked for (`signal`, for a pool worker's run).
 */
export class RunStop implements OutsideStop {
  aborted = false;
  reason: unknown = undefined;
  private listener: (() => void) | undefined;
  private controller: AbortController | undefined;

  /** Stops the run (once; later calls do nothing). */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listener = this.listener;
    this.listener = undefined;
    listener?.();
    this.controller?.abort(reason);
  }

  addEventListener(_type: "abort", listener: () => void): void {
    this.listener = listener;
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    if (this.listener === listener) this.listener = undefined;
  }

  /** An AbortSignal that follows this stop. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }
}

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
  const { task } = init;
  // How the attempt was stopped, if it was: the reason is the outcome's error.
  let stopReason: unknown;
  let stoppedEarly = false;
  let controller: AbortController | undefined;
  let rejectStop: (reason: unknown) => void = () => {};
  const abort = (reason: unknown): void => {
    if (stoppedEarly) return;
    stoppedEarly = true;
    stopReason = reason;
    controller?.abort(reason);
    rejectStop(reason);
  };
  const signal = (): AbortSignal => {
    if (!controller) {
      controller = new AbortController();
      if (stoppedEarly) controller.abort(stopReason);
    }
    return controller.signal;
  };
  const outside = options.signal;
  const onOutside = (): void => {
    const reason: unknown = outside?.reason;
    abort(isFluidError(reason) ? reason : new RunInterruptedError());
  };
  if (outside?.aborted) onOutside();
  else outside?.addEventListener("abort", onOutside, { once: true });
  const deadline = options.timeoutMs > 0
    ? deadlines.add(options.timeoutMs, () => abort(new TaskTimeoutError(task.name, options.timeoutMs)))
    : undefined;
  // fluid's own work for the run (printing and recording its lines, queueing) is not task output.
  const log: LogSink = (line) => outsideRun(() => init.log(line));
  const queue: QueueFn = (target, params, o) => outsideRun(() => init.queue(target, params, o));
  const pending = { abort: () => abort(new NeverSettledError(task.name)) };
  pendingAttempts.add(pending);
  watchEmptyLoop();
  let fn: Promise<unknown> | undefined;
  let end = (): void => {};
  try {
    const ctx = createContext({ ...init, log, queue, signal });
    const call = (): Promise<unknown> => Promise.resolve().then(() => task.fn(ctx));
    if (options.capture) {
      const captured = captureOutput((level, message) => init.log({ ts: Date.now(), level, message, task: task.name, runId: init.id, attempt: init.attempt }), call);
      fn = captured.value;
      end = captured.end;
    } else {
      fn = call();
    }
    const running = fn;
    // The function's outcome, or the stop's reason if the attempt was stopped first.
    const result = await new Promise<unknown>((resolve, reject) => {
      if (stoppedEarly) return reject(stopReason);
      rejectStop = reject;
      running.then(resolve, reject);
    });
    end();
    return { state: "success", result };
  } catch (error) {
    end();
    const outcome: InlineOutcome = { state: stateOf(error), error: toWireError(error), thrown: error };
    // Where fluid noticed a run can never settle says nothing about the task.
    if (outcome.error?.code === "FLUID_NEVER_SETTLED") delete outcome.error.stack;
    if (fn && stoppedEarly && error === stopReason) {
      outcome.settled = stillRunning(fn, init, log, options.ignoredAbortGraceMs ?? IGNORED_ABORT_GRACE_MS);
    }
    return outcome;
  } finally {
    rejectStop = () => {};
    pendingAttempts.delete(pending);
    if (deadline) deadlines.remove(deadline);
    outside?.removeEventListener("abort", onOutside);
  }
}

/** One attempt's time limit in `deadlines`. */
interface Deadline {
  at: number;
  ms: number;
  expire: () => void;
}

/**
 * The time limits of pending attempts, one list per limit: attempts with the same limit (most
 * share the default) expire in the order they started, so each list needs one timer, armed for
 * its oldest entry, instead of a timer per attempt. The timer is cleared when its list empties
 * (a pending limit keeps the process alive, as a timer of its own would).
 */
const deadlines = {
  lists: new Map<number, { entries: Set<Deadline>; timer: NodeJS.Timeout | undefined }>(),

  add(ms: number, expire: () => void): Deadline {
    const entry: Deadline = { at: performance.now() + ms, ms, expire };
    let list = this.lists.get(ms);
    if (!list) {
      list = { entries: new Set(), timer: undefined };
      this.lists.set(ms, list);
    }
    list.entries.add(entry);
    if (list.timer === undefined) this.arm(ms, list, ms);
    return entry;
  },

  remove(entry: Deadline): void {
    const list = this.lists.get(entry.ms);
    if (!list || !list.entries.delete(entry) || list.entries.size > 0) return;
    clearTimeout(list.timer);
    this.lists.delete(entry.ms);
  },

  arm(ms: number, list: { entries: Set<Deadline>; timer: NodeJS.Timeout | undefined }, wait: number): void {
    list.timer = setTimeout(() => {
      list.timer = undefined;
      const now = performance.now();
      for (const entry of list.entries) {
        if (entry.at > now) return this.arm(ms, list, Math.max(1, Math.ceil(entry.at - now)));
        list.entries.delete(entry);
        entry.expire();
      }
      if (list.entries.size === 0 && this.lists.get(ms) === list) this.lists.delete(ms);
    }, wait);
  },
};

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
