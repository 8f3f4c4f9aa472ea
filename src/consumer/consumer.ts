import { hostname } from "node:os";
import type { Broker, QueuedRun } from "../broker/broker.js";
import { watchStore, type StoreWatch } from "../broker/wake.js";
import type { Registry } from "../config/registry.js";
import { parseDuration } from "../core/duration.js";
import { RunCancelledError, RunInterruptedError, toErrorInfo, type ErrorInfo } from "../core/errors.js";
import { executeAttempt } from "../executor/execute-attempt.js";
import { RunStop } from "../executor/inline.js";
import type { Pool, PoolOutcome } from "../executor/pool.js";
import type { RunRecord } from "../core/run-record.js";
import type { Store } from "../store/store.js";
import type { LogSink, QueueFn } from "../task/context.js";
import { redactParams, validateParams } from "../task/params.js";
import type { Task } from "../task/task.js";
import { retryDelay, shouldRetry } from "../core/retry.js";
import type { AttemptOutcome, RunState } from "../core/types.js";
import { createRecorder } from "./recorder.js";
import { newQueuedRun } from "../core/queued-run.js";
import { outcomeFields, type AttemptRecord } from "./run-task.js";

/** Something a consumer did, for the daemon's log. */
export type ConsumerEvent =
  | { type: "start"; run: QueuedRun }
  | { type: "end"; run: QueuedRun; state: RunState; durationMs: number; error?: ErrorInfo; retryInMs?: number }
  | { type: "error"; message: string; error?: unknown };

/** Options of `createConsumer`. */
export interface ConsumerOptions {
  registry: Registry;
  broker: Broker;
  /** Where attempts and log lines are recorded; undefined records nothing. */
  store?: Store | undefined;
  /** Most runs at once. Default 10. */
  concurrency?: number;
  /** Identity recorded on claimed runs. Default "<host>:<pid>". */
  owner?: string;
  /** `ctx.deps` of every run. */
  deps?: unknown;
  /** Receives every log line of every run (besides the store). */
  log?: LogSink;
  onEvent?: (event: ConsumerEvent) => void;
  /**
   * How often to look for runs queued by other processes and for cancellations when nothing
   * tells the consumer of them (no `watch`, or the watch broke), in ms. Default 25.
   */
  pollMs?: number;
  /**
   * The SQLite store file behind `broker`: the consumer watches it and looks for runs and
   * cancellations when another process commits (see `watchStore`), so an idle consumer sleeps
   * instead of polling; it then polls only as a fallback, FALLBACK_POLL_MS after a change and
   * twice as long after each look that follows, up to MAX_FALLBACK_POLL_MS. Default: none
   * (poll every `pollMs`).
   */
  watch?: string;
  /** Is the task enabled? Runs of disabled tasks wait in the queue. Default: all enabled. */
  isEnabled?: (task: string) => boolean;
  /** Most runs of a task at once besides its own `maxConcurrency` (e.g. 1 for overlap "queue"). */
  taskLimit?: (task: Task) => number;
  /** Child-process pool for cpu-bound tasks. Default: none, they run on this event loop. */
  pool?: Pool;
}

/** A run being executed. */
export interface RunningRun {
  run: QueuedRun;
  startedAt: number;
  /** Stops the run (cancel, shutdown); an AbortSignal is made only if the run needs one. */
  stop: RunStop;
  done: Promise<void>;
  /** Set when the attempt ended while its function still runs (it ignored `ctx.signal`): the slot is held until this settles. */
  settled?: Promise<void>;
}

/** Claims runs from a broker and executes them under concurrency limits, recording every attempt. */
export interface Consumer {
  /** Starts claiming. */
  start(): void;
  /**
   * Stops claiming, waits up to `graceMs` for running runs, then interrupts the rest: they are
   * recorded `interrupted` and put back in the queue to run on the next start.
   */
  drain(graceMs: number): Promise<{ finished: number; interrupted: number }>;
  /** Cancels a running run of this consumer; false when it is not running here. */
  cancel(id: string, reason?: string): boolean;
  /** The runs executing now. */
  running(): RunningRun[];
  /** Counts per task of the runs executing now. */
  runningCount(task: string): number;
  /** Replaces the registry (config reload); running runs keep their task. */
  setRegistry(registry: Registry): void;
}

/** With a watched store: the first fallback poll after a change, ms (see `ConsumerOptions.watch`). */
export const FALLBACK_POLL_MS = 1000;
/** With a watched store: the longest fallback poll, ms. */
export const MAX_FALLBACK_POLL_MS = 60_000;
/** With a watched store: cancellation requests are read at most this often while changes come in, ms. */
const CANCEL_CHECK_MS = 2;

