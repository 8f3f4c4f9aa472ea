import type { FleetHistory } from "./fleet-history.js";
import type { Store } from "./store.js";

/**
 * The local store, with every attempt record and log line also written to the fleet's run
 * history (the daemon and `fluid queue` / `cancel` on a fleet backend): the local store stays
 * what it was (this process's own record), the history is what every machine reads. Closing it
 * closes the local store only; the history is closed by its owner (it needs an await).
 */
export function withHistory(store: Store, history: FleetHistory): Store {
  return {
    path: store.path,
    writeAttempt(record) {
      store.writeAttempt(record);
      history.writeAttempt(record);
    },
    insertAttempt(record) {
      const inserted = store.insertAttempt(record);
      if (inserted) history.writeAttempt(record);
      return inserted;
    },
    appendLogs(id, attempt, lines) {
      store.appendLogs(id, attempt, lines);
      history.appendLogs(id, attempt, lines);
    },
    markInterrupted(filter) {
      const marked = store.markInterrupted(filter);
      for (const record of marked) history.writeAttempt(record);
      return marked;
    },
    flush: () => store.flush(),
    getRun: (idOrPrefix) => store.getRun(idOrPrefix),
    latestAttempt: (id) => store.latestAttempt(id),
    listRuns: (query) => store.listRuns(query),
    children: (id) => store.children(id),
    setTaskEnabled: (task, enabled, reason) => store.setTaskEnabled(task, enabled, reason),
    taskStates: () => store.taskStates(),
    lastRuns: () => store.lastRuns(),
    lastRun: (task) => store.lastRun(task),
    lastSuccessAt: (task) => store.lastSuccessAt(task),
    setLastFire: (task, at) => store.setLastFire(task, at),
    lastFires: () => store.lastFires(),
    prune: (now) => store.prune(now),
    pruneSteps: (now) => store.pruneSteps(now),
    close: () => store.close(),
  };
}
