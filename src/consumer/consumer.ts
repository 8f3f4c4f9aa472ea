import { thisHost } from "../core/host.js";
import type { AckOutcome, Broker, QueuedRun } from "../broker/broker.js";
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
import type { AttemptRecord } from "./run-task.js";
import { callListener } from "../core/call-listener.js";

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
  /**
   * Does this consumer run the task's runs (routing: `fluid serve --tasks/--tags`)? Runs of
   * tasks it does not serve are left to other consumers, as those of a disabled task. Default: all.
   */
  serves?: (task: string) => boolean;
  /** Most runs of a task at once besides its own `maxConcurrency` (e.g. 1 for overlap "queue"). */
  taskLimit?: (task: Task) => number;
  /** Child-process pool for cpu-bound tasks. Default: none, they run on this event loop. */
  pool?: Pool;
  /**
   * Task limits shared with other consumers (a fleet's `maxConcurrency` and overlap, docs/fleet.md).
   * Default: none, limits hold in this consumer only (and nothing is asked per run).
   */
  sharedLimit?: SharedLimit;
}

/**
 * Slots of limited tasks shared by several consumers. A run of a task with a limit (`maxConcurrency`,
 * `taskLimit`) takes one before it starts; a run that gets none goes back to the queue for `retryMs`
 * (onLimit "wait") or ends `rate_limited` ("drop"), and its task is not claimed for `retryMs`.
 */
export interface SharedLimit {
  /** Takes one of the `limit` slots of `task` for `runId`; false when all are held elsewhere. May reject (backend away): the run goes back to the queue. */
  acquire(task: string, runId: string, limit: number): Promise<boolean>;
  /** Gives the slot back when the run ends here (must not throw). */
  release(task: string, runId: string): void;
  /** How long a run that found its task full waits before it is tried again, ms. */
  retryMs: number;
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

/** A running run and what the consumer keeps of it. */
interface Entry extends RunningRun {
  /** Counted in the concurrency limits (`busy`, `perTask`). */
  holdsSlot: boolean;
  /** Its attempt ended: only its ack, retry or re-queue is still being written. */
  ended: boolean;
  /** Its ack, retry or re-queue is written too (`done` resolved). */
  finished: boolean;
  /** The limit of its task shared with other consumers (see SharedLimit), when it has one. */
  sharedLimit?: number;
  /** It holds a shared slot (released with its own slot). */
  sharedHeld?: boolean;
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
  /** The runs claimed here whose ack (or retry) is not written yet, and those whose function still runs after its attempt ended (see RunningRun.settled). */
  running(): RunningRun[];
  /** Counts per task of the runs executing now (those that hold a concurrency slot). */
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
  const owner = options.owner ?? `${thisHost()}:${process.pid}`;
  const pollMs = options.pollMs ?? 25;
  const host = thisHost();
  const running = new Map<string, Entry>();
  /** Runs holding a slot: claimed and not yet ended (see `releaseSlot`). */
  let busy = 0;
  /** The same per task. */
  const perTask = new Map<string, number>();
  const emit = (event: ConsumerEvent): void => callListener(options.onEvent, event);
  const shared = options.sharedLimit;
  /** Tasks found at their shared limit, not claimed before this time (epoch ms). */
  const fullUntil = new Map<string, number>();
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

  // A broker that keeps its queue in the store's file records the attempts itself, in the commit
  // that also writes that turn's acks: one transaction per turn, and a run's outcome and its
  // ack land together.
  const brokerRecords = store !== undefined && broker.recordsRuns && broker.recordAttempt !== undefined;
  const recorder = store ? createRecorder(store, {
    onError: (message, error) => emit({ type: "error", message, error }),
    writeAttempt: brokerRecords ? (record) => broker.recordAttempt!(record) : undefined,
  }) : undefined;
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
      else if (options.serves && !options.serves(task.name)) skip.add(task.name);
      else if (task.onLimit === "wait" && (perTask.get(task.name) ?? 0) >= limitOf(task)) skip.add(task.name);
    }
    if (shared && fullUntil.size > 0) {
      const now = Date.now();
      for (const [name, until] of fullUntil) {
        if (until > now) skip.add(name);
        else fullUntil.delete(name);
      }
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
        const free = concurrency - busy;
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
    if (busy >= concurrency) return schedule(poll);
    let wait = poll;
    try {
      const due = await broker.nextDue();
      // A due run still queued after a pump belongs to a skipped task: poll, don't spin.
      if (due !== undefined && due > Date.now()) wait = Math.min(wait, due - Date.now());
    } catch {} // the broker cannot say (closed, the store unreadable): poll at the usual interval, the claim reports errors
    schedule(busy >= concurrency ? poll : wait);
  };

  const pollCancels = async (): Promise<void> => {
    if (running.size === 0) return;
    const since = Date.now() - lastCancelPoll;
    if (watcher ? !(changed && since >= CANCEL_CHECK_MS) && since < fallbackMs : since < pollMs) return;
    changed = false;
    lastCancelPoll = Date.now();
    for (const id of await broker.cancelRequested(owner)) cancel(id, "cancelled by request");
  };

