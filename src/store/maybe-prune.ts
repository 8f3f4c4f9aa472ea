import type { Store } from "./store.js";
import { callListener } from "../core/call-listener.js";

/** Schedule-state key holding when retention last ran (not a task name: it has a space). */
const PRUNE_KEY = "fluid prune";

/** How often retention runs at most. */
export const PRUNE_EVERY_MS = 3_600_000;

/** Whether retention is due as of `now`; when it is, notes that it runs now (buffered). */
function takeTurn(store: Store, now: number): boolean {
  const last = store.lastFires().get(PRUNE_KEY) ?? 0;
  if (now - last < PRUNE_EVERY_MS) return false;
  store.setLastFire(PRUNE_KEY, now);
  return true;
}

/**
 * Applies the store's retention when it has not run for PRUNE_EVERY_MS, at once and to the
 * end (a one-run process such as `fluid run` under cron, on its way out). Errors are reported,
 * never thrown. A daemon uses `startPruning`, which never holds up its event loop.
 */
export function maybePrune(store: Store, onError: (error: unknown) => void = () => {}, now = Date.now()): number {
  try {
    return takeTurn(store, now) ? store.prune(now).deleted : 0;
  } catch (error) {
    onError(error);
    return 0;
  }
}

/** Options of `startPruning`. */
export interface PruningOptions {
  /** Receives failures (disk full, lock, closed store); the next check tries again. Default: ignored. */
  onError?: (error: unknown) => void;
  /** Wait before the first check, in ms, so the daemon has started before retention touches the file. Default 1000. */
  delayMs?: number;
  /** Time between checks, in ms. Default PRUNE_EVERY_MS (an hour). */
  everyMs?: number;
}

/**
 * Applies the store's retention in the background, for the daemon: the first check `delayMs`
 * after the call (never before the daemon has started: on a store of 105k runs a prune before
 * start held it up for 6 s), then every `everyMs`. A check that finds retention due (the rule
 * `maybePrune` shares with `fluid run`) deletes one small transaction (`Store.pruneSteps`,
 * 500 runs) per timer turn, so runs and claims go on in between. Timers are unref'd. Returns
 * the function that stops it: a step under way ends, no later one starts.
 */
export function startPruning(store: Store, o: PruningOptions = {}): () => void {
  const everyMs = o.everyMs ?? PRUNE_EVERY_MS;
  const report = (error: unknown): void => callListener(o.onError, error);
  let timer: NodeJS.Timeout | undefined;
  let steps: Generator<number, void, void> | undefined;
  let stopped = false;
  const later = (fn: () => void, ms: number): void => {
    if (stopped) return;
    timer = setTimeout(fn, ms);
    timer.unref();
  };
  const check = (): void => {
    try {
      const now = Date.now();
      if (takeTurn(store, now)) {
        steps = store.pruneSteps(now);
        return step();
      }
    } catch (error) {
      report(error);
    }
    later(check, everyMs);
  };
  const step = (): void => {
    try {
      if (!stopped && steps && !steps.next().done) return later(step, 0);
    } catch (error) {
      report(error);
    }
    steps = undefined;
    later(check, everyMs);
  };
  later(check, o.delayMs ?? 1000);
  return () => {
    stopped = true;
    clearTimeout(timer);
    steps?.return();
    steps = undefined;
  };
}
