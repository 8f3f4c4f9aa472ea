import type Database from "better-sqlite3";
import { runIdKey } from "../core/run-id.js";

/** Runs deleted per transaction, so a prune never holds the write lock for long. */
export const PRUNE_CHUNK = 500;

const DAY_MS = 86_400_000;

/** Retention resolved to numbers; `Infinity` disables a rule. */
export interface Retention {
  days: number;
  perTask: number;
}

/**
 * Deletes runs beyond a retention, one transaction of at most PRUNE_CHUNK runs per step: each
 * `next()` runs one and yields how many runs it deleted; done when nothing is left to delete.
 */
export type Pruner = (retention: Retention, now: number) => Generator<number, void, void>;

/**
 * Prepares the statements of retention on `db` and returns the function applying it. A run
 * goes (every attempt, log line and log count) when all its attempts ended, or were queued,
 * more than `days` ago, or when it is not among the newest `perTask` runs of its task.
 * Queued and running runs are never deleted. Each chunk of PRUNE_CHUNK runs is its own
 * transaction, so recording runs from other processes waits at most one chunk.
 */
export function createPruner(db: Database.Database): Pruner {
  const oldIds = db
    .prepare(
      `SELECT DISTINCT r.id FROM runs r
       WHERE r.at < @cutoff
         AND NOT EXISTS (SELECT 1 FROM runs n WHERE n.id_key = r.id_key
                         AND (coalesce(n.ended_at, n.at) >= @cutoff OR n.state IN ('queued', 'running')))
       LIMIT @chunk`,
    )
    .pluck();
  const crowdedTasks = db.prepare("SELECT task FROM runs GROUP BY task HAVING count(*) > ?").pluck();
  // Latest attempt of each run of a task beyond the newest `offset` runs.
  const surplus = db.prepare(
    `SELECT r.id, r.state FROM runs r
     WHERE r.task = ? AND NOT EXISTS (SELECT 1 FROM runs n WHERE n.id_key = r.id_key AND n.attempt > r.attempt)
     ORDER BY r.at DESC, r.id DESC LIMIT ? OFFSET ?`,
  );
  const deleteRun = db.prepare("DELETE FROM runs WHERE id_key = ?");
  const deleteLogs = db.prepare("DELETE FROM logs WHERE id = ?");
  const deleteCounts = db.prepare("DELETE FROM log_counts WHERE id = ?");

  const deleteIds = (ids: readonly string[]): void => {
    for (const id of ids) {
      deleteRun.run(runIdKey(id));
      deleteLogs.run(id);
      deleteCounts.run(id);
    }
  };

  const pruneOld = db.transaction((cutoff: number): number => {
    const ids = oldIds.all({ cutoff, chunk: PRUNE_CHUNK }) as string[];
    deleteIds(ids);
    return ids.length;
  });

  // Returns [deleted, skipped]: skipped are queued/running runs beyond the limit, kept.
  const pruneTask = db.transaction((task: string, offset: number): [number, number, number] => {
    const rows = surplus.all(task, PRUNE_CHUNK, offset) as Array<{ id: string; state: string }>;
    const ids = rows.filter((r) => r.state !== "queued" && r.state !== "running").map((r) => r.id);
    deleteIds(ids);
    return [ids.length, rows.length - ids.length, rows.length];
  });

  return function* prune(retention, now) {
    if (Number.isFinite(retention.days)) {
      const cutoff = now - retention.days * DAY_MS;
      for (let n = PRUNE_CHUNK; n === PRUNE_CHUNK; ) {
        n = pruneOld.immediate(cutoff);
        yield n;
      }
    }
    if (Number.isFinite(retention.perTask)) {
      const keep = Math.max(0, Math.floor(retention.perTask));
      for (const task of crowdedTasks.all(keep) as string[]) {
        let skipped = 0;
        for (let seen = PRUNE_CHUNK; seen === PRUNE_CHUNK; ) {
          const [n, kept, rows] = pruneTask.immediate(task, keep + skipped);
          skipped += kept;
          seen = rows;
          yield n;
        }
      }
    }
  };
}
