import { StoreError } from "../core/errors.js";
import type { FleetHistory } from "./fleet-history.js";
import type { Store } from "./store.js";

/**
 * A `Store` over the fleet's run history alone, for a daemon on a fleet backend with `store:
 * false` (docs/fleet.md): attempts and log lines go to the history, where every machine reads
 * them; nothing is kept locally. Task state and last fires live in the backend's fleet state, so
 * their local reads are empty; run lookups go through the history's `RunReader` (the daemon's
 * `runs`), so the synchronous ones here throw. `insertAttempt` cannot take an id atomically in
 * the history: it records and says yes (run ids are random; a slot's id is the queue's to refuse).
 */
export function historyOnly(history: FleetHistory): Store {
  const store = historyOnlyStore(history);
  HISTORY_ONLY.add(store);
  return store;
}

/** The stores `historyOnly` made: not a local store (the HTTP API's readiness and metrics pass over them). */
const HISTORY_ONLY = new WeakSet<Store>();

/** True for a store `historyOnly` made (nothing local behind it). */
export function isHistoryOnly(store: Store | undefined): boolean {
  return store !== undefined && HISTORY_ONLY.has(store);
}

function historyOnlyStore(history: FleetHistory): Store {
  const noLocal = (): never => {
    throw new StoreError("this daemon keeps no local store (store: false): its runs are in the fleet's run history", {
      hint: "read runs with `fluid history` / `fluid show`, or the HTTP API",
    });
  };
  return {
    path: "(none)",
    writeAttempt: (record) => history.writeAttempt(record),
    insertAttempt(record) {
      history.writeAttempt(record);
      return true;
    },
    appendLogs: (id, attempt, lines) => history.appendLogs(id, attempt, lines),
    markInterrupted: () => [],
    flush: () => void history.flush().catch(() => {}), // a failure is reported by the history and retried
    getRun: noLocal,
    latestAttempt: noLocal,
    listRuns: noLocal,
    children: noLocal,
    setTaskEnabled: noLocal,
    taskStates: () => new Map(),
    lastRuns: () => new Map(),
    lastRun: () => undefined,
    lastSuccessAt: () => undefined,
    setLastFire: () => {},
    lastFires: () => new Map(),
    prune: () => ({ deleted: 0 }),
    pruneSteps: function* () {},
    close: () => {},
  };
}
