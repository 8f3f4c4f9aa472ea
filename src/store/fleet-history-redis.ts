import { Redis } from "ioredis";
import { isFluidError } from "../core/errors.js";
import type { RunQuery, RunRecord } from "../core/run-record.js";
import { BackendError } from "../fleet/backend-error.js";
import type { BackendTarget } from "../fleet/backend-url.js";
import { STATE_RANK } from "../persistence/state-order.js";
import { ambiguousRun, CANDIDATES, recordJson, runTime, unknownRun, type AttemptLogs, type HistoryBackend, type HistoryBatch } from "./history-backend.js";

/**
 * Records an attempt unless the stored record of that attempt is further along (rank), and
 * indexes the run by its latest attempt's time. KEYS: run hash, runs zset, task zset, ids zset,
 * parent's children zset (or the run hash when none), tasks set. ARGV: attempt, record JSON, rank,
 * time, id, ttl ms (0: kept for ever), task, "1" when the record is queued or running. A run whose latest attempt is queued or running never expires (as the store
 * never deletes those); once it ends, its keys expire `ttl` after its last record.
 */
const WRITE = `
local field = 'a:' .. ARGV[1]
local rank = tonumber(ARGV[3])
local ttl = tonumber(ARGV[6])
local cur = redis.call('HGET', KEYS[1], 'r:' .. ARGV[1])
if cur and tonumber(cur) > rank then return 0 end
redis.call('HSET', KEYS[1], field, ARGV[2], 'r:' .. ARGV[1], rank)
local latest = tonumber(redis.call('HGET', KEYS[1], 'latest') or '0')
local attempt = tonumber(ARGV[1])
if attempt >= latest then
  redis.call('HSET', KEYS[1], 'latest', attempt, 'last', ARGV[2])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
  redis.call('ZADD', KEYS[4], 0, ARGV[5])
  redis.call('SADD', KEYS[6], ARGV[7])
  if KEYS[5] ~= KEYS[1] then
    redis.call('ZADD', KEYS[5], ARGV[4], ARGV[5])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[5], ttl) end
  end
  if ARGV[8] == '1' then redis.call('PERSIST', KEYS[1]) elseif ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
elseif ttl > 0 and redis.call('PTTL', KEYS[1]) >= 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
`;

/** Deletes a run (its hash, log lists, children set and index entries). P: the history's key prefix. */
const DROP = `
local function drop(P, id, task)
  local run = P .. ':run:' .. id
  for _, f in ipairs(redis.call('HKEYS', run)) do
    if string.sub(f, 1, 2) == 'a:' then
      local a = string.sub(f, 3)
      redis.call('DEL', P .. ':logh:' .. id .. ':' .. a, P .. ':logt:' .. id .. ':' .. a)
    end
  end
  if task then redis.call('ZREM', P .. ':task:' .. task, id) end
  redis.call('DEL', run, P .. ':children:' .. id)
  redis.call('ZREM', P .. ':runs', id)
  redis.call('ZREM', P .. ':ids', id)
end
local function latest(P, id)
  local last = redis.call('HGET', P .. ':run:' .. id, 'last')
  if not last then return nil end
  local ok, r = pcall(cjson.decode, last)
  if ok and type(r) == 'table' then return r end
  return nil
end
local function active(r) return r.state == 'queued' or r.state == 'running' end
`;

/**
 * One step of the retention by age: runs listed before the cutoff, from offset ARGV[3] (the ones
 * an earlier step kept), at most ARGV[2]. A run goes when its latest attempt is neither queued nor
 * running and it ended (or was queued) before the cutoff; one whose hash already expired leaves
 * the indexes. KEYS: runs zset. ARGV: prefix, chunk, offset, cutoff. Returns {deleted, kept, seen}.
 */
