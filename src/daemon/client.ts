import { setTimeout as sleep } from "node:timers/promises";
import type { z } from "zod";
import type { Broker, QueuedRun } from "../broker/broker.js";
import { loadProject, type LoadOptions, type Project } from "../config/load.js";
import { enqueueRecorded } from "../consumer/consumer.js";
import { newQueuedRun } from "../core/queued-run.js";
import { reusedRunId } from "../consumer/recorder.js";
import { formatDuration, parseDuration } from "../core/duration.js";
import { ConfigError, RunInterruptedError, StoreError, UsageError, WaitTimeoutError } from "../core/errors.js";
import { printStoreError } from "../persistence/outage.js";
import { isTransient, toStoreError } from "../persistence/store-error.js";
import { openProjectStore } from "../store/project-store.js";
import { openProjectHistory } from "../store/project-history.js";
import { storeReader, type RunReader } from "../store/run-reader.js";
import { withHistory } from "../store/with-history.js";
import type { RunRecord } from "../core/run-record.js";
import type { Store } from "../store/store.js";
import { redactParams, validateParams } from "../task/params.js";
import type { Task } from "../task/task.js";
import { FINAL_STATES, type Duration, type ParamsSchema, type Priority } from "../core/types.js";
import { openBroker } from "./open-broker.js";

/** The store and the SQLite broker of a project, for processes that talk to a daemon. */
export interface Connection {
  project: Project;
  /** The local store; on a fleet backend what it records goes to the fleet's run history too. */
  store: Store;
  broker: Broker;
  /** Where runs are looked up: the fleet's run history on a backend, else the local store. */
  runs: RunReader;
  /** Closes the broker, then the store; never throws (what it could not write is reported on stderr). */
  close(): Promise<void>;
}

/** Prints what closing a connection could not do (one line on stderr, as the store's own reports). */
function report(error: unknown, path: string): void {
  printStoreError(toStoreError(error, path, "closing it"));
}

/**
 * Opens the project's store and the queue `fluid serve` consumes: its SQLite queue, or the fleet
 * backend's BullMQ queue when the config has a `backend` (docs/fleet.md). `close()` never throws.
 */
export async function connect(project: Project): Promise<Connection> {
  const local = await openProjectStore(project.config);
  if (!local || local.path === ":memory:") {
    throw new ConfigError("queueing needs a store file that the daemon shares", {
      hint: "remove `store: false` (or the \":memory:\" path) from the config",
    });
  }
  let broker: Broker | undefined;
  try {
    // With a fleet backend the run goes to the backend's queue, for any daemon of the fleet, and
    // its records to the fleet's run history, where every machine reads them.
    const backend = project.config.backend;
    broker = backend
      ? await openBroker("bullmq", local.path, undefined, { ...backend, maxAttempts: (name) => (project.registry.has(name) ? (project.registry.get(name).retry?.attempts ?? 1) : 1) })
      : await openBroker("sqlite", local.path);
    const history = await openProjectHistory(project.config, { failFast: true });
    const store = history ? withHistory(local, history) : local;
    const opened = broker;
    return {
      project, store, broker, runs: history ?? storeReader(local),
      // Never throws: after a committed enqueue, a failing close must not make the caller
      // believe nothing was queued and queue it again. What it could not write is reported.
      async close() {
        await opened.close().catch((error: unknown) => report(error, local.path));
        await history?.close().catch((error: unknown) => report(error, local.path));
        try {
          local.close();
        } catch (error) {
          report(error, local.path);
        }
      },
    };
  } catch (error) {
    await broker?.close().catch(() => {}); // the error being thrown says what went wrong
    local.close();
    throw error;
  }
}

/** Options of `enqueue`. */
export interface EnqueueOptions {
  /**
   * Run id. An id already queued or recorded is refused (UsageError).
   * @default a new random id
   */
  id?: string;
  /**
   * Queue priority: "high", "medium" or "low".
   * @default the task's `priority`
   */
  priority?: Priority;
  /**
   * Wait before the run may start: ms or text ("30s", "5m").
   * @default 0
   */
  delay?: Duration;
}

/**
 * Validates params exactly as `fluid run` does, then queues a run for the daemon; returns it.
 * The queue row and the run's `queued` record are one transaction of the store file: when
 * this resolves the run is queued and recorded, when it rejects nothing was queued (a client
 * may retry it). Throws a UsageError when `id` is already queued or was used by a recorded run.
 */
