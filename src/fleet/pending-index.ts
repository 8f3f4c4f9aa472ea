import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type pg from "pg";
import type { BackendTarget } from "./backend-url.js";

/**
 * Answers "does task T have a pending run (waiting, delayed, claimed) other than run X?" in O(1)
 * round trips, for the overlap check of every schedule fire (docs/fleet.md, Schedules). One queue
 * holds every task, and BullMQ keeps no index by job name, so listing the queue's pending jobs grew
 * with the queue (and a fleet at 100 fires/s fell behind on it).
 *
 * - PostgreSQL: BullMQ's own `job` table, through a partial index of fluid's on (queue, name) over
 *   the pending states (`ensurePendingIndex`, at start-up). Exact: it reads BullMQ's state.
 * - Redis: a sorted set of job ids per task, `<prefix>:fluid-pending:<queue>:<task>`, written
 *   before the job is added (score: that time, "adding"), marked added once BullMQ has it (score 0)
 *   and cleared when the run finishes. It is a superset checked against BullMQ's keys in one
 *   script: a member whose job finished (in the queue's `completed` / `failed` set), or is gone
 *   (an added job removed, or an enqueue that never happened, "adding" for over `ADD_GRACE_MS`),
 *   is dropped there. So a daemon killed between finishing a job and clearing its
 *   member, a stalled job BullMQ failed, or a job removed by a dashboard, are all handled by the
 *   next check, each member dropped once.
 */
export interface PendingIndex {
  /** A run of `task` is about to be enqueued as job `jobId` (Redis: its command is sent at once, so call it before the add). */
  adding(task: string, jobId: string): Promise<void>;
  /** The add of job `jobId` returned (not awaited). */
  added(task: string, jobId: string): void;
  /** Job `jobId` of `task` was claimed: indexes jobs added by other BullMQ producers (no-op for fluid's). */
  claimed(task: string, jobId: string): void;
  /** Job `jobId` of `task` finished or was removed (not awaited: a member left over is dropped by the next check). */
  finished(task: string, jobId: string): void;
  /** Whether `task` has a pending job other than `exceptJobId`. */
  hasPending(task: string, exceptJobId?: string): Promise<boolean>;
}

/** A member whose job does not exist is an enqueue under way for this long, ms, then a leftover. */
const ADD_GRACE_MS = 10_000;

/**
 * KEYS[1] the task's index; ARGV: the queue's key prefix (`<prefix>:<queue>:`), the job id to
 * leave out, now (ms), grace (ms). 1 when a member's job is pending, or it is being added (score:
 * when, within the grace); members found finished or gone are removed on the way, a batch at a
 * time, so each costs one look.
 */
const HAS_PENDING = `local base = ARGV[1]
local skip = 0
while true do
  local ids = redis.call('ZRANGE', KEYS[1], skip, skip + 15, 'WITHSCORES')
  if #ids == 0 then return 0 end
  for i = 1, #ids, 2 do
    local id = ids[i]
    if id == ARGV[2] then
      skip = skip + 1
    elseif redis.call('EXISTS', base .. id) == 1 then
      if redis.call('ZSCORE', base .. 'completed', id) or redis.call('ZSCORE', base .. 'failed', id) then
        redis.call('ZREM', KEYS[1], id)
      else
        return 1
      end
    elseif tonumber(ids[i + 1]) > 0 and tonumber(ARGV[3]) - tonumber(ids[i + 1]) < tonumber(ARGV[4]) then
      return 1
    else
      redis.call('ZREM', KEYS[1], id)
    end
  end
end`;

type FluidRedis = Redis & { fluidHasPending(key: string, base: string, except: string, now: number, grace: number): Promise<number> };

/** The Redis pending index of queue `queueName` (see `PendingIndex`), on the broker's connection. */
export function redisPendingIndex(redis: Redis, prefix: string, queueName: string): PendingIndex {
  if (!("fluidHasPending" in redis)) redis.defineCommand("fluidHasPending", { numberOfKeys: 1, lua: HAS_PENDING });
  const r = redis as FluidRedis;
  const key = (task: string): string => `${prefix}:fluid-pending:${queueName}:${task}`;
  return {
    async adding(task, jobId) {
      await r.zadd(key(task), "NX", Date.now(), jobId);
    },
    added(task, jobId) {
      r.zadd(key(task), "XX", 0, jobId).catch(() => {});
    },
    claimed(task, jobId) {
      r.zadd(key(task), "NX", 0, jobId).catch(() => {});
    },
    finished(task, jobId) {
      r.zrem(key(task), jobId).catch(() => {});
    },
    async hasPending(task, exceptJobId) {
      return (await r.fluidHasPending(key(task), `${prefix}:${queueName}:`, exceptJobId ?? "", Date.now(), ADD_GRACE_MS)) === 1;
    },
  };
}

/** The pending states of BullMQ's `job` table (prioritized is `waiting` with a priority). */
const PG_PENDING = "state IN ('waiting', 'active', 'delayed', 'waiting-children')";
/** Fluid's index on BullMQ's `job` table: pending jobs by queue and name. */
const PG_INDEX = "fluid_job_pending_name_idx";

/** Creates fluid's partial index on BullMQ's `job` table when missing (at start-up, after BullMQ's migrations). */
export async function ensurePendingIndex(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ found: string | null }>(`SELECT to_regclass('${PG_INDEX}')::text AS found`);
  if (rows[0]?.found) return;
  try {
    await client.query(`CREATE INDEX IF NOT EXISTS ${PG_INDEX} ON job (queue, name) WHERE ${PG_PENDING}`);
  } catch (error) {
    // Another daemon starting at the same time created it first.
    const again = await client.query<{ found: string | null }>(`SELECT to_regclass('${PG_INDEX}')::text AS found`);
    if (!again.rows[0]?.found) throw error;
  }
}

/** The PostgreSQL pending index of queue `queueName`: one indexed query on BullMQ's pool (no connection of its own). */
export function postgresPendingIndex(queue: Queue, queueName: string): PendingIndex {
  const pool = (queue as unknown as { backend: { connection: { pool: pg.Pool } } }).backend.connection.pool;
  const sql = `SELECT EXISTS (SELECT 1 FROM job WHERE queue = $1 AND name = $2 AND ${PG_PENDING} AND id <> $3) AS pending`;
  return {
    adding: async () => {},
    added: () => {},
    claimed: () => {},
    finished: () => {},
    async hasPending(task, exceptJobId) {
      const { rows } = await pool.query<{ pending: boolean }>(sql, [queueName, task, exceptJobId ?? ""]);
      return rows[0]?.pending === true;
    },
  };
}

/** The pending index of the broker's queue on `target`. */
export function openPendingIndex(target: BackendTarget, queue: Queue, queueName: string, redis: Redis | undefined): PendingIndex {
  return target.kind === "redis" ? redisPendingIndex(redis!, target.prefix, queueName) : postgresPendingIndex(queue, queueName);
}