const PRUNE_OLD = DROP + `
local cutoff = tonumber(ARGV[4])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4], 'LIMIT', tonumber(ARGV[3]), tonumber(ARGV[2]))
local deleted, kept = 0, 0
for _, id in ipairs(ids) do
  local r = latest(ARGV[1], id)
  if not r then
    drop(ARGV[1], id, nil)
    deleted = deleted + 1
  elseif active(r) or (tonumber(r.endedAt) or 0) >= cutoff then
    kept = kept + 1
  else
    drop(ARGV[1], id, r.task)
    deleted = deleted + 1
  end
end
return {deleted, kept, #ids}
`;

/**
 * One step of the retention per task: the runs of a task beyond its newest ARGV[3] (ARGV[3] =
 * perTask + the ones earlier steps kept), at most ARGV[2]; queued and running ones stay. KEYS:
 * the task zset. ARGV: prefix, chunk, offset, task, cutoff. Returns {deleted, kept, seen}.
 */
const PRUNE_TASK = DROP + `
local ids = redis.call('ZREVRANGE', KEYS[1], tonumber(ARGV[3]), tonumber(ARGV[3]) + tonumber(ARGV[2]) - 1)
local deleted, kept = 0, 0
for _, id in ipairs(ids) do
  local r = latest(ARGV[1], id)
  if r and active(r) then
    kept = kept + 1
  else
    drop(ARGV[1], id, ARGV[4])
    deleted = deleted + 1
  end
end
return {deleted, kept, #ids}
`;

/**
 * One step of cleaning a task's index of runs listed before the cutoff whose hash expired (its
 * `ttl` ran out before a prune deleted it). KEYS: the task zset. ARGV: prefix, chunk, offset,
 * cutoff. Returns {deleted, kept, seen}.
 */
const PRUNE_GONE = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4], 'LIMIT', tonumber(ARGV[3]), tonumber(ARGV[2]))
local deleted = 0
for _, id in ipairs(ids) do
  if redis.call('EXISTS', ARGV[1] .. ':run:' .. id) == 0 then
    redis.call('ZREM', KEYS[1], id)
    deleted = deleted + 1
  end
