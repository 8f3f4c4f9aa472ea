import type { BrokerCounts } from "../broker/broker.js";
import type { QueuedRun } from "../core/queued-run.js";
import type { RunRecord, TaskState } from "../core/run-record.js";
import type { PoolStats } from "../executor/pool.js";
import type { RunReader } from "../store/run-reader.js";
import type { Store } from "../store/store.js";
import type { RunLogLine } from "../task/context.js";
import type { Task } from "../task/task.js";

/** What the daemon reports that the HTTP server uses (a subset of the daemon's events, same shapes). */
export type ViewEvent =
  | { type: "run-start"; run: QueuedRun }
  | { type: "run-end"; run: QueuedRun; state: string; durationMs: number; error?: { name: string; message: string }; retryInMs?: number }
  | { type: "log"; line: RunLogLine }
  | { type: "fire"; fire: { task: string; scheduledAt: number }; runId: string }
  | { type: "queued"; runId: string; task: string }
  | { type: "fire-skipped"; fire: { task: string; scheduledAt: number }; reason: string; skipped: number };

/** A run executing now in the daemon. */
export interface RunningView {
  id: string;
  task: string;
  attempt: number;
  startedAt: number;
}

/** What `cancel` did: a queued run removed, a running one flagged, or the run had already ended. */
export interface CancelView {
  outcome: "removed" | "flagged" | "ended";
  run: RunRecord;
}

/** The daemon's start-up facts, for /api/status. */
export interface DaemonFacts {
  pid: number;
  startedAt: number;
  configFile: string;
  store: string;
  broker: string;
  concurrency: number;
  /** The tasks this daemon runs when routed (`--tasks`, `--tags`); null: every task. */
  serves?: readonly string[] | null;
  /** False with `--no-schedules`. Default true. */
  firesSchedules?: boolean;
}

/** The fleet backend as the daemon sees it. */
export interface BackendView {
  url: string;
  state: "up" | "down";
  since: number;
  message?: string;
}

/**
 * Everything the HTTP server needs from a running daemon, handed over by the CLI (the http
 * layer does not import the daemon): the tasks, the store, the queue, the pool, the scheduler's
 * next fires, an event subscription, and the few actions the API offers.
 */
/** What the daemon's notifier counted: alerts decided by kind; deliveries sent and failed by notifier; dropped. */
export interface NotifyCounts {
  alerts: Readonly<Record<string, number>>;
  sent: Readonly<Record<string, number>>;
  failed: Readonly<Record<string, number>>;
  dropped: number;
}

export interface DaemonView {
  readonly facts: DaemonFacts;
  /** The tasks now loaded (after a reload, the new ones), sorted by name. */
  tasks(): readonly Task[];
  /** The daemon's own run store, or undefined when it keeps none (`store: false`). */
  readonly store: Store | undefined;
  /**
   * Where runs are read (`/api/runs`, a task's last runs): the fleet's run history on a backend
   * (every daemon's runs, docs/fleet.md), else the local store; undefined when nothing is recorded.
   * Defaults to the store.
   */
  readonly runs?: RunReader | undefined;
  /**
   * True when `runs` is a fleet's run history: other daemons run runs too, so a run's live log
   * lines are read from `runs` (polled), not from this daemon's events. Default false.
   */
  readonly fleet?: boolean;
  /** Enabled state of each task ever enabled or disabled (as the daemon sees it now). */
  taskStates(): ReadonlyMap<string, TaskState>;
  /** Enables or disables a task, recorded in the store (a fleet's: in its backend); the scheduler and the consumer see it at once. */
  setEnabled(task: string, enabled: boolean, reason?: string): void | Promise<void>;
  /** Validates `params` with the task's schema and queues a run; resolves with its id. Throws a ParamsError or UnknownTaskError. */
  queue(task: string, params: Record<string, unknown>): Promise<string>;
  /** Cancels a run by id or unique prefix. Throws a StoreError for an unknown run. */
  cancel(idOrPrefix: string): Promise<CancelView>;
  /**
   * Resolves with the final attempt once the run ended for good (no retry pending); rejects with
   * a WaitTimeoutError after `timeoutMs`, a RunInterruptedError when `signal` aborts. Looks every
   * `pollMs` (default 50).
   */
  waitForRun(id: string, timeoutMs: number, signal?: AbortSignal, pollMs?: number): Promise<RunRecord>;
  /** Ready, delayed and claimed runs in the broker; rejects when the backend cannot be reached. */
  queueCounts(): Promise<BrokerCounts>;
  /** The fleet backend now (up, or down since when); undefined without one. */
  backend?(): BackendView | undefined;
  /** Runs executing now. */
  running(): RunningView[];
  /** The child-process pool's counters, or null when the project has no cpu-bound task. */
  poolStats(): PoolStats | null;
  /** The alerts' counters since the daemon started (docs/notify.md); undefined when not known. */
  notifyStats?(): NotifyCounts;
  /** The next `n` fires over all enabled tasks, in order. */
  upcoming(n: number): Array<{ task: string; at: number }>;
  /** When each task's schedule last fired (epoch ms), as the daemon knows it. */
  lastFires(): ReadonlyMap<string, number>;
  /** Receives the daemon's events; returns an unsubscribe. */
  subscribe(listener: (event: ViewEvent) => void): () => void;
}
