import { setTimeout as sleep } from "node:timers/promises";
import type { Broker, QueuedRun } from "../broker/broker.js";
import { loadProject, type LoadOptions, type Project } from "../config/load.js";
import { enqueueRecorded, newQueuedRun, queuedRecord } from "../consumer/consumer.js";
import { reusedRunId } from "../consumer/recorder.js";
import { parseDuration } from "../duration.js";
import { ConfigError, RunInterruptedError, StoreError, UsageError } from "../errors.js";
import { openProjectStore } from "../store/project-store.js";
import type { RunRecord } from "../store/run-record.js";
import type { Store } from "../store/store.js";
import { redactParams, validateParams } from "../task/params.js";
import type { Task } from "../task/task.js";
import { FINAL_STATES, type Duration, type Priority } from "../types.js";
import { openBroker } from "./open-broker.js";

/** The store and the SQLite broker of a project, for processes that talk to a daemon. */
export interface Connection {
  project: Project;
  store: Store;
  broker: Broker;
  close(): Promise<void>;
}

/** Opens the project's store and its SQLite queue (the one `fluid serve` consumes). */
export async function connect(project: Project): Promise<Connection> {
  const store = await openProjectStore(project.config);
  if (!store || store.path === ":memory:") {
    throw new ConfigError("queueing needs a store file that the daemon shares", {
      hint: "remove `store: false` (or the \":memory:\" path) from the config",
    });
  }
  try {
    const broker = await openBroker("sqlite", store.path);
    return {
      project, store, broker,
      async close() {
        await broker.close();
        store.close();
      },
    };
  } catch (error) {
    store.close();
    throw error;
  }
}

/** Options of `enqueue`. */
export interface EnqueueOptions {
  id?: string;
  priority?: Priority;
  /** Wait before the run may start. Default 0. */
  delay?: Duration;
}

/** Validates params exactly as `fluid run` does, then queues a run for the daemon; returns it. */
export async function enqueue(conn: Connection, task: Task, rawParams: unknown, o: EnqueueOptions = {}): Promise<QueuedRun> {
  const params = validateParams(task.name, task.params, rawParams);
  const run = newQueuedRun(task, params, {
    ...(o.id ? { id: o.id } : {}), ...(o.priority ? { priority: o.priority } : {}),
    delayMs: o.delay === undefined ? 0 : parseDuration(o.delay, "delay"),
  });
  if (o.id && (await conn.broker.has(o.id))) throw new UsageError(`run id "${o.id}" is already queued`, { hint: "choose another --run-id" });
  // A given id takes its record atomically first: a reused id must not overwrite an earlier run.
  if (o.id && !conn.store.insertAttempt(queuedRecord(task, run))) throw reusedRunId(o.id);
  await enqueueRecorded(conn.broker, conn.store, task, run);
  conn.store.flush();
  return run;
}

/** Options of `waitForRun`. */
export interface WaitOptions {
  /** Give up after this long (ms). Default: wait forever. */
  timeoutMs?: number;
  /** How often to look, in ms. Default 50. */
  pollMs?: number;
  signal?: AbortSignal;
}

/**
 * Waits until a run has ended for good (its latest attempt is final and no retry or re-queue
 * of it is pending) and returns that attempt. Works from any process sharing the store.
 */
export async function waitForRun(conn: Pick<Connection, "store" | "broker">, id: string, o: WaitOptions = {}): Promise<RunRecord> {
  const deadline = o.timeoutMs === undefined ? Infinity : Date.now() + o.timeoutMs;
  for (;;) {
    if (o.signal?.aborted) throw new RunInterruptedError("stopped waiting");
    let latest: RunRecord | undefined;
    try {
      latest = conn.store.getRun(id).run;
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
    }
    if (latest && FINAL_STATES.has(latest.state) && !(await conn.broker.has(latest.id))) return latest;
    if (Date.now() >= deadline) {
      throw new UsageError(`run ${id} has not ended after ${o.timeoutMs}ms (state ${latest?.state ?? "unknown"})`, {
        hint: "is `fluid serve` running? `fluid show <run-id>` shows where it is",
      });
    }
    await sleep(o.pollMs ?? 50, undefined, o.signal ? { signal: o.signal } : undefined).catch(() => {});
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
export async function cancel(conn: Connection, idOrPrefix: string): Promise<CancelResult> {
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
async function findRun(conn: Connection, idOrPrefix: string): Promise<RunRecord> {
  for (let waited = 0; ; waited += 50) {
    try {
      return conn.store.getRun(idOrPrefix).run;
    } catch (error) {
      if (!(error instanceof StoreError) || waited >= 1000 || !(await conn.broker.has(idOrPrefix))) throw error;
    }
    await sleep(50);
  }
}

/** Options of `queueAndWait`. */
export interface QueueAndWaitOptions extends LoadOptions, EnqueueOptions, Omit<WaitOptions, "signal"> {}

/**
 * Queues a run for the daemon and resolves with its final attempt (after retries), from any
 * process that shares the project's store. The daemon (`fluid serve`) must be running.
 */
export async function queueAndWait(taskName: string, params: Record<string, unknown> = {}, o: QueueAndWaitOptions = {}): Promise<RunRecord> {
  const project = await loadProject(o);
  const conn = await connect(project);
  try {
    const run = await enqueue(conn, project.registry.get(taskName), params, o);
    return await waitForRun(conn, run.id, o);
  } finally {
    await conn.close();
  }
}