end
return {deleted, #ids - deleted, #ids}
`;

/** Runs deleted (or looked at) per script call: one call holds Redis for at most a few ms. */
const PRUNE_CHUNK = 200;

type HistoryRedis = Redis & {
  fluidHistoryWrite(...args: Array<string | number>): Promise<number>;
  fluidHistoryPruneOld(...args: Array<string | number>): Promise<[number, number, number]>;
  fluidHistoryPruneTask(...args: Array<string | number>): Promise<[number, number, number]>;
  fluidHistoryPruneGone(...args: Array<string | number>): Promise<[number, number, number]>;
};

/** Redis keys of the run history, under the project's prefix (next to BullMQ's `<prefix>:fluid:*`). */
function keys(prefix: string) {
  const k = `${prefix}:fluid-history`;
  return {
    run: (id: string) => `${k}:run:${id}`,
    head: (id: string, attempt: number) => `${k}:logh:${id}:${attempt}`,
    tail: (id: string, attempt: number) => `${k}:logt:${id}:${attempt}`,
    task: (task: string) => `${k}:task:${task}`,
    children: (id: string) => `${k}:children:${id}`,
    runs: `${k}:runs`,
    ids: `${k}:ids`,
    tasks: `${k}:tasks`,
    pruneTurn: `${k}:prune-turn`,
    base: k,
  };
}

/**
 * The run history in Redis: a hash per run (each attempt's record as JSON, the latest one again
 * as `last`), a sorted set of run ids by time (all runs, and one per task), a lexical set of ids
 * (prefix lookups), a sorted set of children per run, and two lists per attempt (the first and
 * the last log lines). Every key expires `retentionMs` after the run's last write.
 */
export function openRedisHistory(target: Extract<BackendTarget, { kind: "redis" }>, o: { retentionMs: number; failFast: boolean }): HistoryBackend {
  const redis = new Redis({
    host: target.host, port: target.port, db: target.db,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
    // A daemon's writes wait for a reconnect (buffered meanwhile); a command fails at once.
    ...(o.failFast ? { maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 5000 } : { maxRetriesPerRequest: null }),
    lazyConnect: false,
  }) as HistoryRedis;
  // Errors surface on the commands (an unhandled 'error' event would crash the process); the last
  // one says why a command failed better than "Connection is closed.".
  let lastError: string | undefined;
  redis.on("error", (error: Error) => void (lastError = error.message));
  redis.defineCommand("fluidHistoryWrite", { numberOfKeys: 6, lua: WRITE });
  redis.defineCommand("fluidHistoryPruneOld", { numberOfKeys: 1, lua: PRUNE_OLD });
  redis.defineCommand("fluidHistoryPruneTask", { numberOfKeys: 1, lua: PRUNE_TASK });
  redis.defineCommand("fluidHistoryPruneGone", { numberOfKeys: 1, lua: PRUNE_GONE });
  const k = keys(target.prefix);
  const ttl = Number.isFinite(o.retentionMs) ? Math.max(1, Math.round(o.retentionMs)) : 0;

  /** Reads fail as a BackendError with a hint, not a stack trace. */
  const read = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      if (isFluidError(error)) throw error;
      const message = /Connection is closed/.test((error as Error).message) && lastError ? lastError : (error as Error).message;
      throw new BackendError(`cannot read ${what} from the Redis backend ${target.display}: ${message}`, {
        cause: error, hint: "start Redis, or check the backend URL (config `backend`, FLUID_BACKEND_URL, --backend)",
      });
    }
  };
  const parse = (json: string | null | undefined): RunRecord | undefined => (json ? (JSON.parse(json) as RunRecord) : undefined);

  return {
    where: target.display,
    async write(batch: HistoryBatch) {
      const p = redis.pipeline() as ReturnType<Redis["pipeline"]> & { fluidHistoryWrite(...args: Array<string | number>): unknown };
      for (const r of batch.attempts) {
        const run = k.run(r.id);
        p.fluidHistoryWrite(run, k.runs, k.task(r.task), k.ids, r.fromRunId !== undefined ? k.children(r.fromRunId) : run, k.tasks,
          r.attempt, recordJson(r), STATE_RANK[r.state], runTime(r), r.id, ttl, r.task, r.state === "queued" || r.state === "running" ? "1" : "0");
      }
      // Consecutive lines of one list go in one RPUSH.
      let i = 0;
      while (i < batch.logs.length) {
        const first = batch.logs[i]!;
        const list = first.part === "h" ? k.head(first.id, first.attempt) : k.tail(first.id, first.attempt);
        const values: string[] = [];
        for (; i < batch.logs.length; i++) {
          const l = batch.logs[i]!;
          if (l.id !== first.id || l.attempt !== first.attempt || l.part !== first.part) break;
          values.push(JSON.stringify(l.line));
        }
        p.rpush(list, ...values);
        if (ttl) p.pexpire(list, ttl);
      }
      for (const t of batch.trims) {
        p.ltrim(k.tail(t.id, t.attempt), -t.keepTail, -1);
        p.hset(k.run(t.id), `d:${t.attempt}`, JSON.stringify({ lines: t.dropped, bytes: t.droppedBytes, ts: t.droppedTs }));
      }
      const results = (await p.exec()) ?? [];
      const failed = results.find(([error]) => error);
      if (failed) throw failed[0]!;
    },
    attempt: (id, attempt) => read("a run", async () => parse(await redis.hget(k.run(id), `a:${attempt}`))),
    latestAttempt: (id) => read("a run", async () => parse(await redis.hget(k.run(id), "last"))),
    resolve: (idOrPrefix) => read("a run", async () => {
      if (idOrPrefix === "") throw unknownRun(idOrPrefix, target.display);
      if (await redis.exists(k.run(idOrPrefix))) return idOrPrefix;
      const ids = await redis.zrangebylex(k.ids, `[${idOrPrefix}`, `[${idOrPrefix}\u{10FFFF}`, "LIMIT", 0, CANDIDATES * 4);
      const lasts = ids.length ? await redis.pipeline(ids.map((id) => ["hget", k.run(id), "last"])).exec() : [];
      const found = ids.map((id, i) => ({ id, r: parse(lasts?.[i]?.[1] as string | null) })).filter((x) => x.r !== undefined);
      if (found.length === 1) return found[0]!.id;
      if (found.length === 0) throw unknownRun(idOrPrefix, target.display);
      throw ambiguousRun(idOrPrefix, found.map((x) => ({ id: x.id, task: x.r!.task })));
    }),
    attempts: (id) => read("a run", async () => {
      const all = await redis.hgetall(k.run(id));
      return Object.entries(all).filter(([f]) => f.startsWith("a:")).map(([, v]) => JSON.parse(v) as RunRecord).sort((a, b) => a.attempt - b.attempt);
    }),
    logs: (id) => read("log lines", async () => {
      const all = await redis.hgetall(k.run(id));
      const attempts = Object.keys(all).filter((f) => f.startsWith("a:")).map((f) => Number(f.slice(2)));
      const p = redis.pipeline();
      for (const a of attempts) p.lrange(k.head(id, a), 0, -1).lrange(k.tail(id, a), 0, -1);
      const res = attempts.length ? ((await p.exec()) ?? []) : [];
      return attempts.map((a, i): AttemptLogs => {
        const d = all[`d:${a}`] ? (JSON.parse(all[`d:${a}`]!) as { lines: number; bytes: number; ts: number }) : undefined;
        const lines = (n: number) => ((res[2 * i + n]?.[1] as string[] | undefined) ?? []).map((l) => JSON.parse(l));
        return { attempt: a, head: lines(0), tail: lines(1), dropped: d?.lines ?? 0, droppedBytes: d?.bytes ?? 0, droppedTs: d?.ts };
      });
    }),
    children: (id) => read("a run", async () => {
      const ids = await redis.zrange(k.children(id), 0, -1);
      if (ids.length === 0) return [];
      const lasts = (await redis.pipeline(ids.map((c) => ["hget", k.run(c), "last"])).exec()) ?? [];
      return lasts.map(([, v]) => parse(v as string | null)).filter((r): r is RunRecord => r !== undefined);
    }),
    listRuns: (q: RunQuery = {}) => read("runs", async () => {
      const limit = q.limit ?? 100;
      const zset = q.task !== undefined ? k.task(q.task) : k.runs;
      const max = q.after ? String(q.after.at) : q.until !== undefined ? `(${q.until}` : "+inf";
      const min = q.since !== undefined ? String(q.since) : "-inf";
      const out: RunRecord[] = [];
      // A state filter passes over the runs in other states: bigger pages, fewer round trips.
      // Without one, the page asked for and a few more (a cursor's own run, records that expired).
      const page = q.state !== undefined ? 1000 : Math.min(1000, Number.isFinite(limit) ? limit + 8 : 1000);
      for (let offset = 0; out.length < limit; offset += page) {
        const ids = await redis.zrevrangebyscore(zset, max, min, "WITHSCORES", "LIMIT", offset, page);
        if (ids.length === 0) break;
        const entries: Array<{ id: string; at: number }> = [];
        for (let i = 0; i < ids.length; i += 2) entries.push({ id: ids[i]!, at: Number(ids[i + 1]) });
        const lasts = (await redis.pipeline(entries.map((e) => ["hget", k.run(e.id), "last"])).exec()) ?? [];
        for (let i = 0; i < entries.length && out.length < limit; i++) {
          const e = entries[i]!;
          if (q.after && (e.at > q.after.at || (e.at === q.after.at && e.id >= q.after.id))) continue;
          if (q.until !== undefined && e.at >= q.until) continue;
          const r = parse(lasts[i]?.[1] as string | null);
          if (!r) continue; // expired with the retention: its index entry goes at the next prune
          if (q.state !== undefined && r.state !== q.state) continue;
          out.push(r);
        }
        if (ids.length < page * 2) break;
      }
      return out;
    }),
    lastRuns: (tasks) => read("runs", async () => {
      // Every task's newest few runs in one pipeline, their records in a second; a task whose
      // newest runs are all queued (a backlog) is then read on its own, a page at a time.
      const out = new Map<string, RunRecord>();
      const FIRST = 4;
      const heads = tasks.length ? ((await redis.pipeline(tasks.map((t) => ["zrevrange", k.task(t), 0, FIRST - 1])).exec()) ?? []) : [];
      const ids = heads.map(([, v]) => (v as string[] | null) ?? []);
      const flat = ids.flat();
      const lasts = flat.length ? ((await redis.pipeline(flat.map((id) => ["hget", k.run(id), "last"])).exec()) ?? []) : [];
      let at = 0;
      const backlog: string[] = [];
      tasks.forEach((task, i) => {
        const mine = lasts.slice(at, at + ids[i]!.length).map(([, v]) => parse(v as string | null));
        at += ids[i]!.length;
        const found = mine.find((r) => r && r.state !== "queued");
        if (found) out.set(task, found);
        else if (ids[i]!.length === FIRST) backlog.push(task);
      });
      for (const task of backlog) {
        for (let offset = FIRST; ; offset += 100) {
          const page = await redis.zrevrange(k.task(task), offset, offset + 99);
          const recs = page.length ? ((await redis.pipeline(page.map((id) => ["hget", k.run(id), "last"])).exec()) ?? []) : [];
          const found = recs.map(([, v]) => parse(v as string | null)).find((r) => r && r.state !== "queued");
          if (found) out.set(task, found);
          if (found || page.length < 100) break;
        }
      }
      return out;
    }),
    async takePruneTurn(now, everyMs) {
      // The key's expiry is the turn: whoever sets it prunes for the whole fleet until it expires.
      return (await redis.set(k.pruneTurn, String(now), "PX", Math.max(1, Math.round(everyMs)), "NX")) === "OK";
    },
    async *pruneSteps(retention, now) {
      if (Number.isFinite(retention.days)) {
        const cutoff = now - retention.days * 86_400_000;
        for (let offset = 0, seen = PRUNE_CHUNK; seen === PRUNE_CHUNK; ) {
          const [deleted, kept, n] = await redis.fluidHistoryPruneOld(k.runs, k.base, PRUNE_CHUNK, offset, cutoff);
          offset += kept;
          seen = n;
          yield deleted;
        }
        for (const task of await redis.smembers(k.tasks)) {
          for (let offset = 0, seen = PRUNE_CHUNK; seen === PRUNE_CHUNK; ) {
            const [, kept, n] = await redis.fluidHistoryPruneGone(k.task(task), k.base, PRUNE_CHUNK, offset, cutoff);
            offset += kept;
            seen = n;
            yield 0; // index entries only: the runs were counted when their hash expired
          }
        }
      }
      if (Number.isFinite(retention.perTask)) {
        const keep = Math.max(0, Math.floor(retention.perTask));
        for (const task of await redis.smembers(k.tasks)) {
          if ((await redis.zcard(k.task(task))) <= keep) continue;
          for (let skipped = 0, seen = PRUNE_CHUNK; seen === PRUNE_CHUNK; ) {
            const [deleted, kept, n] = await redis.fluidHistoryPruneTask(k.task(task), k.base, PRUNE_CHUNK, keep + skipped, task);
            skipped += kept;
            seen = n;
            yield deleted;
          }
        }
      }
    },
    async close() {
      redis.disconnect();
    },
  };
}
