import { TaskTimeoutError, RunInterruptedError, isFluidError, toErrorInfo } from "../errors.js";
import { createContext, type ContextInit } from "../task/context.js";
import type { AttemptOutcome } from "../types.js";

/** Options of one inline attempt. */
export interface InlineOptions {
  /** Time limit in ms; 0 = none. */
  timeoutMs: number;
  /** Outside stop (Ctrl-C, shutdown, cancel): aborts `ctx.signal` and ends the attempt. */
  signal?: AbortSignal;
}

/**
 * Executes one attempt of a task on this event loop and reports how it ended. Never throws:
 * the task's error becomes the outcome. On timeout or an outside stop, `ctx.signal` is aborted
 * and the attempt ends at once; code that ignores the signal may go on in the background
 * (cpu-bound tasks run in a child process, which can be killed).
 */
export async function executeInline(init: Omit<ContextInit, "signal">, options: InlineOptions): Promise<AttemptOutcome> {
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
  try {
    const ctx = createContext({ ...init, signal: controller.signal });
    const result = await Promise.race([Promise.resolve().then(() => task.fn(ctx)), stopped]);
    return { state: "success", result };
  } catch (error) {
    return { state: stateOf(error), error: toErrorInfo(error), thrown: error };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onOutside);
  }
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
