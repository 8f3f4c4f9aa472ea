import type { Store } from "./store.js";

/** Schedule-state key holding when retention last ran (not a task name: it has a space). */
const PRUNE_KEY = "fluid prune";

/** How often retention runs at most. */
export const PRUNE_EVERY_MS = 3_600_000;

/**
 * Applies the store's retention when it has not run for PRUNE_EVERY_MS, from any process
 * (`fluid run` under cron as well as the daemon). Errors are reported, never thrown.
 */
export function maybePrune(store: Store, onError: (error: unknown) => void = () => {}, now = Date.now()): number {
  try {
    const last = store.lastFires().get(PRUNE_KEY) ?? 0;
    if (now - last < PRUNE_EVERY_MS) return 0;
    store.setLastFire(PRUNE_KEY, now);
    return store.prune(now).deleted;
  } catch (error) {
    onError(error);
    return 0;
  }
}