  /**
   * Starts a claimed run. One async call per run, and no closure, record or event built that
   * nobody takes (no store, no onEvent): at 10,000s of runs a second the consumer's own work
   * per run is what limits it (bench/throughput.ts --consumer).
   */
  const start = (run: QueuedRun): void => {
    const entry: Entry = { run, startedAt: Date.now(), stop: new RunStop(), done: undefined!, holdsSlot: true, ended: false, finished: false };
    if (shared) {
      const limit = registry.has(run.task) ? limitOf(registry.get(run.task)) : Infinity;
      if (limit !== Infinity) entry.sharedLimit = limit;
    }
    running.set(run.id, entry);
    busy++;
    perTask.set(run.task, (perTask.get(run.task) ?? 0) + 1);
    entry.done = execute(entry);
  };

  /**
   * Gives a run's slot back once its attempt ended and its record is written (before its ack
   * or retry commits), or, for a function that ignored its abort, once that function settled
   * (see RunningRun.settled). The pump this wakes comes before the broker's group commit, so
   * its claim commits the acks of the runs that ended in the same transaction.
   */
  const releaseSlot = (entry: Entry): void => {
    if (!entry.holdsSlot) return;
    if (entry.settled) {
      void entry.settled.finally(() => freeSlot(entry));
      return;
    }
    freeSlot(entry);
  };

  const freeSlot = (entry: Entry): void => {
    if (!entry.holdsSlot) return;
    entry.holdsSlot = false;
    busy--;
    perTask.set(entry.run.task, (perTask.get(entry.run.task) ?? 1) - 1);
    if (entry.sharedHeld) {
      entry.sharedHeld = false;
      shared!.release(entry.run.task, entry.run.id);
    }
    if (entry.finished) running.delete(entry.run.id);
    // Many runs end in the same turn of the event loop: one pump claims for them all.
    wakeNow();
  };

  const execute = async (entry: Entry): Promise<void> => {
    try {
      await attempt(entry);
    } catch (error) {
      emit({ type: "error", message: `run ${entry.run.id} crashed the consumer: ${(error as Error).message}`, error });
    }
    entry.ended = true;
    entry.finished = true;
    releaseSlot(entry);
    // Listed until its slot is free too (a function that ignored its abort still holds it).
    if (!entry.holdsSlot) running.delete(entry.run.id);
  };

  const attempt = async (entry: Entry): Promise<void> => {
    const { run } = entry;
    let startedAt = Date.now();
    let task: Task;
    try {
      task = registry.get(run.task);
    } catch (error) {
      // The task was removed from the code: record why and drop the queue entry, never silently.
      return finish(entry, undefined, failed(error), startedAt);
    }
    let overShared = false;
    if (entry.sharedLimit !== undefined) {
      const got = await takeShared(entry, task.name, entry.sharedLimit);
      if (got !== true && (got === "error" || task.onLimit !== "drop")) {
        // Full elsewhere (or the limit cannot be asked): back to the queue, and its task is not claimed for a while.
        entry.ended = true;
        releaseSlot(entry);
        fullUntil.set(task.name, Date.now() + shared!.retryMs);
        await broker.retry(run.id, run.attempt, Date.now() + shared!.retryMs);
        return;
      }
      overShared = got === false;
      startedAt = Date.now();
    }
    if (task.onLimit === "drop" && (overShared || (perTask.get(task.name) ?? 0) > limitOf(task))) {
      if (recorder) {
        const record = attemptRecord(run, task, host, "rate_limited");
        record.startedAt = startedAt;
        record.endedAt = startedAt;
        record.durationMs = 0;
        recorder.onAttempt(record);
      }
      entry.ended = true;
      releaseSlot(entry);
      if (options.onEvent) emit({ type: "end", run, state: "rate_limited", durationMs: 0 });
      await broker.ack(run.id, RATE_LIMITED);
      return;
    }
    let params: Record<string, unknown>;
    try {
      params = validateParams(task.name, task.params, run.params);
    } catch (error) {
      // Params that no longer fit the schema (the task changed since it was queued): never retried.
      return finish(entry, task, failed(error), startedAt);
    }
    if (options.onEvent) emit({ type: "start", run });
    if (recorder) {
      const record = attemptRecord(run, task, host, "running");
      record.startedAt = startedAt;
      recorder.onAttempt(record);
    }
    const outcome = await executeAttempt(
      { task, id: run.id, params, attempt: run.attempt, deps: options.deps, fromRunId: run.fromRunId, rootRunId: run.rootRunId, log, queue },
      { timeoutMs: task.timeoutMs, signal: entry.stop, pool: options.pool },
    );
    if (outcome.settled) entry.settled = outcome.settled;
    await finish(entry, task, outcome, startedAt);
  };

