import type { QueuedRun } from "./broker.js";
import { isPriority } from "./claim-order.js";

/**
 * Throws a TypeError naming the field when `run` cannot be queued (a caller's bug: the
 * consumer and the CLI build runs from validated input). Checks the fields a broker orders
 * and stores by, not the params against a schema.
 */
export function checkQueuedRun(run: QueuedRun): void {
  const bad = (field: string, value: unknown, want: string): never => {
    throw new TypeError(`cannot queue run ${JSON.stringify(run?.id)}: ${field} is ${JSON.stringify(value) ?? String(value)}, expected ${want}`);
  };
  if (typeof run !== "object" || run === null) bad("the run", run, "an object");
  if (typeof run.id !== "string" || run.id === "") bad("id", run.id, "a non-empty string");
  if (typeof run.task !== "string" || run.task === "") bad("task", run.task, "a non-empty string");
  if (typeof run.params !== "object" || run.params === null || Array.isArray(run.params)) bad("params", run.params, "an object");
  if (!isPriority(run.priority)) bad("priority", run.priority, '"high", "medium" or "low"');
  if (!Number.isSafeInteger(run.attempt) || run.attempt < 1) bad("attempt", run.attempt, "an integer >= 1");
  if (typeof run.trigger !== "string") bad("trigger", run.trigger, "a run trigger");
  if (!Number.isFinite(run.runAfter)) bad("runAfter", run.runAfter, "epoch ms");
  if (!Number.isFinite(run.queuedAt)) bad("queuedAt", run.queuedAt, "epoch ms");
  if (run.scheduledAt !== undefined && !Number.isFinite(run.scheduledAt)) bad("scheduledAt", run.scheduledAt, "epoch ms or undefined");
}


/** Throws a TypeError when the arguments of `Broker.retry` are not a valid attempt and time. */
export function checkRetry(id: string, attempt: number, runAfter: number): void {
  if (!Number.isSafeInteger(attempt) || attempt < 1) {
    throw new TypeError(`cannot retry run ${JSON.stringify(id)}: attempt is ${attempt}, expected an integer >= 1`);
  }
  if (!Number.isFinite(runAfter)) throw new TypeError(`cannot retry run ${JSON.stringify(id)}: runAfter is ${runAfter}, expected epoch ms`);
}
