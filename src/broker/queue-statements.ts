import type Database from "better-sqlite3";
import { LEASE_TABLE } from "../persistence/lease.js";
import { UPSERT_RUN_SQL } from "../persistence/rows.js";

/** Unclaimed rows in claim order: served by the partial index queue_due (priority, run_after, seq). */
const DUE = "claimed_by IS NULL AND priority IN (0, 1, 2) AND run_after <= @now ORDER BY priority, run_after, seq";

/** The prepared statements of the SQLite broker, one set per connection. */
export function prepareQueueStatements(db: Database.Database): QueueStatements {
  return {
    insert: db.prepare(
      `INSERT INTO queue (id, task, params, priority, attempt, trigger, run_after, queued_at, from_run_id, root_run_id, scheduled_at)
       VALUES (@id, @task, @params, @priority, @attempt, @trigger, @run_after, @queued_at, @from_run_id, @root_run_id, @scheduled_at)
       ON CONFLICT (id_key) DO NOTHING`,
    ),
    /** Whether the store holds a record of this run id (an id is used once). Every statement here
     * that takes a run id takes its key (`runIdKey`): the tables are indexed by id_key. */
    recorded: db.prepare("SELECT 1 FROM runs WHERE id_key = ? LIMIT 1").pluck(),
    /** The store's own write of an attempt row: a record never goes backwards. */
    upsertRun: db.prepare(UPSERT_RUN_SQL),
    ack: db.prepare("DELETE FROM queue WHERE id_key = ? AND claimed_by IS NOT NULL"),
    requeue: db.prepare(
      "UPDATE queue SET attempt = ?, run_after = ?, claimed_by = NULL, claimed_at = NULL WHERE id_key = ? AND claimed_by IS NOT NULL AND cancel_requested = 0",
    ),
    dropCancelled: db.prepare("DELETE FROM queue WHERE id_key = ? AND claimed_by IS NOT NULL AND cancel_requested = 1"),
    /** The common claim: no task skipped, one statement. */
    claimDue: db.prepare(`UPDATE queue SET claimed_by = @owner, claimed_at = @now WHERE seq IN (SELECT seq FROM queue WHERE ${DUE} LIMIT @limit) RETURNING *`),
    /** The first due rows not of skipped tasks (@skip: JSON array) among the first @limit due rows. */
    dueNotSkipped: db
      .prepare(
        `SELECT seq FROM (SELECT seq, task, priority, run_after FROM queue WHERE ${DUE} LIMIT @limit)
         WHERE task NOT IN (SELECT value FROM json_each(@skip)) ORDER BY priority, run_after, seq LIMIT @max`,
      )
      .pluck(),
    /** How many of the first @limit due rows there are (tells whether the head was cut off). */
    countDue: db.prepare(`SELECT count(*) FROM (SELECT 1 FROM queue WHERE ${DUE} LIMIT @limit)`).pluck(),
    /** Tasks with queued or claimed rows, one index seek each (a loose index scan of queue_task). */
    tasks: db
      .prepare(
        `WITH RECURSIVE t(task) AS (
           SELECT min(task) FROM queue
           UNION ALL
           SELECT (SELECT min(task) FROM queue WHERE task > t.task) FROM t WHERE t.task IS NOT NULL
         ) SELECT task FROM t WHERE task IS NOT NULL`,
      )
      .pluck(),
    /**
     * Claims the first @max due rows of the tasks in @tasks (JSON array): the first @max of each
     * task from its own range of queue_task, merged and cut in SQLite.
     */
    claimOfTasks: db.prepare(
      `UPDATE queue SET claimed_by = @owner, claimed_at = @now WHERE seq IN (
         SELECT c.seq FROM json_each(@tasks) AS t, queue AS c
         WHERE c.seq IN (SELECT q.seq FROM queue AS q
                         WHERE q.task = t.value AND q.claimed_by IS NULL AND q.priority IN (0, 1, 2) AND q.run_after <= @now
                         ORDER BY q.priority, q.run_after, q.seq LIMIT @max)
         ORDER BY c.priority, c.run_after, c.seq LIMIT @max)
       RETURNING *`,
    ),
    claimSeqs: db.prepare(
      "UPDATE queue SET claimed_by = @owner, claimed_at = @now WHERE seq IN (SELECT value FROM json_each(@seqs)) AND claimed_by IS NULL RETURNING *",
    ),
    nextDue: db
      .prepare(
        `SELECT min(m) FROM (
           SELECT min(run_after) AS m FROM queue WHERE claimed_by IS NULL AND priority = 0
           UNION ALL SELECT min(run_after) FROM queue WHERE claimed_by IS NULL AND priority = 1
           UNION ALL SELECT min(run_after) FROM queue WHERE claimed_by IS NULL AND priority = 2)`,
      )
      .pluck(),
    removeQueued: db.prepare("DELETE FROM queue WHERE id_key = ? AND claimed_by IS NULL"),
    flagCancel: db.prepare("UPDATE queue SET cancel_requested = 1 WHERE id_key = ? AND claimed_by IS NOT NULL"),
    cancelRequested: db.prepare("SELECT id FROM queue WHERE claimed_by = ? AND cancel_requested = 1 ORDER BY seq").pluck(),
    dropCancelledOf: db.prepare("DELETE FROM queue WHERE claimed_by = ? AND cancel_requested = 1"),
    recoverOf: db.prepare("UPDATE queue SET claimed_by = NULL, claimed_at = NULL WHERE claimed_by = ? RETURNING *"),
    hasTask: db.prepare("SELECT 1 FROM queue WHERE task = ? LIMIT 1").pluck(),
    hasId: db.prepare("SELECT 1 FROM queue WHERE id_key = ?").pluck(),
    /** One statement, so the three counts come from one snapshot. */
    counts: db.prepare(
      `SELECT (SELECT count(*) FROM queue WHERE claimed_by IS NULL AND priority IN (0, 1, 2) AND run_after <= ?) AS ready,
              (SELECT count(*) FROM queue WHERE claimed_by IS NULL) AS unclaimed,
              (SELECT count(*) FROM queue WHERE claimed_by IS NOT NULL) AS claimed`,
    ),
    /** Changes when another connection commits to the file (not on this connection's own commits). */
    dataVersion: db.prepare("PRAGMA data_version").pluck(),
  };
}

