import type { RunDetails, RunQuery, RunRecord } from "../core/run-record.js";
import type { Store } from "./store.js";

/**
 * What `fluid history`, `show`, `logs`, `cancel`, `queue --wait`, `ls`, `status`, the alerts and the
 * HTTP API read runs through: the local SQLite store (embedded) or the fleet backend's run history
 * (`openFleetHistory`). Async, so a
 * network backend can implement it; the methods mean what `Store`'s methods of the same name mean.
 */
export interface RunReader {
  /** Where the runs are read from, for messages: the store file, or the backend's URL without password. */
  readonly where: string;
  getRun(idOrPrefix: string): Promise<RunDetails>;
  latestAttempt(id: string): Promise<RunRecord | undefined>;
  listRuns(query?: RunQuery): Promise<RunRecord[]>;
  /** Per task, the latest attempt that is running or finished (not queued), newest run first (`fluid ls`, the HTTP API's tasks); a task without one is absent. */
  lastRuns(tasks: readonly string[]): Promise<Map<string, RunRecord>>;
}

/** A `RunReader` over a SQLite store (the store stays the caller's to close). */
export function storeReader(store: Store): RunReader {
  return {
    where: store.path,
    getRun: async (idOrPrefix) => store.getRun(idOrPrefix),
    latestAttempt: async (id) => store.latestAttempt(id),
    listRuns: async (query) => store.listRuns(query),
    lastRuns: async (tasks) => {
      const out = new Map<string, RunRecord>();
      for (const task of tasks) {
        const r = store.lastRun(task);
        if (r) out.set(task, r);
      }
      return out;
    },
  };
}
