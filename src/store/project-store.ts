import type { ResolvedConfig } from "../config/load.js";
import type { Store } from "./store.js";

/**
 * Opens the run store a project's config names (loading better-sqlite3 only now), or returns
 * undefined when the config turns recording off (`store: false`).
 */
export async function openProjectStore(config: ResolvedConfig, options: { readonly?: boolean } = {}): Promise<Store | undefined> {
  if (config.store === false) return undefined;
  const { openStore } = await import("./open-store.js");
  return openStore({
    path: config.store.path,
    logCap: config.store.logCap,
    retention: config.store.retention,
    ...(options.readonly ? { readonly: true } : {}),
  });
}
