import pg from "pg";
import { MINIMUM_POSTGRES_VERSION, RedisConnection, runMigrations } from "bullmq";
import { BackendError } from "./backend-error.js";
import type { BackendTarget } from "./backend-url.js";
import { oneShotRedis } from "./one-shot-redis.js";
import { ensurePendingIndex } from "./pending-index.js";

/** What `checkBackend` found. */
export interface BackendInfo {
  kind: BackendTarget["kind"];
  /** Server version, e.g. "7.0.15" or "15.20". */
  version: string;
}

/** How long the start-up check waits for the server, ms. */
const CONNECT_TIMEOUT_MS = 5000;

/**
 * Checks at start-up that the backend can carry a fleet, and prepares it: Redis at least BullMQ's
 * minimum version with `maxmemory-policy noeviction` (BullMQ's locks are keys with an expiry: an
 * evicting Redis loses jobs); PostgreSQL 13 or newer, with BullMQ's schema migrated (idempotent and
 * safe when many daemons start at once: BullMQ takes an advisory lock) and fluid's index of pending
 * jobs by task (`ensurePendingIndex`). Throws a BackendError
 * saying what to change.
 */
export async function checkBackend(target: BackendTarget): Promise<BackendInfo> {
  return target.kind === "redis" ? checkRedis(target) : checkPostgres(target);
}

async function checkRedis(target: Extract<BackendTarget, { kind: "redis" }>): Promise<BackendInfo> {
  const { redis, connect } = oneShotRedis(target, CONNECT_TIMEOUT_MS);
  try {
    try {
      await connect();
    } catch (error) {
      throw new BackendError(`cannot reach the Redis backend ${target.display}: ${(error as Error).message}`, {
        cause: error, hint: "start Redis, or check the backend URL (config `backend`, FLUID_BACKEND_URL, --backend)",
      });
    }
    const server = field(await redis.info("server"), "redis_version") ?? "0.0.0";
    const minimum = RedisConnection.minimumVersion;
    if (compareVersions(server, minimum) < 0) {
      throw new BackendError(`the Redis backend ${target.display} runs Redis ${server}; BullMQ needs ${minimum} or newer`, { hint: `upgrade Redis to ${RedisConnection.recommendedMinimumVersion} or newer` });
    }
    const policy = field(await redis.info("memory"), "maxmemory_policy");
    if (policy !== undefined && policy !== "noeviction") {
      throw new BackendError(`the Redis backend ${target.display} has maxmemory-policy ${policy}: it may evict queued runs and job locks`, {
        hint: 'set "maxmemory-policy noeviction" in redis.conf (or CONFIG SET maxmemory-policy noeviction)',
      });
    }
    return { kind: "redis", version: server };
  } finally {
    redis.disconnect();
  }
}

async function checkPostgres(target: Extract<BackendTarget, { kind: "postgres" }>): Promise<BackendInfo> {
  const client = new pg.Client({ connectionString: target.connectionString, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  client.on("error", () => {});
  try {
    try {
      await client.connect();
    } catch (error) {
      throw new BackendError(`cannot reach the PostgreSQL backend ${target.display}: ${(error as Error).message}`, {
        cause: error, hint: "start PostgreSQL, or check the backend URL (config `backend`, FLUID_BACKEND_URL, --backend)",
      });
    }
    const { rows } = await client.query<{ server_version: string; server_version_num: string }>("SELECT current_setting('server_version') AS server_version, current_setting('server_version_num') AS server_version_num");
    const version = rows[0]!.server_version.split(" ")[0]!;
    const major = Math.floor(Number(rows[0]!.server_version_num) / 10000);
    if (major < MINIMUM_POSTGRES_VERSION) {
      throw new BackendError(`the PostgreSQL backend ${target.display} runs PostgreSQL ${version}; BullMQ needs ${MINIMUM_POSTGRES_VERSION} or newer`, { hint: `upgrade PostgreSQL to ${MINIMUM_POSTGRES_VERSION} or newer (14+ recommended)` });
    }
    try {
      await runMigrations(client as never, target.schema);
      await client.query(`SET search_path TO "${target.schema.replace(/"/g, '""')}"`);
      await ensurePendingIndex(client);
    } catch (error) {
      throw new BackendError(`cannot prepare schema "${target.schema}" on the PostgreSQL backend ${target.display}: ${(error as Error).message}`, {
        cause: error, hint: "the database user needs CREATE on the database (or create the schema for it)",
      });
    }
    return { kind: "postgres", version };
  } finally {
    await client.end().catch(() => {});
  }
}

/** A `key:value` line of Redis INFO. */
function field(info: string, key: string): string | undefined {
  const line = info.split(/\r?\n/).find((l) => l.startsWith(`${key}:`));
  return line?.slice(key.length + 1).trim();
}

/** Compares dotted versions numerically: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
