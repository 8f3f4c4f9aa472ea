import type { Broker } from "../broker/broker.js";

/**
 * Opens the daemon's broker: "memory", or "sqlite" in the store file (loaded on demand), fenced
 * by the daemon's lease `owner` token when given (see SqliteBrokerOptions.owner).
 */
export async function openBroker(kind: "memory" | "sqlite", storePath: string | undefined, owner?: string): Promise<Broker> {
  if (kind === "memory") return (await import("../broker/memory.js")).createMemoryBroker();
  return (await import("../broker/sqlite.js")).openSqliteBroker({ path: storePath!, ...(owner !== undefined ? { owner } : {}) });
}
