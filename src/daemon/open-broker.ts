import type { Broker } from "../broker/broker.js";
import type { BackendStatus } from "../broker/bullmq.js";

/** The fleet backend a daemon's broker opens: a URL and the project's namespace on it. */
export interface BrokerBackend {
  url: string;
  /** Redis key prefix or PostgreSQL schema. Default "fluid". */
  prefix?: string;
  /** The stall window, ms (BullMQ's lockDuration and stalledInterval). Default 30000. */
  stallMs?: number;
  /** Most attempts of a task's runs (its `retry.attempts`), stored with each BullMQ job. */
  maxAttempts?: (task: string) => number;
  /** Told once when the backend becomes unreachable and once when it is back (see BullmqBrokerOptions.onBackendStatus). */
  onStatus?: (status: BackendStatus) => void;
}

/**
 * Opens the daemon's broker: "memory", "sqlite" in the store file (loaded on demand), fenced
 * by the daemon's lease `owner` token when given (see SqliteBrokerOptions.owner), or "bullmq" on
 * a fleet backend (checked first: a Redis or PostgreSQL unfit for BullMQ is a BackendError).
 */
export async function openBroker(kind: "memory" | "sqlite" | "bullmq", storePath: string | undefined, owner?: string, backend?: BrokerBackend): Promise<Broker> {
  if (kind === "memory") return (await import("../broker/memory.js")).createMemoryBroker();
  if (kind === "bullmq") {
    const { parseBackendUrl } = await import("../fleet/backend-url.js");
    const { checkBackend } = await import("../fleet/check-backend.js");
    const target = parseBackendUrl(backend!.url, backend!.prefix !== undefined ? { prefix: backend!.prefix } : {});
    await checkBackend(target);
    return (await import("../broker/bullmq.js")).openBullmqBroker({
      target, ...(backend!.maxAttempts ? { maxAttempts: backend!.maxAttempts } : {}),
      ...(backend!.onStatus ? { onBackendStatus: backend!.onStatus } : {}),
      ...(backend!.stallMs ? { lockDurationMs: backend!.stallMs, stalledIntervalMs: backend!.stallMs } : {}),
    });
  }
  return (await import("../broker/sqlite.js")).openSqliteBroker({ path: storePath!, ...(owner !== undefined ? { owner } : {}) });
}
