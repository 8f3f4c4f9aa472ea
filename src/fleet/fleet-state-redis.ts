import { Redis } from "ioredis";
import type { TaskState } from "../core/run-record.js";
import { BackendError } from "./backend-error.js";
import type { BackendTarget } from "./backend-url.js";
import { HeldSlots, taskState, type FleetState } from "./fleet-state.js";

/** The backend's clock in ms (Redis 5-6 need effects replication before a write follows TIME). */
const NOW = `if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** KEYS[1] slots of a task; ARGV: run id, limit, lease ms. 1 when the run holds a slot now. */
const ACQUIRE = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local lease = tonumber(ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], lease * 2)
  return 1
end
return 0`;

/** KEYS: slots of each held run's task; ARGV[1] lease ms, then the run ids. Renews leases still there (a lapsed one is not taken back). */
const RENEW = `${NOW}
local lease = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if redis.call('ZADD', key, 'XX', 'CH', now + lease, ARGV[i + 1]) > 0 then redis.call('PEXPIRE', key, lease * 2) end
end
return 0`;

/** KEYS[1] last fires; ARGV pairs of task, epoch ms: each kept when later than the one recorded. */
const LAST_FIRE = `for i = 1, #ARGV, 2 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if not cur or tonumber(cur) < tonumber(ARGV[i + 1]) then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 0`;

/** KEYS[1] slots of a task: the run ids holding an unexpired lease. */
const HOLDERS = `${NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')`;

type RedisTarget = Extract<BackendTarget, { kind: "redis" }>;

/** The fleet state in Redis (see `FleetState`): one connection of its own. */
export async function openRedisState(target: RedisTarget, leaseMs: number, wait: boolean): Promise<FleetState> {
  const redis = new Redis({
    host: target.host, port: target.port, db: target.db, lazyConnect: true, connectTimeout: 5000,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
    // A daemon's commands wait for the reconnect (as its broker's do); a command line fails at once.
    ...(wait ? { maxRetriesPerRequest: null } : { maxRetriesPerRequest: 0, retryStrategy: () => null }),
  });
  let socketError: Error | undefined;
  // Errors surface on the commands; an unhandled 'error' event would crash the process.
  redis.on("error", (error: Error) => (socketError ??= error));
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new BackendError(`cannot reach the Redis backend ${target.display}: ${(socketError ?? (error as Error)).message}`, {
      cause: error, hint: "start Redis, or check the backend URL (config `backend`, FLUID_BACKEND_URL, --backend)",
    });
  }
  const key = (name: string): string => `${target.prefix}:fluid-state:${name}`;
  const tasksKey = key("tasks");
  const firesKey = key("last-fire");
  const slotsKey = (task: string): string => key(`slots:${task}`);
  const held = new HeldSlots(leaseMs, async (runs) => {
    const ids = [...runs.keys()];
    await redis.eval(RENEW, ids.length, ...ids.map((id) => slotsKey(runs.get(id)!)), leaseMs, ...ids);
  });
  return {
    async taskStates() {
      const all = await redis.hgetall(tasksKey);
      const states = new Map<string, TaskState>();
      for (const [task, json] of Object.entries(all)) {
        try {
          const v = JSON.parse(json) as { enabled?: unknown; reason?: unknown; changedAt?: unknown };
          states.set(task, taskState(v.enabled !== false, typeof v.reason === "string" ? v.reason : undefined, Number(v.changedAt) || 0));
        } catch {} // a field another program wrote that is not JSON: not a state of ours, the task stays as it was
      }
      return new Map([...states].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    },
    async setTaskEnabled(task, enabled, reason) {
      await redis.hset(tasksKey, task, JSON.stringify({ enabled, ...(reason ? { reason } : {}), changedAt: Date.now() }));
    },
    async lastFires() {
      const all = await redis.hgetall(firesKey);
      return new Map(Object.entries(all).map(([task, at]) => [task, Number(at)] as [string, number]).filter(([, at]) => Number.isFinite(at)));
    },
    async setLastFire(task, at) {
      await redis.eval(LAST_FIRE, 1, firesKey, task, at);
    },
    async setLastFires(fires) {
      if (fires.size === 0) return;
      await redis.eval(LAST_FIRE, 1, firesKey, ...[...fires].flat());
    },
    async acquireSlot(task, runId, limit) {
      const got = (await redis.eval(ACQUIRE, 1, slotsKey(task), runId, limit, leaseMs)) === 1;
      if (got) held.held.set(runId, task);
      return got;
    },
    async releaseSlot(task, runId) {
      held.held.delete(runId);
      await redis.zrem(slotsKey(task), runId);
    },
    async slotHolders(task) {
      return (await redis.eval(HOLDERS, 1, slotsKey(task))) as string[];
    },
    async close() {
      held.stop();
      redis.disconnect();
    },
  };
}
