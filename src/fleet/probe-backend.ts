import type { Redis } from "ioredis";
import { createPostgresBackend, Queue } from "bullmq";
import type { BackendTarget } from "./backend-url.js";
import { QUEUE_NAME } from "./connection.js";
import { oneShotRedis } from "./one-shot-redis.js";

/** What `probeBackend` saw: the queue's counts, or why the backend did not answer. */
export type BackendProbe =
  | { url: string; reachable: true; queue: { ready: number; delayed: number; claimed: number } }
  | { url: string; reachable: false; error: string };

/**
 * Asks the backend for the counts of the project's queue, read-only (no schema created or
 * migrated), giving up after `timeoutMs`: for `fluid status`, which must answer while the
 * backend is down. Never throws.
 */
export async function probeBackend(target: BackendTarget, timeoutMs = 2000): Promise<BackendProbe> {
  let redis: Redis | undefined;
  let queue: Queue | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const counts = (async () => {
      if (target.kind === "redis") {
        const shot = oneShotRedis(target, timeoutMs);
        redis = shot.redis;
        await shot.connect();
        queue = new Queue(QUEUE_NAME, { connection: redis, prefix: target.prefix });
      } else {
        queue = new Queue(QUEUE_NAME, {
          connection: { connectionString: target.connectionString, schema: target.schema, max: 1, connectionTimeoutMillis: timeoutMs },
        }, createPostgresBackend) as unknown as Queue;
      }
      queue.on("error", () => {}); // the failure surfaces on getJobCounts
      return queue.getJobCounts("wait", "prioritized", "delayed", "active");
    })();
    counts.catch(() => {}); // after a timeout nobody awaits it: its failure is the timeout's
    const c = await Promise.race([counts, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)))]);
    return { url: target.display, reachable: true, queue: { ready: (c.wait ?? 0) + (c.prioritized ?? 0), delayed: c.delayed ?? 0, claimed: c.active ?? 0 } };
  } catch (error) {
    return { url: target.display, reachable: false, error: ((error as Error).message || String(error)).split("\n")[0]! };
  } finally {
    clearTimeout(timer);
    // Closing must not hold the answer up either: a queue on a dead server may take its time.
    const q = queue;
    const r = redis;
    void Promise.race([q?.close(), new Promise((resolve) => setTimeout(resolve, 500).unref())]).catch(() => {}).finally(() => r?.disconnect()); // a close that fails changes nothing here: the process is about to exit
  }
}