export async function enqueue<P extends ParamsSchema>(
  conn: Connection,
  task: Task<P, unknown>,
  params: z.input<P>,
  o: EnqueueOptions = {},
): Promise<QueuedRun> {
  const valid = validateParams(task.name, task.params, params);
  const run = newQueuedRun(task as Task, valid, {
    ...(o.id ? { id: o.id } : {}), ...(o.priority ? { priority: o.priority } : {}),
    delayMs: o.delay === undefined ? 0 : parseDuration(o.delay, "delay"),
  });
  // One message for a reused id, whether `fluid run` or `fluid queue` meets it.
  if (!(await enqueueRecorded(conn.broker, conn.store, task as Task, run))) throw reusedRunId(run.id);
  return run;
}

/** Options of `waitForRun`. */
export interface WaitOptions {
  /**
   * Give up after this long (ms), with a WaitTimeoutError (exit 124); the run goes on.
   * @default undefined (wait forever)
   */
  timeoutMs?: number;
  /**
   * How often to look, in ms.
   * @default 50
   */
  pollMs?: number;
  /** Stops waiting (a RunInterruptedError); the run goes on. */
  signal?: AbortSignal;
}

/** How long `waitForRun` keeps looking while the store fails with an error a retry may cure (a lock, an I/O error), in ms. */
const STORE_PATIENCE_MS = 10_000;

/**
 * Waits until a run has ended for good (its latest attempt is final and no retry or re-queue
 * of it is pending) and returns that attempt. Works from any process sharing the store.
 * Throws a StoreError when the store cannot be read (at once, or after STORE_PATIENCE_MS of
 * failures a retry may cure) or knows no run with this id (neither recorded nor queued);
 * a WaitTimeoutError (exit 124) after `timeoutMs`; a RunInterruptedError when `signal` aborts.
 */
export async function waitForRun(conn: Pick<Connection, "broker"> & ({ runs: RunReader } | { store: Store }), id: string, o: WaitOptions = {}): Promise<RunRecord> {
  const runs = "runs" in conn ? conn.runs : storeReader(conn.store);
  const deadline = o.timeoutMs === undefined ? Infinity : Date.now() + o.timeoutMs;
  let failingSince: number | undefined;
  let latest: RunRecord | undefined;
  for (;;) {
    if (o.signal?.aborted) throw new RunInterruptedError("stopped waiting");
    try {
      latest = await runs.latestAttempt(id);
      const queued = await conn.broker.has(id);
      if (latest === undefined && !queued) {
        throw new StoreError(`no run with id "${id}" in ${runs.where}: it is neither recorded nor queued`, {
          hint: "check the run id (`fluid history` lists runs) and that this process uses the daemon's store",
        });
      }
      if (latest && FINAL_STATES.has(latest.state) && !queued) return latest;
      failingSince = undefined;
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      if (!(error instanceof StoreError) || !isTransient(cause)) throw error;
      failingSince ??= Date.now();
      if (Date.now() - failingSince >= STORE_PATIENCE_MS) {
        throw new StoreError(`stopped waiting for run ${id}: ${error.message}`, { cause: error, ...(error.hint ? { hint: error.hint } : {}) });
      }
    }
    if (Date.now() >= deadline) {
      throw new WaitTimeoutError(id, `run ${id} has not ended after ${formatDuration(o.timeoutMs!)} (state ${latest?.state ?? "unknown"}); it goes on`, {
        hint: "is `fluid serve` running? `fluid show <run-id>` shows where the run is; wait longer with a larger --timeout",
      });
    }
    await sleep(o.pollMs ?? 50, undefined, o.signal ? { signal: o.signal } : undefined).catch(() => {}); // aborted: the loop's check of the signal ends it
  }
}

/** What `cancel` did. */
export type CancelResult =
  | { outcome: "removed"; run: RunRecord }
  | { outcome: "flagged"; run: RunRecord }
  | { outcome: "ended"; run: RunRecord };

/**
 * Cancels a run by id or unique prefix: a queued run is removed (recorded `cancelled`); a
 * running one is flagged, and the daemon aborts its signal within a poll interval.
 */