/** Creates a consumer; see `Consumer`. */
export function createConsumer(options: ConsumerOptions): Consumer {
  const { broker, store } = options;
  let registry = options.registry;
  const concurrency = Math.max(1, options.concurrency ?? 10);
  const owner = options.owner ?? `${hostname()}:${process.pid}`;
  const pollMs = options.pollMs ?? 25;
  const host = hostname();
  const running = new Map<string, RunningRun>();
  const perTask = new Map<string, number>();
  const emit = (event: ConsumerEvent): void => {
    try {
      options.onEvent?.(event);
    } catch {}
  };
  let stopped = true;
  let pumping = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let lastCancelPoll = 0;
  let unsubscribe: (() => void) | undefined;
  let watcher: StoreWatch | undefined;
  // Set by a change of the watched store: cancellation requests may have come in.
  let changed = false;
  // The next fallback poll while the store is watched (see ConsumerOptions.watch).
  let fallbackMs = FALLBACK_POLL_MS;

  const recorder = store ? createRecorder(store, { onError: (message, error) => emit({ type: "error", message, error }) }) : undefined;
  /** Records an attempt; the record is only built when there is a store to take it. */
  const record = (build: () => AttemptRecord): void => {
    if (recorder) recorder.onAttempt(build());
  };
  const log: LogSink = (line) => {
    recorder?.log(line);
    options.log?.(line);
  };

  /** `ctx.queue` of a run: validate now, enqueue durably, return the new id. */
  const queue: QueueFn = async (target, params, opts) => {
    const task = registry.get(typeof target === "string" ? target : target.name);
    const valid = validateParams(task.name, task.params, params ?? {});
    const run = newQueuedRun(task, valid, {
      delayMs: opts.delay === undefined ? 0 : parseDuration(opts.delay, "delay"),
      ...(opts.priority ? { priority: opts.priority } : {}), fromRunId: opts.fromRunId, rootRunId: opts.rootRunId,
    });
    await enqueueRecorded(broker, store, task, run);
    return run.id;
  };

  const limitOf = (task: Task): number => {
    const own = task.maxConcurrency > 0 ? task.maxConcurrency : Infinity;
    return Math.min(own, options.taskLimit?.(task) ?? Infinity);
  };

  /** Tasks whose runs must stay queued for now: disabled, or at their limit (unless they drop). */
  const skipTasks = (): Set<string> => {
    const skip = new Set<string>();
    for (const task of registry.list()) {
      if (options.isEnabled && !options.isEnabled(task.name)) skip.add(task.name);
      else if (task.onLimit === "wait" && (perTask.get(task.name) ?? 0) >= limitOf(task)) skip.add(task.name);
    }
    return skip;
  };

  let timerDue = 0;
  /**
   * Pumps again in `ms` at the latest. A timer already set to fire sooner is kept: a pump per
   * run end would otherwise re-arm a timer per run, and an early pump only polls once more.
   */
  const schedule = (ms: number): void => {
    if (stopped) return;
    const due = Date.now() + Math.max(0, ms);
    if (timer !== undefined && timerDue <= due) return;
    clearTimeout(timer);
    timerDue = due;
    timer = setTimeout(() => {
      timer = undefined;
      void pump();
    }, Math.max(0, ms));
  };

  let immediate: NodeJS.Immediate | undefined;
  /** Pumps on the next turn of the event loop (a timer of 0 ms waits at least 1 ms). */
  const wakeNow = (): void => {
    if (stopped || immediate !== undefined) return;
    immediate = setImmediate(() => {
      immediate = undefined;
      void pump();
    });
  };

  let pumped: Promise<void> = Promise.resolve();
  const pump = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (pumping) {
      again = true;
      return pumped;
    }
    pumped = pumpOnce();
    return pumped;
  };
  const pumpOnce = async (): Promise<void> => {
    pumping = true;
    try {
      do {
        again = false;
        await pollCancels();
        const free = concurrency - running.size;
        if (free <= 0) break;
        const claimed = await broker.claim({ max: free, owner, skipTasks: skipTasks() });
        for (const run of claimed) {
          // One batch may hold more runs of a task than its limit allows: give the extra back.
          // So does a claim that was under way when drain() began.
          const task = registry.has(run.task) ? registry.get(run.task) : undefined;
          if (stopped || (task && task.onLimit === "wait" && (perTask.get(task.name) ?? 0) >= limitOf(task))) {
            await broker.retry(run.id, run.attempt, run.runAfter);
            continue;
          }
          start(run);
        }
        if (claimed.length === free) again = true;
      } while (again && !stopped);
    } catch (error) {
      emit({ type: "error", message: `claiming runs failed: ${(error as Error).message}`, error });
    } finally {
      pumping = false;
    }
    if (stopped) return;
    // Sleep until the next delayed run is due, at most one poll interval (other processes
    // enqueue too; a watched store tells us, so its poll is only a slow, growing fallback).
    const poll = watcher ? fallbackMs : pollMs;
    if (watcher) fallbackMs = Math.min(fallbackMs * 2, MAX_FALLBACK_POLL_MS);
    // Full: the next run to end pumps again, so when the next delayed run is due does not matter yet.
    if (running.size >= concurrency) return schedule(poll);
    let wait = poll;
    try {
      const due = await broker.nextDue();
      // A due run still queued after a pump belongs to a skipped task: poll, don't spin.
      if (due !== undefined && due > Date.now()) wait = Math.min(wait, due - Date.now());
    } catch {}
    schedule(running.size >= concurrency ? poll : wait);
  };

  const pollCancels = async (): Promise<void> => {
    if (running.size === 0) return;
    const since = Date.now() - lastCancelPoll;
    if (watcher ? !(changed && since >= CANCEL_CHECK_MS) && since < fallbackMs : since < pollMs) return;
    changed = false;
    lastCancelPoll = Date.now();
    for (const id of await broker.cancelRequested(owner)) cancel(id, "cancelled by request");
  };

  const start = (run: QueuedRun): void => {
    const entry: RunningRun = { run, startedAt: Date.now(), stop: new RunStop(), done: Promise.resolve() };
    running.set(run.id, entry);
    perTask.set(run.task, (perTask.get(run.task) ?? 0) + 1);
    const release = (): void => {
      running.delete(run.id);
      perTask.set(run.task, (perTask.get(run.task) ?? 1) - 1);
      // Many runs end in the same turn of the event loop: one pump claims for them all.
      wakeNow();
    };
    entry.done = execute(run, entry)
      .catch((error: unknown) => emit({ type: "error", message: `run ${run.id} crashed the consumer: ${(error as Error).message}`, error }));
    // The run's slot is free once its function really settled, not only its record (see RunningRun.settled).
    void entry.done.then(() => {
      if (entry.settled) void entry.settled.finally(release);
      else release();
    });
  };

  const execute = async (run: QueuedRun, entry: RunningRun): Promise<void> => {
    const startedAt = Date.now();
    let task: Task;
    try {
      task = registry.get(run.task);
    } catch (error) {
      // The task was removed from the code: record why and drop the queue entry, never silently.
      return finish(run, undefined, failed(error), startedAt);
    }
    if (task.onLimit === "drop" && (perTask.get(task.name) ?? 0) > limitOf(task)) {
      record(() => ({ ...baseRecord(run, task, host), state: "rate_limited", startedAt, endedAt: startedAt, durationMs: 0 }));
      emit({ type: "end", run, state: "rate_limited", durationMs: 0 });
      await broker.ack(run.id);
      return;
    }
    let params: Record<string, unknown>;
    try {
      params = validateParams(task.name, task.params, run.params);
    } catch (error) {
      // Params that no longer fit the schema (the task changed since it was queued): never retried.
      return finish(run, task, failed(error), startedAt);
    }
    emit({ type: "start", run });
    record(() => ({ ...baseRecord(run, task, host), state: "running", startedAt }));
    const outcome = await executeAttempt(
      { task, id: run.id, params, attempt: run.attempt, deps: options.deps, fromRunId: run.fromRunId, rootRunId: run.rootRunId, log, queue },
      { timeoutMs: task.timeoutMs, signal: entry.stop, pool: options.pool },
    );
    if (outcome.settled) entry.settled = outcome.settled;
    await finish(run, task, outcome, startedAt);
  };

  /** Records how an attempt ended, then acks it, retries it, or (on shutdown) re-queues it. */
  const finish = async (run: QueuedRun, task: Task | undefined, outcome: PoolOutcome, startedAt: number): Promise<void> => {
    const endedAt = Date.now();
    record(() => ({ ...baseRecord(run, task, host), state: outcome.state, startedAt, endedAt, durationMs: endedAt - startedAt, ...outcomeFields(outcome) }));
    if (outcome.state === "interrupted") {
      // Shutdown: the same attempt runs again on the next start.
      log({ ts: endedAt, level: "warn", message: "interrupted by shutdown; put back in the queue", task: run.task, runId: run.id, attempt: run.attempt });
      await broker.retry(run.id, run.attempt, endedAt);
      emit({ type: "end", run, state: outcome.state, durationMs: endedAt - startedAt });
      return;
    }
    const maxAttempts = task?.retry?.attempts ?? 1;
    if (task && shouldRetry(task, outcome, run.attempt, maxAttempts)) {
      const wait = retryDelay(task.retry!, run.attempt + 1);
      await broker.retry(run.id, run.attempt + 1, endedAt + wait);
      record(() => ({ ...baseRecord(run, task, host), attempt: run.attempt + 1, trigger: "retry", state: "queued", queuedAt: endedAt }));
      emit({ type: "end", run, state: outcome.state, durationMs: endedAt - startedAt, ...(outcome.error ? { error: outcome.error } : {}), retryInMs: wait });
      return;
    }
    await broker.ack(run.id, { state: outcome.state, ...outcomeFields(outcome) });
    emit({ type: "end", run, state: outcome.state, durationMs: endedAt - startedAt, ...(outcome.error ? { error: outcome.error } : {}) });
  };

  const cancel = (id: string, reason = "cancelled"): boolean => {
    const entry = running.get(id);
    if (!entry) return false;
    entry.stop.abort(new RunCancelledError(reason));
    return true;
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      timer = undefined;
      unsubscribe = broker.onEnqueue(wakeNow);
      if (options.watch !== undefined) {
        watcher = watchStore(options.watch, (own) => {
          changed = true;
          // The daemon's own heartbeat (see watchStore): no settle call to cover, keep the slow poll slow.
          if (!own) fallbackMs = FALLBACK_POLL_MS;
          wakeNow();
        }, {
          onError: (error) => {
            watcher = undefined;
            emit({ type: "error", message: `watching the store for changes failed (${error.message}); polling every ${pollMs} ms instead`, error });
            schedule(0);
          },
        });
        if (watcher === undefined && options.watch !== ":memory:") {
          emit({ type: "error", message: `cannot watch the store ${options.watch} for changes; polling every ${pollMs} ms instead` });
        }
      }
      void pump();
    },
    async drain(graceMs) {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      clearImmediate(immediate);
      immediate = undefined;
      unsubscribe?.();
      watcher?.close();
      watcher = undefined;
      await pumped; // a claim under way gives its runs back (see pumpOnce)
      const inFlight = [...running.values()];
      let graceTimer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        Promise.all(inFlight.map((r) => r.done)).then(() => false),
        new Promise<boolean>((resolve) => (graceTimer = setTimeout(() => resolve(true), graceMs))),
      ]);
      clearTimeout(graceTimer);
      let interrupted = 0;
      if (timedOut) {
        for (const entry of running.values()) {
          interrupted++;
          entry.stop.abort(new RunInterruptedError("interrupted: the daemon is shutting down"));
        }
        await Promise.all([...running.values()].map((r) => r.done));
      }
      return { finished: inFlight.length - interrupted, interrupted };
    },
    cancel,
    running: () => [...running.values()],
    runningCount: (task) => perTask.get(task) ?? 0,
    setRegistry(next) {
      registry = next;
    },
  };
}

