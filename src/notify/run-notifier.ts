import type { RunRecord } from "../core/run-record.js";
import type { RunState } from "../core/types.js";
import type { ErrorInfo } from "../core/errors.js";
import type { Store } from "../store/store.js";
import type { LogSink } from "../task/context.js";
import { mergeNotify, type NotifySpec } from "../task/notify-options.js";
import type { Task } from "../task/task.js";
import { createNotifier, type Notifier, type NotifyFailure } from "./notifier.js";
import { previousHealth } from "./previous-health.js";

/** How long `fluid run` waits for its alerts before it exits, ms. */
export const RUN_NOTIFY_WAIT_MS = 10_000;

/** The notifier of one `fluid run`: hooks for `runTask`'s callbacks, then `finish` with the run's outcome. */
export interface RunNotifier {
  /** Pass every attempt record `runTask` reports (its `onAttempt`). */
  onAttempt(record: RunRecord): void;
  /** Pass every log line of the run. */
  log: LogSink;
  /** The run ended (after its retries): sends what its outcome calls for and waits (bounded) until it is delivered. */
  finish(result: { id: string; state: RunState; error?: ErrorInfo }): Promise<void>;
  notifier: Notifier;
}

/**
 * Alerts for a run of `fluid run` (docs/notify.md), or undefined when neither the config nor
 * the task names a notifier. Recovery is seen from the store's history of the task, when given.
 */
export function runNotifier(
  config: NotifySpec | undefined,
  task: Task,
  o: { store?: Store | undefined; cwd?: string; onFailure?: (failure: NotifyFailure) => void; waitMs?: number },
): RunNotifier | undefined {
  if (!mergeNotify(config, task.notify)) return undefined;
  const { store } = o;
  const notifier = createNotifier({
    config: () => config,
    task: (name) => (name === task.name ? task : undefined),
    ...(store ? { previous: (name: string, except: string) => previousHealth(store, name, except) } : {}),
    ...(o.onFailure ? { onFailure: o.onFailure } : {}),
    ...(o.cwd ? { cwd: o.cwd } : {}),
  });
  let last: RunRecord | undefined;
  let runId: string | undefined;
  let trigger: string | undefined; // the first attempt's: what started the run (later ones say "retry")
  return {
    notifier,
    onAttempt(record) {
      runId ??= record.id; // the run's first attempt comes first; later ids are runs it queued (chained)
      if (record.id !== runId) return;
      trigger ??= record.trigger;
      if (record.state === "running") notifier.attemptStarted({ task: record.task, runId: record.id, attempt: record.attempt, ...(record.startedAt !== undefined ? { startedAt: record.startedAt } : {}) });
      else if (record.state !== "queued") last = record;
    },
    log: (line) => notifier.log(line),
    async finish(result) {
      if (last && last.id === result.id) {
        notifier.attemptEnded({
          task: task.name, runId: result.id, attempt: last.attempt, maxAttempts: last.maxAttempts, trigger: trigger ?? last.trigger,
          state: result.state, ...(result.error ? { error: result.error } : {}),
          ...(last.startedAt !== undefined ? { startedAt: last.startedAt } : {}),
          ...(last.endedAt !== undefined ? { endedAt: last.endedAt } : {}),
          ...(last.durationMs !== undefined ? { durationMs: last.durationMs } : {}),
          final: true,
        });
      }
      await notifier.close(o.waitMs ?? RUN_NOTIFY_WAIT_MS);
    },
  };
}
