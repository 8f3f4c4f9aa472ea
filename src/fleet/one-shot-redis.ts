import { Redis } from "ioredis";
import type { BackendTarget } from "./backend-url.js";

/**
 * A Redis connection for one check (start-up checks, `fluid status`'s probe): no reconnects, no
 * retried commands. `connect()` rejects with the socket's error (ECONNREFUSED...), which says
 * more than the "Connection is closed." ioredis rejects with. The caller disconnects `redis`,
 * also when `connect()` failed.
 */
export function oneShotRedis(target: Extract<BackendTarget, { kind: "redis" }>, connectTimeoutMs: number): { redis: Redis; connect(): Promise<void> } {
  const redis = new Redis({
    host: target.host, port: target.port, db: target.db, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: connectTimeoutMs,
    retryStrategy: () => null,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
  });
  let socketError: Error | undefined;
  redis.on("error", (error: Error) => (socketError ??= error));
  return {
    redis,
    connect: () => redis.connect().catch((error: unknown) => {
      throw socketError ?? error;
    }),
  };
}