/** The statements `prepareQueueStatements` returns, by name. */
export type QueueStatements = Record<StatementName, Database.Statement>;

type StatementName =
  | "insert"
  | "recorded"
  | "upsertRun"
  | "ack"
  | "requeue"
  | "dropCancelled"
  | "claimDue"
  | "dueNotSkipped"
  | "countDue"
  | "tasks"
  | "claimOfTasks"
  | "claimSeqs"
  | "nextDue"
  | "removeQueued"
  | "flagCancel"
  | "cancelRequested"
  | "dropCancelledOf"
  | "recoverOf"
  | "hasTask"
  | "hasId"
  | "counts"
  | "dataVersion";

/**
 * Rows claimed by anyone but the daemon holding the store's lease (src/persistence/lease.ts): their
 * claimer is gone, or lost the lease. Without a lease row, every claimed row. NULL-safe: `IS NOT`.
 */
const NOT_HOLDER = `claimed_by IS NOT NULL AND claimed_by IS NOT (SELECT owner FROM ${LEASE_TABLE} WHERE name = 'daemon')`;

/**
 * The statements of `recover()` and of the lease fence, which read the lease table: prepared
 * once a connection needs them, after `ensureLeaseTable` (producers never do).
 */
export function prepareLeaseStatements(db: Database.Database): LeaseStatements {
  return {
    dropCancelledStale: db.prepare(`DELETE FROM queue WHERE ${NOT_HOLDER} AND cancel_requested = 1`),
    recoverStale: db.prepare(`UPDATE queue SET claimed_by = NULL, claimed_at = NULL WHERE ${NOT_HOLDER} RETURNING *`),
    leaseOwner: db.prepare(`SELECT owner FROM ${LEASE_TABLE} WHERE name = 'daemon'`).pluck(),
  };
}

/** The statements `prepareLeaseStatements` returns, by name. */
export type LeaseStatements = Record<"dropCancelledStale" | "recoverStale" | "leaseOwner", Database.Statement>;