  /** Takes a shared slot for a run (see SharedLimit): true, false (full elsewhere) or "error" (reported). */
  const takeShared = async (entry: Entry, task: string, limit: number): Promise<boolean | "error"> => {
    try {
      const got = await shared!.acquire(task, entry.run.id, limit);
      // Its own slot may be gone already (cancelled meanwhile): then give the shared one back at once.
      if (got && !entry.holdsSlot) shared!.release(task, entry.run.id);
      else if (got) entry.sharedHeld = true;
      return got;
    } catch (error) {
      emit({ type: "error", message: `taking a slot of ${task} (its limit is shared by the fleet) failed: ${(error as Error).message}`, error });
      return "error";
    }
  };

  /** Records how an attempt ended, then acks it, retries it, or (on shutdown) re-queues it. */
  const finish = async (entry: Entry, task: Task | undefined, outcome: PoolOutcome, startedAt: number): Promise<void> => {
    const { run } = entry;
    const endedAt = Date.now();
    if (recorder) {
      const record = attemptRecord(run, task, host, outcome.state);
      record.startedAt = startedAt;
      record.endedAt = endedAt;
      record.durationMs = endedAt - startedAt;
      addOutcome(record, outcome);
      recorder.onAttempt(record);
    }
    entry.ended = true;
    releaseSlot(entry);
    if (outcome.state === "interrupted") {
      // Shutdown: the same attempt runs again on the next start.
      log({ ts: endedAt, level: "warn", message: "interrupted by shutdown; put back in the queue", task: run.task, runId: run.id, attempt: run.attempt });
      await broker.retry(run.id, run.attempt, endedAt);
      if (options.onEvent) emit({ type: "end", run, state: outcome.state, durationMs: endedAt - startedAt });
      return;
    }
    const maxAttempts = task?.retry?.attempts ?? 1;
    if (task && shouldRetry(task, outcome, run.attempt, maxAttempts)) {
      const wait = retryDelay(task.retry!, run.attempt + 1);
      await broker.retry(run.id, run.attempt + 1, endedAt + wait);
      if (recorder) {
        const record = attemptRecord(run, task, host, "queued");
        record.attempt = run.attempt + 1;
        record.trigger = "retry";
        record.queuedAt = endedAt;
        recorder.onAttempt(record);
      }
      if (options.onEvent) emit(endEvent(run, outcome, endedAt - startedAt, wait));
      return;
    }
    await broker.ack(run.id, outcome); // a PoolOutcome is an AckOutcome: no object per run
    if (options.onEvent) emit(endEvent(run, outcome, endedAt - startedAt, undefined));
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
          if (entry.ended) continue; // its ack or retry is being written
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

/** The record of an attempt of a claimed run in `state`; the caller adds the times and the outcome. */
function attemptRecord(run: QueuedRun, task: Task | undefined, host: string, state: RunState): AttemptRecord {
  const record: AttemptRecord = {
    id: run.id, attempt: run.attempt, maxAttempts: task?.retry?.attempts ?? 1, task: run.task, state,
    trigger: run.attempt > 1 ? "retry" : run.trigger,
    params: task ? redactParams(task.params, run.params) : run.params, queuedAt: run.queuedAt, host, pid: process.pid,
  };
  if (run.fromRunId) record.fromRunId = run.fromRunId;
  if (run.rootRunId) record.rootRunId = run.rootRunId;
  return record;
}

/** How a run dropped at its task's limit ends, for brokers that keep outcomes (BullMQ: failed). */
const RATE_LIMITED: AckOutcome = { state: "rate_limited", error: { name: "RateLimited", message: "dropped: the task was at its maxConcurrency (onLimit \"drop\")" } };

/** Adds the fields that come from how an attempt ended (as `outcomeFields`, without a spread per run). */
function addOutcome(record: AttemptRecord, outcome: PoolOutcome): void {
  if (outcome.state === "success") record.result = outcome.result;
  if (outcome.error) record.error = outcome.error;
  if (outcome.exitCode !== undefined) record.exitCode = outcome.exitCode;
}

/** The `end` event of an attempt that ran. */
function endEvent(run: QueuedRun, outcome: PoolOutcome, durationMs: number, retryInMs: number | undefined): ConsumerEvent {
  const event: Extract<ConsumerEvent, { type: "end" }> = { type: "end", run, state: outcome.state, durationMs };
  if (outcome.error) event.error = outcome.error;
  if (retryInMs !== undefined) event.retryInMs = retryInMs;
  return event;
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
    params: redactParams(task.params, run.params), queuedAt: run.queuedAt, host: thisHost(), pid: process.pid,
    ...(run.fromRunId ? { fromRunId: run.fromRunId } : {}),
    ...(run.rootRunId ? { rootRunId: run.rootRunId } : {}),
  };
  const added = await broker.enqueue(run, store ? record : undefined);
  if (added && store && !broker.recordsRuns) store.writeAttempt(record);
  return added;
}
