import type { Priority, RunTrigger } from "./types.js";
import { newRunId } from "./run-id.js";

/** A run waiting in (or claimed from) a broker. */
export interface QueuedRun {
  /** Run id: the same for every attempt of the run. */
  id: string;
  task: string;
  /** Params as validated (not redacted: the run needs them). JSON-serialisable. */
  params: Record<string, unknown>;
  priority: Priority;
  /** The attempt this queue entry will execute: 1 for a new run, n for the (n-1)th retry. */
  attempt: number;
  /** What started the run. A retry keeps it: `attempt > 1` is what marks a retry. */
  trigger: RunTrigger;
  /** Epoch ms before which the run must not start (delays and retry backoff). */
  runAfter: number;
  /** Epoch ms when the run was first queued. */
  queuedAt: number;
  fromRunId?: string;
  rootRunId?: string;
  /** For a schedule fire: the instant it was due (epoch ms). */
  scheduledAt?: number;
}

/** What varies between new runs: where they come from and when they may start. */
export interface NewRunOptions {
  id?: string;
  trigger?: QueuedRun["trigger"];
  priority?: QueuedRun["priority"];
  /** Wait before the run may start, in ms. Default 0. */
  delayMs?: number;
  fromRunId?: string | undefined;
  rootRunId?: string | undefined;
  scheduledAt?: number;
}

/** A new run of `task` (attempt 1) with validated params, ready to enqueue. */
export function newQueuedRun(task: { name: string; priority: Priority }, params: Record<string, unknown>, o: NewRunOptions = {}): QueuedRun {
  const now = Date.now();
  return {
    id: o.id ?? newRunId(), task: task.name, params, priority: o.priority ?? task.priority, attempt: 1,
    trigger: o.trigger ?? "queue", runAfter: now + (o.delayMs ?? 0), queuedAt: now,
    ...(o.fromRunId ? { fromRunId: o.fromRunId } : {}),
    ...(o.rootRunId ? { rootRunId: o.rootRunId } : {}),
    ...(o.scheduledAt !== undefined ? { scheduledAt: o.scheduledAt } : {}),
  };
}

