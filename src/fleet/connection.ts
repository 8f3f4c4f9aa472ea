import { Redis } from "ioredis";
import { createPostgresBackend, Queue, QueueEvents, QueueEventsProducer, Worker, type WorkerOptions } from "bullmq";
import type { BackendTarget } from "./backend-url.js";

/** The BullMQ queue of a project: one queue for every task, the job name is the task name (docs/fleet.md). */
export const QUEUE_NAME = "fluid";

/** Connections to a backend, shared by the Queue and the Worker of one process. */
export interface FleetConnection {
  /** A Queue on the project's queue (producer side: add, getJob, counts). */
  queue(): Queue;
  /** A Worker without a processor: fluid fetches jobs itself (`getNextJob`) and runs them in its own executor. */
  worker(options: Omit<WorkerOptions, "connection" | "prefix">): Worker;
  /**
   * Listens to the events of the queue's control channel (its own blocking connection): a queue
   * of its own, `<queue>-control`, that holds no job, so its event stream carries only fluid's
   * custom events (cancellations), not the several events of every job.
   */
  events(): QueueEvents;
  /** Publishes custom events on the control channel (see `events`). */
  producer(): QueueEventsProducer;
  /** Redis: the connection the Queue and the Worker share (for fluid's own keys beside BullMQ's); PostgreSQL: undefined. */
  redis?: Redis;
  /** Closes the connections this object opened (not the Queue and Worker: close those first). */
  close(): Promise<void>;
}

/** Hears a Redis connection go away and come back (ioredis reconnects by itself, with backoff). */
export interface ConnectionWatch {
  /** The connection failed or closed (called at every failed reconnect too: the caller keeps the first). */
  down(message: string): void;
  /** The connection is ready again. */
  up(): void;
}

/** PostgreSQL: most pooled connections of each Queue or Worker (BullMQ adds one LISTEN connection to a Worker). */
const PG_POOL_MAX = 4;

/**
 * Opens what BullMQ needs to reach `target`. Redis: one ioredis connection shared by the Queue and
 * the Worker (BullMQ adds the Worker's blocking connection), reconnecting with ioredis's backoff
 * (50 ms more per attempt, at most 2 s), its state told to `watch`. PostgreSQL: BullMQ's own pools
 * in the target's schema (`createPostgresBackend`); `watch` is not called (no connection to watch).
 */
export function openFleetConnection(target: BackendTarget, queueName = QUEUE_NAME, watch?: ConnectionWatch): FleetConnection {
  if (target.kind === "redis") {
    const redis = new Redis({
      host: target.host, port: target.port, db: target.db,
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
      // BullMQ's requirement for a connection a Worker uses: commands wait for a reconnect instead of failing.
      maxRetriesPerRequest: null,
    });
    // Errors surface on the commands; an unhandled 'error' event would crash the process.
    redis.on("error", (error: Error) => watch?.down(error.message));
    redis.on("close", () => watch?.down("connection closed"));
    redis.on("ready", () => watch?.up());
    return {
      redis,
      queue: () => new Queue(queueName, { connection: redis, prefix: target.prefix }),
      worker: (options) => new Worker(queueName, null, { ...options, connection: redis, prefix: target.prefix }),
      events: () => new QueueEvents(`${queueName}-control`, { connection: redis, prefix: target.prefix }),
      producer: () => new QueueEventsProducer(`${queueName}-control`, { connection: redis, prefix: target.prefix }),
      close: async () => {
        redis.disconnect();
      },
    };
  }
  const connection = { connectionString: target.connectionString, schema: target.schema, max: PG_POOL_MAX };
  return {
    queue: () => new Queue(queueName, { connection }, createPostgresBackend) as unknown as Queue,
    worker: (options) => new Worker(queueName, null, { ...options, connection }, createPostgresBackend) as unknown as Worker,
    events: () => new QueueEvents(`${queueName}-control`, { connection }, createPostgresBackend) as unknown as QueueEvents,
    producer: () => new QueueEventsProducer(`${queueName}-control`, { connection }, createPostgresBackend) as unknown as QueueEventsProducer,
    close: async () => {},
  };
}