export async function cancel(conn: Pick<Connection, "project" | "store" | "broker" | "runs">, idOrPrefix: string): Promise<CancelResult> {
  const run = await findRun(conn, idOrPrefix);
  const result = await conn.broker.cancel(run.id);
  if (result === "unknown") return { outcome: "ended", run };
  if (result === "removed") {
    const task = conn.project.registry.has(run.task) ? conn.project.registry.get(run.task) : undefined;
    const now = Date.now();
    const cancelled: RunRecord = {
      ...run, state: "cancelled", endedAt: now,
      params: task ? redactParams(task.params, run.params) : run.params,
      error: { name: "RunCancelledError", code: "FLUID_CANCELLED", message: "cancelled while queued" },
    };
    conn.store.writeAttempt(cancelled);
    conn.store.flush();
    return { outcome: "removed", run: cancelled };
  }
  return { outcome: "flagged", run };
}

/**
 * The latest attempt of a run by id or unique prefix. A full id that the queue holds but the
 * store does not show yet (the daemon writes its records a moment later, or retries a write
 * while another process holds the lock) waits up to a second for the record.
 */
async function findRun(conn: Pick<Connection, "broker" | "runs">, idOrPrefix: string): Promise<RunRecord> {
  for (let waited = 0; ; waited += 50) {
    try {
      return (await conn.runs.getRun(idOrPrefix)).run;
    } catch (error) {
      if (!(error instanceof StoreError) || waited >= 1000 || !(await conn.broker.has(idOrPrefix))) throw error;
    }
    await sleep(50);
  }
}

/** Options of `queueRun` and of a task handle's `queue`: where the project is, and how to queue. */
export interface QueueRunOptions extends LoadOptions, EnqueueOptions {}

/** Options of `queueAndWait`: where the project is, how to queue, how long to wait. */
export interface QueueAndWaitOptions extends QueueRunOptions, Omit<WaitOptions, "signal"> {}

/** The final attempt of a run, with `result` typed from the task's return value (set when `state` is "success"). */
export type FinishedRun<R = unknown> = Omit<RunRecord, "result"> & {
  /** What the task returned, as the store keeps it (JSON). Undefined unless `state` is "success". */
  result?: R;
};

/** The registry's task of that name (or of that handle), with a clear error for a task without a name. */
function projectTask(project: Project, task: Task | string): Task {
  if (typeof task !== "string" && task.name === "") {
    throw new UsageError("this task has no name outside a project load, so the daemon cannot be told which task to run", {
      hint: 'give it a name: task({ name: "say_hi", ... }, fn) or task(async function say_hi(ctx) { ... })',
    });
  }
  return project.registry.get(typeof task === "string" ? task : task.name);
}

/**
 * Finds the project (as `fluid` does), validates params and queues a run for the daemon;
 * resolves with its run id once it is queued and recorded. The task is looked up by name in
 * the project, so a task object and its name behave the same.
 */
export async function queueRun(task: Task | string, params: Record<string, unknown> = {}, o: QueueRunOptions = {}): Promise<string> {
  const project = await loadProject(o);
  const conn = await connect(project);
  try {
    return (await enqueue(conn, projectTask(project, task), params, o)).id;
  } finally {
    await conn.close();
  }
}

/**
 * Queues a run for the daemon and resolves with its final attempt (after retries), from any
 * process that shares the project's store. The daemon (`fluid serve`) must be running.
 * With a task object, params are type-checked and `result` is typed from the task; with a
 * name (known only at run time), params are checked when the run is queued.
 * Rejects with an UnknownTaskError, a ParamsError, a WaitTimeoutError after `timeoutMs`,
 * or a StoreError; a run that fails resolves (see its `state` and `error`).
 */
export async function queueAndWait<P extends ParamsSchema, R>(task: Task<P, R>, params: z.input<P>, o?: QueueAndWaitOptions): Promise<FinishedRun<R>>;
export async function queueAndWait(taskName: string, params?: Record<string, unknown>, o?: QueueAndWaitOptions): Promise<FinishedRun>;
export async function queueAndWait(task: Task | string, params: Record<string, unknown> = {}, o: QueueAndWaitOptions = {}): Promise<FinishedRun> {
  const project = await loadProject(o);
  const conn = await connect(project);
  try {
    const run = await enqueue(conn, projectTask(project, task), params, o);
    return await waitForRun(conn, run.id, o);
  } finally {
    await conn.close();
  }
}
