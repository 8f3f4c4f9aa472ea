import type { AttemptOutcome, RetryPolicy } from "./types.js";

/**
 * The retry policy, one place for `fluid run` (runTask) and the daemon's consumer: whether an
 * attempt gets another try, and how long to wait before it.
 */

/** Wait before attempt `next` (2 = first retry): delay * backoff^(next-2), capped at maxDelay. */
export function retryDelay(policy: RetryPolicy, next: number): number {
  return Math.min(policy.delayMs * policy.backoff ** Math.max(0, next - 2), policy.maxDelayMs);
}

/** Whether a finished attempt gets another try: only failures (and timeouts when the policy says so). */
export function shouldRetry(task: { retry?: RetryPolicy | undefined }, outcome: AttemptOutcome, attempt: number, maxAttempts: number): boolean {
  if (!task.retry || attempt >= maxAttempts) return false;
  if (outcome.state !== "failure" && outcome.state !== "timeout") return false;
  // Params that do not fit the task (a queued run whose task changed since) never fit on a retry.
  if (outcome.error?.code === "FLUID_PARAMS") return false;
  const error = outcome.thrown instanceof Error ? outcome.thrown : new Error(String(outcome.error?.message));
  try {
    return task.retry.retryOn(error, attempt) === true;
  } catch {
    return false;
  }
}
