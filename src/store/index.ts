/** The run store: durable record of runs, task state and schedule state in one SQLite file. */
export { openStore } from "./open-store.js";
export { isPidAlive } from "../persistence/pid-alive.js";
export { SCHEMA_VERSION } from "../persistence/schema.js";
export type { RunDetails, RunQuery, RunRecord, TaskState } from "../core/run-record.js";
export type { RetentionOptions, Store, StoreOptions } from "./store.js";
