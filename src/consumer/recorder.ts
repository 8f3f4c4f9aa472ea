import { UsageError } from "../core/errors.js";
import type { Store } from "../store/store.js";
import type { LogSink } from "../task/context.js";
import type { AttemptRecord } from "./run-task.js";

/** The hooks that record a run's attempts and log lines in the store. */
export interface Recorder {
  onAttempt(record: AttemptRecord): void;
  log: LogSink;
}

/** Options of `createRecorder`. */
export interface RecorderOptions {
  /**
   * Commit a `running` attempt at once, so a crash of this one-run process (`fluid run`)
   * leaves a `running` row that the daemon later marks `interrupted`. A first attempt is
   * inserted only when no run has its id (else `onAttempt` throws a UsageError, exit 2, and
   * writes nothing): a reused `--run-id` must not overwrite an earlier run. Default false: the
   * store commits on the next turn of the event loop, batched with everything else.
   */
  flushRunning?: boolean;
  /** Receives recording failures instead of having them thrown. Default: thrown. */
  onError?: (message: string, error: unknown) => void;
  /**
   * Where attempts go instead of `store.writeAttempt`: the daemon's SQLite broker
   * (`Broker.recordAttempt`), which commits them with the acks. Default: the store.
   */
  writeAttempt?: ((record: AttemptRecord) => void) | undefined;
}

/** Records attempts and log lines of runs into `store`. */
export function createRecorder(store: Store, o: RecorderOptions = {}): Recorder {
  const writeAttempt = o.writeAttempt ?? ((record: AttemptRecord) => store.writeAttempt(record));
  const guard = (what: string, write: () => void): void => {
    if (!o.onError) return write();
    try {
      write();
    } catch (error) {
      o.onError(`cannot record ${what}: ${(error as Error).message}`, error);
    }
  };
  return {
    onAttempt(record) {
      if (o.flushRunning && record.state === "running" && record.attempt === 1) {
        // A new run takes its id atomically: a reused id must not overwrite an earlier record.
        if (!store.insertAttempt(record)) throw reusedRunId(record.id);
        return;
      }
      guard(`run ${record.id}`, () => {
        writeAttempt(record);
        if (o.flushRunning && record.state === "running") store.flush();
      });
    },
    log(line) {
      guard("log lines", () => store.appendLogs(line.runId, line.attempt, [{ ts: line.ts, level: line.level, message: line.message }]));
    },
  };
}

/** The error for a run id that an earlier run already has (exit 2). */
export function reusedRunId(id: string): UsageError {
  return new UsageError(`a run with id "${id}" is already recorded; it is not run again and its record is kept`, {
    hint: "run ids must be unique; omit --run-id to get a fresh one",
  });
}