/** The fields every record of a claimed run shares. */
function baseRecord(run: QueuedRun, task: Task | undefined, host: string): Omit<AttemptRecord, "state"> {
  return {
    id: run.id, attempt: run.attempt, maxAttempts: task?.retry?.attempts ?? 1, task: run.task,
    trigger: run.attempt > 1 ? "retry" : run.trigger,
    params: task ? redactParams(task.params, run.params) : run.params, queuedAt: run.queuedAt, host, pid: process.pid,
    ...(run.fromRunId ? { fromRunId: run.fromRunId } : {}),
    ...(run.rootRunId ? { rootRunId: run.rootRunId } : {}),
  };
}

/** The outcome of a run that could not start (unknown task, params that no longer fit). */
function failed(error: unknown): AttemptOutcome {
  return { state: "failure", error: toErrorInfo(error), thrown: error };
}

/**
 * Enqueues a run and records it as `queued`, so `fluid history` shows it before it starts.
 * A broker that `recordsRuns` (SQLite) writes the record in the queue row's transaction;
 * otherwise it goes to the store after the enqueue. Resolves false, recording nothing, when
 * the broker refused the id (already queued, or already used).
 */
export async function enqueueRecorded(broker: Broker, store: Store | undefined, task: Task, run: QueuedRun): Promise<boolean> {
  const record: RunRecord = {
    id: run.id, attempt: run.attempt, maxAttempts: task.retry?.attempts ?? 1, task: task.name, state: "queued", trigger: run.trigger,
    params: redactParams(task.params, run.params), queuedAt: run.queuedAt, host: hostname(), pid: process.pid,
    ...(run.fromRunId ? { fromRunId: run.fromRunId } : {}),
    ...(run.rootRunId ? { rootRunId: run.rootRunId } : {}),
  };
  const added = await broker.enqueue(run, store ? record : undefined);
  if (added && store && !broker.recordsRuns) store.writeAttempt(record);
  return added;
}
