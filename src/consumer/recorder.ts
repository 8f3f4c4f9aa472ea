import type { Store } from "../store/store.js";
import type { LogSink } from "../task/context.js";
import type { AttemptRecord } from "./run-task.js";

/** The hooks that record a run's attempts and log lines in the store. */
export interface Recorder {
  onAttempt(record: AttemptRecord): void;
  log: LogSink;
}

/**
 * Records into `store`. A `running` attempt is flushed at once, so a crash leaves a `running`
 * row that the daemon later marks `interrupted`; everything else is batched by the store.
 */
export function createRecorder(store: Store): Recorder {
  return {
    onAttempt(record) {
      store.writeAttempt(record);
      if (record.state === "running") store.flush();
    },
    log(line) {
      store.appendLogs(line.runId, line.attempt, [{ ts: line.ts, level: line.level, message: line.message }]);
    },
  };
}
