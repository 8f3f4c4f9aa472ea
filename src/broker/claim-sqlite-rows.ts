import type { QueueRow } from "./queue-row.js";
import type { QueueStatements } from "./queue-statements.js";

/** What `claimSqliteRows` claims, and for whom. */
export interface SqliteClaim {
  owner: string;
  now: number;
  max: number;
  skipTasks: ReadonlySet<string> | undefined;
  /** Rows read past `max` in claim order before switching to one index range per task. */
  scanRows: number;
}

/**
 * Claims up to `max` due rows in claim order for `owner` and returns them (in no set order).
 * Call it inside an IMMEDIATE transaction: the reads and the UPDATE must see one snapshot.
 *
 * Without skipped tasks it is one statement, O(max log n). With some, filtering the due rows
 * in claim order would scan every queued run of a skipped task (a task at its concurrency
 * limit, or disabled, with 100,000 runs queued) on every claim. So the filter reads at most
 * `max + scanRows` rows; when that head of the queue holds too few runs of other tasks, the
 * claim takes the first `max` due rows of each other task from its own range of queue_task
 * (tasks listed by one index seek each) and keeps the first `max` of them:
 * O(T log n + T max) for T tasks with queued runs, whatever the skipped tasks hold.
 */
export function claimSqliteRows(s: QueueStatements, claim: SqliteClaim): QueueRow[] {
  const { owner, now, max, skipTasks } = claim;
  if (skipTasks === undefined || skipTasks.size === 0) {
    return s.claimDue.all({ owner, now, limit: max }) as QueueRow[];
  }
  const limit = max + claim.scanRows;
  const seqs = s.dueNotSkipped.all({ now, limit, max, skip: JSON.stringify([...skipTasks]) }) as number[];
  if (seqs.length === max || (s.countDue.get({ now, limit }) as number) < limit) {
    // Enough, or the whole due queue was read: these are the first runs of tasks not skipped.
    return seqs.length === 0 ? [] : (s.claimSeqs.all({ owner, now, seqs: JSON.stringify(seqs) }) as QueueRow[]);
  }
  const tasks = (s.tasks.all() as string[]).filter((task) => !skipTasks.has(task));
  if (tasks.length === 0) return [];
  return s.claimOfTasks.all({ owner, now, max, tasks: JSON.stringify(tasks) }) as QueueRow[];
}
