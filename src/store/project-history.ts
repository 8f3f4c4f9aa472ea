import type { ResolvedConfig } from "../config/load.js";
import type { FleetHistory, FleetHistoryOptions } from "./fleet-history.js";

/**
 * Opens the run history of the fleet a project's config names (`backend`, FLUID_BACKEND_URL;
 * `backend` here overrides it, as `fluid serve --backend` does), with the log cap and retention
 * of its `store` config (the defaults with `store: false`: the history lives in the backend); undefined without a backend (embedded: the local store is the history).
 */
export async function openProjectHistory(
  config: ResolvedConfig,
  o: Pick<FleetHistoryOptions, "failFast" | "onError"> & { backend?: { url: string; prefix?: string } | undefined } = {},
): Promise<FleetHistory | undefined> {
  const backend = o.backend ?? config.backend;
  if (!backend) return undefined;
  const { parseBackendUrl } = await import("../fleet/backend-url.js");
  const { openFleetHistory } = await import("./fleet-history.js");
  const target = parseBackendUrl(backend.url, backend.prefix !== undefined ? { prefix: backend.prefix } : {});
  return openFleetHistory(target, {
    ...(config.store ? { logCap: config.store.logCap, retentionDays: config.store.retention.days, retentionPerTask: config.store.retention.perTask } : {}),
    ...(o.failFast ? { failFast: true } : {}),
    ...(o.onError ? { onError: o.onError } : {}),
  });
}
