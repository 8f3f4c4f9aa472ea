import type { Daemon, DaemonEvent } from "../daemon/serve.js";
import { waitForRun } from "../daemon/client.js";
import type { DaemonView, ViewEvent } from "../http/view.js";
import { isHistoryOnly } from "../store/history-store.js";

const VIEW_EVENTS = new Set<DaemonEvent["type"]>(["run-start", "run-end", "log", "fire", "queued", "fire-skipped"]);

/** What the HTTP server sees of a running daemon (the http layer does not import the daemon). */
export function daemonView(daemon: Daemon): DaemonView {
  return {
    facts: {
      pid: daemon.summary.pid, startedAt: daemon.startedAt, configFile: daemon.summary.configFile, store: daemon.summary.store,
      broker: daemon.summary.broker, concurrency: daemon.summary.concurrency,
      // A getter: a reload may add a task with a served tag.
      get serves() {
        return daemon.summary.serves ?? null;
      },
      firesSchedules: daemon.summary.firesSchedules,
    },
    backend: () => daemon.backend(),
    tasks: () => daemon.registry().list(),
    // The daemon's own store; none for a fleet daemon with store: false (its runs are in `runs`).
    store: isHistoryOnly(daemon.store) ? undefined : daemon.store,
    runs: daemon.runs,
    fleet: daemon.broker.kind === "bullmq",
    taskStates: () => daemon.taskStates(),
    setEnabled: (task, enabled, reason) => daemon.setEnabled(task, enabled, reason),
    queue: (task, params) => daemon.queue(task, params),
    cancel: (id) => daemon.cancel(id),
    waitForRun: (id, timeoutMs, signal, pollMs) => {
      if (!daemon.runs) return Promise.reject(new Error("this daemon records no runs (store: false), so it cannot wait for one"));
      return waitForRun({ runs: daemon.runs, broker: daemon.broker }, id, { timeoutMs, ...(signal ? { signal } : {}), ...(pollMs ? { pollMs } : {}) });
    },
    queueCounts: () => daemon.broker.counts(),
    running: () => daemon.consumer.running().map((r) => ({ id: r.run.id, task: r.run.task, attempt: r.run.attempt, startedAt: r.startedAt })),
    poolStats: () => daemon.poolStats(),
    notifyStats: () => daemon.notifier.stats(),
    upcoming: (n) => daemon.upcoming(n).map((f) => ({ task: f.task, at: f.at })),
    lastFires: () => daemon.lastFires(),
    subscribe: (listener) => daemon.subscribe((event) => {
      if (VIEW_EVENTS.has(event.type)) listener(event as ViewEvent);
    }),
  };
}
