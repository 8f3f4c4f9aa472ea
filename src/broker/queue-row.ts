import type { RunTrigger } from "../core/types.js";
import type { QueuedRun } from "./broker.js";
import { PRIORITIES, priorityRank } from "./claim-order.js";

/** A row of the `queue` table (schema v3), as better-sqlite3 returns it. */
export interface QueueRow {
  seq: number;
  id: string;
  task: string;
  params: string;
  priority: number;
  attempt: number;
  trigger: string;
  run_after: number;
  queued_at: number;
  from_run_id: string | null;
  root_run_id: string | null;
  scheduled_at: number | null;
  claimed_by: string | null;
  claimed_at: number | null;
  cancel_requested: number;
}

/** The named parameters of the queue's INSERT for a run. Throws when the params cannot be JSON. */
export function toInsertParams(run: QueuedRun): Record<string, string | number | null> {
  const params = JSON.stringify(run.params);
  return {
    id: run.id,
    task: run.task,
    params,
    priority: priorityRank(run.priority),
    attempt: run.attempt,
    trigger: run.trigger,
    run_after: run.runAfter,
    queued_at: run.queuedAt,
    from_run_id: run.fromRunId ?? null,
    root_run_id: run.rootRunId ?? null,
    scheduled_at: run.scheduledAt ?? null,
  };
}

/** The run a queue row holds. */
export function fromQueueRow(row: QueueRow): QueuedRun {
  const run: QueuedRun = {
    id: row.id,
    task: row.task,
    params: JSON.parse(row.params) as Record<string, unknown>,
    priority: PRIORITIES[row.priority] ?? "medium",
    attempt: row.attempt,
    trigger: row.trigger as RunTrigger,
    runAfter: row.run_after,
    queuedAt: row.queued_at,
  };
  if (row.from_run_id !== null) run.fromRunId = row.from_run_id;
  if (row.root_run_id !== null) run.rootRunId = row.root_run_id;
  if (row.scheduled_at !== null) run.scheduledAt = row.scheduled_at;
  return run;
}

/** Sorts rows in claim order (priority, runAfter, seq): RETURNING gives them in no set order. */
export function sortQueueRows(rows: QueueRow[]): QueueRow[] {
  return rows.sort((a, b) => a.priority - b.priority || a.run_after - b.run_after || a.seq - b.seq);
}
