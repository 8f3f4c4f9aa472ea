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
  /** Latest attempt that is running or finished (not queued) of one task, newest run first (`fluid ls`, the HTTP API's tasks). */
  lastRun(task: string): Promise<RunRecord | undefined>;
}

/** A `RunReader` over a SQLite store (the store stays the caller's to close). */
export function storeReader(store: Store): RunReader {
  return {
    where: store.path,
    getRun: async (idOrPrefix) => store.getRun(idOrPrefix),
    latestAttempt: async (id) => store.latestAttempt(id),
    listRuns: async (query) => store.listRuns(query),
    lastRun: async (task) => store.lastRun(task),
  };
}
