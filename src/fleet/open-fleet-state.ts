import type { BackendTarget } from "./backend-url.js";
import type { FleetState, FleetStateOptions } from "./fleet-state.js";

/** Opens the fleet state of a backend; throws a BackendError when it cannot be reached. */
export async function openFleetState(target: BackendTarget, options: FleetStateOptions = {}): Promise<FleetState> {
  const leaseMs = Math.max(1000, options.leaseMs ?? 30_000);
  if (target.kind === "redis") return (await import("./fleet-state-redis.js")).openRedisState(target, leaseMs, options.wait ?? false);
  return (await import("./fleet-state-postgres.js")).openPostgresState(target, leaseMs);
}
