import pg from "pg";
import { isFluidError } from "../core/errors.js";
import type { RunQuery, RunRecord } from "../core/run-record.js";
import { BackendError } from "../fleet/backend-error.js";
import type { BackendTarget } from "../fleet/backend-url.js";
import { STATE_RANK } from "../persistence/state-order.js";
import { ambiguousRun, CANDIDATES, recordJson, runTime, unknownRun, type AttemptLogs, type HistoryBackend, type HistoryBatch } from "./history-backend.js";

/** Runs deleted per statement of the retention. */
const PRUNE_CHUNK = 500;

/** Tables of the run history in the project's schema (next to BullMQ's), created when missing. */
function schemaSql(s: string): string {
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.fluid_attempts (
  id text NOT NULL, attempt integer NOT NULL, rank integer NOT NULL, record jsonb NOT NULL,
  dropped_lines integer NOT NULL DEFAULT 0, dropped_bytes bigint NOT NULL DEFAULT 0, dropped_ts bigint,
  PRIMARY KEY (id, attempt));
CREATE TABLE IF NOT EXISTS ${s}.fluid_runs (
  id text PRIMARY KEY, task text NOT NULL, state text NOT NULL, at bigint NOT NULL, attempt integer NOT NULL,
  rank integer NOT NULL, from_run_id text, record jsonb NOT NULL);
CREATE INDEX IF NOT EXISTS fluid_runs_at ON ${s}.fluid_runs (at DESC, id DESC);
CREATE INDEX IF NOT EXISTS fluid_runs_task_at ON ${s}.fluid_runs (task, at DESC, id DESC);
CREATE INDEX IF NOT EXISTS fluid_runs_from ON ${s}.fluid_runs (from_run_id, at, id);
CREATE INDEX IF NOT EXISTS fluid_runs_id_prefix ON ${s}.fluid_runs (id text_pattern_ops);
CREATE TABLE IF NOT EXISTS ${s}.fluid_logs (
  seq bigserial PRIMARY KEY, id text NOT NULL, attempt integer NOT NULL, part "char" NOT NULL, line jsonb NOT NULL);
CREATE INDEX IF NOT EXISTS fluid_logs_attempt ON ${s}.fluid_logs (id, attempt, part, seq);
CREATE TABLE IF NOT EXISTS ${s}.fluid_history_meta (key text PRIMARY KEY, value bigint NOT NULL);
`;
}

/**
 * The run history in PostgreSQL: `fluid_attempts` (one row per attempt, its record as jsonb),
 * `fluid_runs` (one row per run: its latest attempt, indexed by time and task) and `fluid_logs`
 * (the kept log lines). A batch is one statement (one round trip, atomic); a record never goes
 * backwards (`rank`), as in the SQLite store.
 */
export async function openPgHistory(target: Extract<BackendTarget, { kind: "postgres" }>, o: { failFast: boolean }): Promise<HistoryBackend> {
  const s = `"${target.schema}"`;
  const pool = new pg.Pool({ connectionString: target.connectionString, max: 2, ...(o.failFast ? { connectionTimeoutMillis: 5000 } : {}) });
  pool.on("error", () => {}); // an idle client's error (server restarted): the next query reports it
  const fail = (what: string, error: unknown): never => {
    if (isFluidError(error)) throw error;
    throw new BackendError(`cannot ${what} the PostgreSQL backend ${target.display}: ${(error as Error).message}`, {
      cause: error, hint: "start PostgreSQL, or check the backend URL (config `backend`, FLUID_BACKEND_URL, --backend)",
    });
  };
  try {
    const client = await pool.connect();
    try {
      // Serialized: daemons and commands may start together, and CREATE ... IF NOT EXISTS races.
      await client.query("BEGIN");
      await client.query("SET LOCAL client_min_messages = warning");
      await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`${target.schema}.fluid_history`]);
      await client.query(schemaSql(s));
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {}); // the connection may be gone: the error below says why
      throw error;
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => {}); // nothing to close on a pool that never connected
    fail("open the run history on", error);
  }
  const read = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      return fail("read the run history from", error);
    }
  };
  const rec = (row: { record: RunRecord }): RunRecord => row.record;

  return {
    where: target.display,
    async write(batch: HistoryBatch) {
      // The furthest-along record of each run, for fluid_runs (one row per run in one statement).
      const latest = new Map<string, RunRecord>();
      for (const r of batch.attempts) {
        const old = latest.get(r.id);
        if (!old || r.attempt > old.attempt || (r.attempt === old.attempt && STATE_RANK[r.state] >= STATE_RANK[old.state])) latest.set(r.id, r);
      }
      const attempts = batch.attempts.map((r) => ({ id: r.id, attempt: r.attempt, rank: STATE_RANK[r.state], record: JSON.parse(recordJson(r)) }));
      const runs = [...latest.values()].map((r) => ({
        id: r.id, task: r.task, state: r.state, at: runTime(r), attempt: r.attempt, rank: STATE_RANK[r.state], from_run_id: r.fromRunId ?? null, record: JSON.parse(recordJson(r)),
      }));
      const logs = batch.logs.map((l, ord) => ({ ord, id: l.id, attempt: l.attempt, part: l.part, line: l.line }));
      await pool.query(`
WITH a AS (
  INSERT INTO ${s}.fluid_attempts (id, attempt, rank, record)
  SELECT x.id, x.attempt, x.rank, x.record FROM jsonb_to_recordset($1::jsonb) AS x(id text, attempt integer, rank integer, record jsonb)
  ON CONFLICT (id, attempt) DO UPDATE SET rank = excluded.rank, record = excluded.record WHERE ${s}.fluid_attempts.rank <= excluded.rank
), r AS (
  INSERT INTO ${s}.fluid_runs (id, task, state, at, attempt, rank, from_run_id, record)
  SELECT x.id, x.task, x.state, x.at, x.attempt, x.rank, x.from_run_id, x.record
  FROM jsonb_to_recordset($2::jsonb) AS x(id text, task text, state text, at bigint, attempt integer, rank integer, from_run_id text, record jsonb)
  ON CONFLICT (id) DO UPDATE SET task = excluded.task, state = excluded.state, at = excluded.at, attempt = excluded.attempt, rank = excluded.rank,
    from_run_id = excluded.from_run_id, record = excluded.record
  WHERE (${s}.fluid_runs.attempt, ${s}.fluid_runs.rank) <= (excluded.attempt, excluded.rank)
)
INSERT INTO ${s}.fluid_logs (id, attempt, part, line)
SELECT x.id, x.attempt, x.part::"char", x.line FROM jsonb_to_recordset($3::jsonb) AS x(ord integer, id text, attempt integer, part text, line jsonb) ORDER BY x.ord`,
      [JSON.stringify(attempts), JSON.stringify(runs), JSON.stringify(logs)]);
      if (batch.trims.length === 0) return;
      // After the lines landed: keep the last `keep` tail lines of each attempt over the cap, and its counts.
      await pool.query(`
WITH t AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id text, attempt integer, keep integer, dropped integer, bytes bigint, ts bigint)),
d AS (
  DELETE FROM ${s}.fluid_logs l USING t
  WHERE l.id = t.id AND l.attempt = t.attempt AND l.part = 't'
    AND l.seq < (SELECT min(k.seq) FROM (SELECT seq FROM ${s}.fluid_logs WHERE id = t.id AND attempt = t.attempt AND part = 't' ORDER BY seq DESC LIMIT t.keep) k)
)
UPDATE ${s}.fluid_attempts a SET dropped_lines = t.dropped, dropped_bytes = t.bytes, dropped_ts = t.ts FROM t WHERE a.id = t.id AND a.attempt = t.attempt`,
      [JSON.stringify(batch.trims.map((t) => ({ id: t.id, attempt: t.attempt, keep: t.keepTail, dropped: t.dropped, bytes: t.droppedBytes, ts: t.droppedTs })))]);
    },
    attempt: (id, attempt) => read(async () => {
      const { rows } = await pool.query(`SELECT record FROM ${s}.fluid_attempts WHERE id = $1 AND attempt = $2`, [id, attempt]);
      return rows[0] ? rec(rows[0]) : undefined;
    }),
    latestAttempt: (id) => read(async () => {
      const { rows } = await pool.query(`SELECT record FROM ${s}.fluid_runs WHERE id = $1`, [id]);
      return rows[0] ? rec(rows[0]) : undefined;
    }),
    resolve: (idOrPrefix) => read(async () => {
      if (idOrPrefix === "") throw unknownRun(idOrPrefix, target.display);
      const exact = await pool.query(`SELECT 1 FROM ${s}.fluid_runs WHERE id = $1`, [idOrPrefix]);
      if (exact.rowCount) return idOrPrefix;
      const like = idOrPrefix.replace(/[\\%_]/g, (c) => `\\${c}`) + "%";
      const { rows } = await pool.query(`SELECT id, task FROM ${s}.fluid_runs WHERE id LIKE $1 ORDER BY id LIMIT $2`, [like, CANDIDATES + 1]);
      if (rows.length === 1) return rows[0].id as string;
      if (rows.length === 0) throw unknownRun(idOrPrefix, target.display);
      throw ambiguousRun(idOrPrefix, rows as Array<{ id: string; task: string }>);
    }),
    attempts: (id) => read(async () => (await pool.query(`SELECT record FROM ${s}.fluid_attempts WHERE id = $1 ORDER BY attempt`, [id])).rows.map(rec)),
    logs: (id) => read(async () => {
      const [counts, lines] = await Promise.all([
        pool.query(`SELECT attempt, dropped_lines, dropped_bytes, dropped_ts FROM ${s}.fluid_attempts WHERE id = $1`, [id]),
        pool.query(`SELECT attempt, part, line FROM ${s}.fluid_logs WHERE id = $1 ORDER BY attempt, part, seq`, [id]),
      ]);
      const by = new Map<number, AttemptLogs>();
      for (const c of counts.rows) {
        by.set(c.attempt, { attempt: c.attempt, head: [], tail: [], dropped: c.dropped_lines, droppedBytes: Number(c.dropped_bytes), droppedTs: c.dropped_ts === null ? undefined : Number(c.dropped_ts) });
      }
      for (const l of lines.rows) {
        let a = by.get(l.attempt);
        if (!a) by.set(l.attempt, (a = { attempt: l.attempt, head: [], tail: [], dropped: 0, droppedBytes: 0 }));
        (l.part === "h" ? a.head : a.tail).push(l.line);
      }
      return [...by.values()];
    }),
    children: (id) => read(async () => (await pool.query(`SELECT record FROM ${s}.fluid_runs WHERE from_run_id = $1 ORDER BY at, id`, [id])).rows.map(rec)),
    listRuns: (q: RunQuery = {}) => read(async () => {
      const where: string[] = [];
      const args: unknown[] = [];
      const arg = (v: unknown): string => (args.push(v), `$${args.length}`);
      if (q.task !== undefined) where.push(`task = ${arg(q.task)}`);
      if (q.state !== undefined) where.push(`state = ${arg(q.state)}`);
      if (q.since !== undefined) where.push(`at >= ${arg(q.since)}`);
      if (q.until !== undefined) where.push(`at < ${arg(q.until)}`);
      if (q.after) where.push(`(at, id) < (${arg(q.after.at)}, ${arg(q.after.id)})`);
      const limit = q.limit ?? 100;
      const { rows } = await pool.query(
        `SELECT record FROM ${s}.fluid_runs${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY at DESC, id DESC${Number.isFinite(limit) ? ` LIMIT ${arg(limit)}` : ""}`,
        args,
      );
      return rows.map(rec);
    }),
    lastRuns: (tasks) => read(async () => {
      // One statement: an index lookup per task (its newest runs, passing over queued ones).
      const { rows } = await pool.query(`
SELECT t.task, r.record FROM unnest($1::text[]) AS t(task)
CROSS JOIN LATERAL (SELECT record FROM ${s}.fluid_runs WHERE task = t.task AND state <> 'queued' ORDER BY at DESC, id DESC LIMIT 1) r`, [tasks]);
      return new Map(rows.map((row: { task: string; record: RunRecord }) => [row.task, row.record]));
    }),
    async takePruneTurn(now, everyMs) {
      // A row, not a lock: the turn lasts `everyMs`, whoever takes it prunes for the whole fleet.
      const { rowCount } = await pool.query(`
INSERT INTO ${s}.fluid_history_meta AS m (key, value) VALUES ('prune', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value
WHERE m.value <= $1 - $2`, [now, Math.round(everyMs)]);
      return rowCount === 1;
    },
    async *pruneSteps(retention, now) {
      // Each step deletes at most PRUNE_CHUNK runs (their attempts and log lines) in one statement.
      const drop = (pick: string): string => `
WITH s AS (${pick}),
old AS (DELETE FROM ${s}.fluid_runs r USING s WHERE r.id = s.id AND s.state NOT IN ('queued', 'running') RETURNING r.id),
a AS (DELETE FROM ${s}.fluid_attempts WHERE id IN (SELECT id FROM old)),
l AS (DELETE FROM ${s}.fluid_logs WHERE id IN (SELECT id FROM old))
SELECT (SELECT count(*) FROM s)::int AS seen, (SELECT count(*) FROM old)::int AS deleted`;
      if (Number.isFinite(retention.days)) {
        const cutoff = now - retention.days * 86_400_000;
        // Ended (or queued) before the cutoff; queued and running runs are not picked, so each step finds new ones.
        const old = drop(`SELECT id, state FROM ${s}.fluid_runs WHERE at < $1 AND state NOT IN ('queued', 'running')
  AND coalesce((record->>'endedAt')::bigint, at) < $1 LIMIT ${PRUNE_CHUNK}`);
        for (let seen = PRUNE_CHUNK; seen === PRUNE_CHUNK; ) {
          const { rows } = await pool.query(old, [cutoff]);
          seen = rows[0].seen;
          yield rows[0].deleted as number;
        }
      }
      if (Number.isFinite(retention.perTask)) {
        const keep = Math.max(0, Math.floor(retention.perTask));
        const crowded = await pool.query(`SELECT task FROM ${s}.fluid_runs GROUP BY task HAVING count(*) > $1`, [keep]);
        const surplus = drop(`SELECT id, state FROM ${s}.fluid_runs WHERE task = $1 ORDER BY at DESC, id DESC OFFSET $2 LIMIT ${PRUNE_CHUNK}`);
        for (const { task } of crowded.rows as Array<{ task: string }>) {
          for (let skipped = 0, seen = PRUNE_CHUNK; seen === PRUNE_CHUNK; ) {
            const { rows } = await pool.query(surplus, [task, keep + skipped]);
            skipped += rows[0].seen - rows[0].deleted;
            seen = rows[0].seen;
            yield rows[0].deleted as number;
          }
        }
      }
    },
    async close() {
      await pool.end();
    },
  };
}
