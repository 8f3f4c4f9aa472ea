import pg from "pg";
import type { TaskState } from "../core/run-record.js";
import { BackendError } from "./backend-error.js";
import type { BackendTarget } from "./backend-url.js";
import { HeldSlots, taskState, type FleetState } from "./fleet-state.js";

type PostgresTarget = Extract<BackendTarget, { kind: "postgres" }>;

/**
 * The tables and the slot function in schema `s`. `fluid_acquire_slot` takes a transaction-scoped
 * advisory lock per (schema, task) before it counts, and PL/pgSQL takes a new snapshot per
 * statement: two daemons cannot both see a free slot. Leases are by the server's clock. The
 * slots table is UNLOGGED (no WAL flush per take and give-back; a server crash empties it: leases
 * are short-lived and a lost one only lets a run start early, see docs/fleet.md).
 */
function setupSql(s: string): string {
  return `
CREATE TABLE IF NOT EXISTS ${s}.fluid_task_state (
  task text PRIMARY KEY,
  enabled boolean,
  reason text,
  changed_at bigint,
  last_fire bigint
);
CREATE UNLOGGED TABLE IF NOT EXISTS ${s}.fluid_slots (
  task text NOT NULL,
  run_id text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (task, run_id)
);
CREATE OR REPLACE FUNCTION ${s}.fluid_acquire_slot(p_task text, p_run text, p_limit integer, p_lease_ms integer)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('fluid-slots'), hashtext(${literal(s)} || ':' || p_task));
  DELETE FROM ${s}.fluid_slots WHERE task = p_task AND expires_at <= clock_timestamp();
  UPDATE ${s}.fluid_slots SET expires_at = clock_timestamp() + p_lease_ms * interval '1 millisecond'
    WHERE task = p_task AND run_id = p_run;
  IF FOUND THEN RETURN true; END IF;
  IF (SELECT count(*) FROM ${s}.fluid_slots WHERE task = p_task) >= p_limit THEN RETURN false; END IF;
  INSERT INTO ${s}.fluid_slots (task, run_id, expires_at) VALUES (p_task, p_run, clock_timestamp() + p_lease_ms * interval '1 millisecond');
  RETURN true;
END $$;`;
}

/** A string literal for SQL (the schema name is checked by parseBackendUrl: letters, digits, _ and $). */
function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** The fleet state in PostgreSQL (see `FleetState`): a pool of at most 2 connections of its own. */
export async function openPostgresState(target: PostgresTarget, leaseMs: number): Promise<FleetState> {
  const pool = new pg.Pool({ connectionString: target.connectionString, max: 2, connectionTimeoutMillis: 5000, idleTimeoutMillis: 10_000 });
  // An idle client that loses its connection emits 'error' on the pool: the next query opens a new one.
  pool.on("error", () => {});
  const s = `"${target.schema}"`;
  try {
    const client = await pool.connect().catch((error: unknown) => {
      throw new BackendError(`cannot reach the PostgreSQL backend ${target.display}: ${(error as Error).message}`, {
        cause: error, hint: "start PostgreSQL, or check the backend URL (config `backend`, FLUID_BACKEND_URL, --backend)",
      });
    });
    try {
      // Idempotent, and serialized: daemons and commands may open it at once.
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock(hashtext('fluid-state-setup'), hashtext($1))", [target.schema]);
      await client.query("SET LOCAL client_min_messages = warning");
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await client.query(setupSql(s));
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw new BackendError(`cannot prepare fluid's tables in schema "${target.schema}" on the PostgreSQL backend ${target.display}: ${(error as Error).message}`, {
        cause: error, hint: "the database user needs CREATE on the database (or create the schema for it)",
      });
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
  // A lease that lapsed but is still there was taken over by no one (a take deletes lapsed rows first): renewing it is safe, as on Redis.
  const held = new HeldSlots(leaseMs, async (runs) => {
    await pool.query(`UPDATE ${s}.fluid_slots SET expires_at = clock_timestamp() + $2 * interval '1 millisecond' WHERE run_id = ANY($1)`, [[...runs.keys()], leaseMs]);
  });
  const setLastFires = async (fires: ReadonlyMap<string, number>): Promise<void> => {
    if (fires.size === 0) return;
    // In task order: two daemons writing overlapping batches lock the rows in the same order (no deadlock).
    const sorted = [...fires].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    await pool.query(
      `INSERT INTO ${s}.fluid_task_state (task, last_fire) SELECT * FROM unnest($1::text[], $2::bigint[])
       ON CONFLICT (task) DO UPDATE SET last_fire = GREATEST(${s}.fluid_task_state.last_fire, EXCLUDED.last_fire)`,
      [sorted.map(([t]) => t), sorted.map(([, at]) => at)],
    );
  };
  return {
    async taskStates() {
      const { rows } = await pool.query<{ task: string; enabled: boolean; reason: string | null; changed_at: string }>(
        `SELECT task, enabled, reason, changed_at FROM ${s}.fluid_task_state WHERE enabled IS NOT NULL ORDER BY task`,
      );
      return new Map<string, TaskState>(rows.map((r) => [r.task, taskState(r.enabled, r.reason, Number(r.changed_at))]));
    },
    async setTaskEnabled(task, enabled, reason) {
      await pool.query(
        `INSERT INTO ${s}.fluid_task_state (task, enabled, reason, changed_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (task) DO UPDATE SET enabled = EXCLUDED.enabled, reason = EXCLUDED.reason, changed_at = EXCLUDED.changed_at`,
        [task, enabled, reason ?? null, Date.now()],
      );
    },
    async lastFires() {
      const { rows } = await pool.query<{ task: string; last_fire: string }>(`SELECT task, last_fire FROM ${s}.fluid_task_state WHERE last_fire IS NOT NULL`);
      return new Map(rows.map((r) => [r.task, Number(r.last_fire)]));
    },
    async setLastFire(task, at) {
      await setLastFires(new Map([[task, at]]));
    },
    setLastFires,
    async acquireSlot(task, runId, limit) {
      const { rows } = await pool.query<{ ok: boolean }>(`SELECT ${s}.fluid_acquire_slot($1, $2, $3, $4) AS ok`, [task, runId, limit, leaseMs]);
      const got = rows[0]?.ok === true;
      if (got) held.held.set(runId, task);
      return got;
    },
    async releaseSlot(task, runId) {
      held.held.delete(runId);
      await pool.query(`DELETE FROM ${s}.fluid_slots WHERE task = $1 AND run_id = $2`, [task, runId]);
    },
    async slotHolders(task) {
      const { rows } = await pool.query<{ run_id: string }>(`SELECT run_id FROM ${s}.fluid_slots WHERE task = $1 AND expires_at > clock_timestamp() ORDER BY run_id`, [task]);
      return rows.map((r) => r.run_id);
    },
    async close() {
      held.stop();
      await pool.end().catch(() => {});
    },
  };
}
