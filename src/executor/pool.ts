import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { ConfigError, ParamsError, RunInterruptedError, TaskTimeoutError } from "../core/errors.js";
import type { QueueFn } from "../task/context.js";
import type { LogLevel } from "../core/types.js";
import { defaultChildEntry } from "./child-entry.js";
import { encodeValue } from "./codec.js";
import { crashed, failure, fromDone, outsideReason, stopped, type PoolOutcome } from "./pool-outcome.js";
import { delay } from "./timers.js";
import type { OutsideStop } from "./run-stop.js";
import { Worker, type RunEnd, type RunHooks, type WorkerSpec } from "./worker.js";
import { deadlines, type Deadline, type Expiring } from "./deadlines.js";
import {
  afterRun, crashedDuring, dispatch, placeNow, reap, reload as reloadDecisions, replacement, steal, whenReady,
  type Decision, type PoolConfig, type PoolView, type WaitingRun,
} from "./dispatch.js";
import { inPool, newWorkerState, transition, type WorkerState } from "./worker-state.js";
import type { WorkerExit } from "./worker-exit-error.js";
import { WorkerStartError } from "./worker-start-error.js";
import { importModule } from "../core/dynamic-import.js";
import { callListener } from "../core/call-listener.js";

/** Options of `createPool`. */
export interface PoolOptions {
  /** Config file each worker loads (as `loadProject({ config })`); never read from FLUID_CONFIG there. */
  configFile: string;
  /** Working directory of the workers (relative paths in tasks resolve from it). */
  cwd: string;
  /** Most worker processes at once. Default: `os.availableParallelism() - 1`, at least 1. */
  size?: number;
  /**
   * Replace a worker after this many runs, so a slow leak stays bounded. Default 100_000: a
   * replacement costs a process start (~250 ms of CPU on a small machine), which at 10,000
   * short runs a second every 10,000 runs would make a quarter of a core;
   * `maxWorkerMemoryMb` catches the leaks that matter sooner. From 100 up, the successor
   * starts at 90% of the runs, beside the worker, so no run waits for it.
   */
  maxRunsPerWorker?: number;
  /** Replace a worker whose resident memory after a run is above this, in MB. Default 512. */
  maxWorkerMemoryMb?: number;
  /** Stop a worker idle for this long, in ms; 0 = never. Default 60_000. */
  idleTimeoutMs?: number;
  /**
   * After an abort (timeout, cancel, shutdown): the process group gets SIGTERM, then SIGKILL
   * this many ms later if anything in it is still alive. Default 5000.
   */
  killGraceMs?: number;
  /**
   * After an abort, how long the task may react to `ctx.signal` before its process group gets
   * SIGTERM, in ms (at most `killGraceMs`). Default 1000.
   */
  abortGraceMs?: number;
  /**
   * Most time a worker may take to start and load the project (config, task modules, deps),
   * in ms. A run waiting for it then fails. Default 60_000.
   */
  startTimeoutMs?: number;
  /**
   * The worker entry. Default: `<package root>/dist/executor/child.js`, the package root being
   * the directory of the package.json named "fluid-tasks" above this module.
   */
  childEntry?: string;
  /**
   * Runs a busy worker may hold besides the one it executes: they wait in the child, which
   * starts the next one as soon as the current one ends, without a round trip to this process
   * (a short run costs about one round trip, so this is most of the throughput of short runs).
   * Only used when every worker is busy and the pool is full; a worker that becomes idle takes
   * over a run still waiting in another. 0 = one run per worker at a time. Default 1.
   */
  prefetch?: number;
  /** Worker lifecycle events (spawned, exited, recycled, reaped, crashed, killed), for logs and metrics. */
  onEvent?: (event: PoolEvent) => void;
}

/** Something that happened to a worker process. */
export type PoolEvent =
  | { type: "spawned"; pid: number | undefined; key: string; isolate: boolean }
  | { type: "exited"; pid: number | undefined; code: number | undefined; signal: string | undefined; expected: boolean }
  | { type: "recycled"; pid: number | undefined; reason: "runs" | "memory" | "reload"; runs: number; rssMb: number }
  | { type: "reaped"; pid: number | undefined; idleMs: number }
  | { type: "crashed"; pid: number | undefined; code: number | undefined; signal: string | undefined; during: "start" | "run" | "idle" }
  | { type: "killed"; pid: number | undefined; reason: string };

/** One attempt of a cpu-bound run, as the pool needs it. */
export interface PoolRun {
  task: string;
  id: string;
  /**
   * Validated params. They travel over IPC (JSON that keeps Date, BigInt, Map, Set, Buffer:
   * see codec.ts), never on argv or in the environment.
   */
  params: Record<string, unknown>;
  attempt: number;
  fromRunId?: string | undefined;
  rootRunId?: string | undefined;
  /** Time limit of the attempt in ms, from the moment its worker process starts it; 0 = none. */
  timeoutMs: number;
  /** Deps are built in the worker from the config. */
  deps?: never;
  /** Extra environment of the worker process (the task's `env`). Default {}. */
  env?: Record<string, string> | undefined;
  /** V8 heap limit of the worker (`--max-old-space-size`), in MB. Default: Node's. */
  maxMemoryMb?: number | undefined;
  /** "run": a fresh process for this run alone; "worker" (default): a warm, reused one. */
  isolate?: "run" | "worker" | undefined;
}

/** The run-side callbacks of `Pool.execute`. */
export interface PoolHooks {
  /** Outside stop (cancel, shutdown): the run ends at once, its process is killed. An AbortSignal, or the consumer's RunStop. */
  signal?: OutsideStop | undefined;
  /** Every line of the run: `ctx.log` lines and the child's stdout/stderr lines. */
  log?: ((line: { ts: number; level: LogLevel | "stdout" | "stderr"; message: string }) => void) | undefined;
  /** Handles `ctx.queue` in the child; without it `ctx.queue` rejects. */
  queue?: QueueFn | undefined;
}

export type { PoolOutcome } from "./pool-outcome.js";

/** Counters of a pool. */
export interface PoolStats {
  /** Live worker processes (starting, idle or busy). */
  workers: number;
  busy: number;
  idle: number;
  starting: number;
  spawned: number;
  recycled: number;
  reaped: number;
  crashed: number;
  killed: number;
  /** Runs waiting for a worker. */
  queued: number;
  /** Runs sent ahead to a busy worker that has not started them yet (see `prefetch`). */
  prefetched: number;
}

/** Child processes that execute cpu-bound runs; see `createPool`. */
export interface Pool {
  /** Executes one attempt in a worker. Never throws: every failure is in the outcome. */
  execute(run: PoolRun, hooks?: PoolHooks): Promise<PoolOutcome>;
  stats(): PoolStats;
  /** Workers finish their current run and are replaced: they loaded an older version of the project. */
  reload(): void;
  /**
   * Stops the pool: waiting runs end `interrupted`, running ones get up to `graceMs` (default
   * `killGraceMs`), then are interrupted and killed. Resolves when no worker process is left.
   */
  close(graceMs?: number): Promise<void>;
}

interface Waiter extends WaitingRun {
  spec: WorkerSpec;
  /** The starting worker this run waits for (started for it, or found starting). */
  spawned: WorkerState | undefined;
  settle: (result: { worker: WorkerState } | { outcome: PoolOutcome }) => void;
}

interface ActiveRun {
  ended: Promise<unknown>;
  /** Interrupts it now, killing its worker without grace (the pool is closing). */
  close(reason: Error): void;
}

/** `ended` of a run before it is sent. */
const DROPPED: Promise<RunEnd> = Promise.resolve({ kind: "dropped" });

/** A run that never started in its worker (taken back, or the worker died first): run it elsewhere. */
const REQUEUE = Symbol("requeue");

let isolates = 0;
/** The key of workers with no extra env and Node's heap limit (the common case; no JSON per run). */
const PLAIN_KEY = JSON.stringify([[], null]);

/** What to do about params a worker process cannot be sent. */
const UNSENDABLE_HINT = "params of a cpu-bound task must be data: JSON values, Date, BigInt, Map, Set, Buffer (no functions, symbols or cycles)";

/** Below this `maxRunsPerWorker`, a retiring worker is replaced after it stops, not ahead. */
const MIN_RUNS_FOR_SUCCESSOR = 100;

/**
 * Creates a pool of worker processes for cpu-bound runs. Each worker loads the project once
 * and then executes runs one at a time, so a run pays an IPC round trip, not a process start;
 * with `prefetch`, a busy worker gets its next run ahead, so not even that.
 * Workers are keyed by (env, maxMemoryMb); the pool starts them on demand, up to `size`.
 * Nothing is started before the first `execute`.
 *
 * What to do (which worker takes a run, when to start, recycle, reap one) is decided by the pure
 * functions of dispatch.ts over the workers' states (worker-state.ts); this function applies
 * their decisions to processes, timers and the runs waiting.
 */
export function createPool(options: PoolOptions): Pool {
  const maxRuns = Math.max(1, options.maxRunsPerWorker ?? 100_000);
  const config: PoolConfig = {
    size: Math.max(1, Math.floor(options.size ?? availableParallelism() - 1)),
    prefetch: Math.max(0, Math.floor(options.prefetch ?? 1)),
    maxRuns,
    // A worker near its run limit gets its successor started beside it (one worker over `size`
    // for as long as that takes), so recycling never leaves runs waiting for a cold start.
    successorAt: maxRuns >= MIN_RUNS_FOR_SUCCESSOR ? Math.floor(maxRuns * 0.9) : Infinity,
    maxRssBytes: (options.maxWorkerMemoryMb ?? 512) * 1024 * 1024,
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
  };
  const killGraceMs = Math.max(0, options.killGraceMs ?? 5000);
  const abortGraceMs = Math.min(Math.max(0, options.abortGraceMs ?? 1000), killGraceMs);
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  /** Every worker, from its start until its process tree is gone. */
  const workers = new Set<WorkerState>();
  const procs = new WeakMap<WorkerState, Worker>();
  const waiters: Waiter[] = [];
  /** Runs sent to a worker and not ended; each knows its index (swap-removal, no Set per run). */
  const active: PoolAttempt[] = [];
  const counts = { spawned: 0, recycled: 0, reaped: 0, crashed: 0, killed: 0 };
  let execa: typeof import("execa").execa | undefined;
  let childEntry: string | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  let exitHook: (() => void) | undefined;
  let reapTimer: NodeJS.Timeout | undefined;
  let reapAt = Infinity;
  const view: PoolView<Waiter> = {
    config, workers, queue: waiters,
    get closed() {
      return closed;
    },
  };
  const procOf = (w: WorkerState): Worker => procs.get(w)!;

  const emit = (event: PoolEvent): void => callListener(options.onEvent, event);

  /** Does what dispatch decided, in order. */
  const apply = (decisions: Decision<Waiter>[]): void => {
    for (const d of decisions) {
      switch (d.type) {
        case "assign": {
          const at = waiters.indexOf(d.run);
          if (at >= 0) waiters.splice(at, 1);
          transition(d.worker, { type: "claim" });
          d.run.settle({ worker: d.worker });
          break;
        }
        case "wait":
          d.run.spawned = d.worker;
          break;
        case "spawn": {
          const w = spawn(d.spec);
          if (d.run) d.run.spawned = w;
          break;
        }
        case "successor":
          transition(d.worker, { type: "succeeded" });
          spawn(d.worker.spec);
          break;
        case "stop": {
          const w = d.worker;
          if (d.recycled) {
            counts.recycled++;
            emit({ type: "recycled", pid: procOf(w).pid, reason: d.recycled, runs: w.runs, rssMb: Math.round(w.rss / 1048576) });
          } else if (d.why === "reaped") {
            counts.reaped++;
            emit({ type: "reaped", pid: procOf(w).pid, idleMs: Date.now() - w.idleSince });
          }
          void stop(w);
          break;
        }
        case "drain":
          transition(d.worker, { type: "drain", reason: d.reason });
          procOf(d.worker).drop(); // the runs it has not started go back in line
          break;
        case "idle":
          makeIdle(d.worker);
          break;
        case "steal": {
          const seq = procOf(d.from).lastWaiting();
          if (seq !== undefined) procOf(d.from).drop([seq]);
          break;
        }
        case "stale":
          transition(d.worker, { type: "stale" });
          break;
      }
    }
  };

  /** Hands workers to the runs waiting in line. */
  const pump = (): void => {
    if (closed || waiters.length === 0) return;
    apply(dispatch(view));
  };

  /** Starts a worker; when it is ready it goes to the run that claimed it (isolate), or idle. */
  const spawn = (spec: WorkerSpec): WorkerState => {
    const state = newWorkerState(spec);
    const worker: Worker = new Worker({
      execa: execa!, childEntry: childEntry!, configFile: options.configFile, cwd: options.cwd, spec, killGraceMs,
      onProcessGone: () => transition(state, { type: "lost" }),
      onExit: (_, exit, expected) => onExit(state, worker, exit, expected),
    });
    workers.add(state);
    procs.set(state, worker);
    counts.spawned++;
    emit({ type: "spawned", pid: worker.pid, key: spec.key, isolate: spec.isolate });
    if (!exitHook) {
      // Workers lead their own process groups, so they would outlive a parent that exits
      // without closing the pool: kill them on the way out.
      exitHook = () => {
        for (const w of workers) procOf(w).killNow();
      };
      process.on("exit", exitHook);
    }
    // A worker stuck loading (a deps() that never resolves) must not hold runs forever.
    const startTimer = setTimeout(() => {
      worker.failStart(new WorkerStartError(`a worker did not load the project within ${startTimeoutMs} ms (${options.configFile})`, {
        hint: "look for a config deps() or a task module that waits at import time; raise startTimeoutMs if loading is just slow",
      }));
    }, startTimeoutMs);
    void worker.ready.then(() => clearTimeout(startTimer), () => clearTimeout(startTimer));
    worker.ready.then(
      () => {
        transition(state, { type: "ready", rss: worker.rss, now: Date.now() });
        apply(whenReady(view, state));
        pump();
        if (state.phase === "idle") trySteal(state);
      },
      (error: unknown) => {
        // The run waiting for this worker fails with the reason (e.g. the config does not load).
        const at = waiters.findIndex((w) => w.spawned === state);
        if (at >= 0) waiters.splice(at, 1)[0]!.settle({ outcome: failure(error) });
        void stop(state);
        pump();
      },
    );
    return state;
  };

  /** Takes a worker out of service and stops its process tree; `onExit` does the rest. */
  const stop = (w: WorkerState): Promise<void> => {
    transition(w, { type: "stop" });
    const gone = procOf(w).stop();
    void gone.then(() => {
      transition(w, { type: "gone" });
      workers.delete(w);
    });
    return gone;
  };

  const onExit = (w: WorkerState, worker: Worker, exit: WorkerExit, expected: boolean): void => {
    const wasLive = inPool(w);
    if (wasLive) void stop(w); // sweeps what the task left in its group
    emit({ type: "exited", pid: worker.pid, code: exit.code, signal: exit.signal, expected });
    if (!expected && wasLive) {
      counts.crashed++;
      emit({ type: "crashed", pid: worker.pid, code: exit.code, signal: exit.signal, during: crashedDuring(w) });
      if (w.everReady) {
        const again = replacement(view, w.spec);
        if (again) apply([again]);
      }
    }
    pump();
  };

  const makeIdle = (w: WorkerState): void => {
    transition(w, { type: "idle", now: Date.now() });
    procOf(w).setIdle();
    if (config.idleTimeoutMs > 0) armReap(w.idleSince + config.idleTimeoutMs);
  };

  /** One timer for every idle worker: it fires when the first is due, and is set again for the next. */
  const armReap = (at: number): void => {
    if (reapTimer && reapAt <= at) return;
    clearTimeout(reapTimer);
    reapAt = at;
    reapTimer = setTimeout(() => {
      reapTimer = undefined;
      reapAt = Infinity;
      const { stop: due, next } = reap(view, Date.now());
      apply(due);
      if (next !== undefined && !closed) armReap(next);
    }, Math.max(1, at - Date.now()));
    reapTimer.unref();
  };

  /** An idle worker takes over a run still waiting in a busy worker of its kind. */
  const trySteal = (idle: WorkerState): void => {
    const d = steal(view, idle, (w) => procOf(w).waiting);
    if (d) apply([d]);
  };

  /** After a run left a worker: recycle, start a successor, stop or keep it warm; then hand out runs. */
  const runLeft = (w: WorkerState, counted: boolean): void => {
    transition(w, { type: "run-left", counted, rss: procOf(w).rss });
    apply(afterRun(view, w, counted));
    pump();
    if (w.phase === "idle") trySteal(w);
  };

  /** A worker for `spec` without waiting, when nothing waits before it (see placeNow). */
  const takeNow = (spec: WorkerSpec): WorkerState | undefined => {
    const w = placeNow(view, spec);
    if (w) transition(w, { type: "claim" });
    return w;
  };

  /** Waits for a worker for `spec`, or for the outside signal; `first`: at the head of the line. */
  const acquire = (spec: WorkerSpec, signal: OutsideStop | undefined, first = false): Promise<{ worker: WorkerState } | { outcome: PoolOutcome }> =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve({ outcome: stopped(signal.reason) });
      const onAbort = (): void => {
        const at = waiters.indexOf(waiter);
        if (at >= 0) waiters.splice(at, 1);
        waiter.settle({ outcome: stopped(signal!.reason) });
        pump();
      };
      let settled = false;
      const waiter: Waiter = {
        spec,
        spawned: undefined,
        settle: (result) => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener("abort", onAbort);
          resolve(result);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      if (first) waiters.unshift(waiter);
      else waiters.push(waiter);
      pump();
    });

  /**
   * Ends a started run from outside (timeout, signal, close): abort in the child, then kill
   * the group. The runs waiting behind it in that worker go back in line.
   */
  const kill = (w: WorkerState, seq: number, reason: Error, ended: Promise<unknown>, graceMs: number): void => {
    const worker = procOf(w);
    transition(w, { type: "kill" });
    worker.drop();
    worker.abort(seq, reason);
    const grace = delay(graceMs);
    void Promise.race([grace.promise, ended]).then(() => {
      grace.cancel();
      if (!inPool(w)) return; // it died meanwhile
      counts.killed++;
      emit({ type: "killed", pid: worker.pid, reason: reason.message });
      void stop(w);
      pump();
      const again = replacement(view, w.spec);
      if (again) apply([again]);
    });
  };

  /**
   * One run sent to a worker, from the send until its outcome: a class, so that a run costs one
   * object instead of a closure per hook (it is the outside stop's listener, the deadline's
   * target and the worker's run hooks).
   */
  class PoolAttempt implements RunHooks, Expiring, ActiveRun {
    settled = false;
    started = false;
    killing = false;
    stopReason: Error | undefined = undefined;
    stopGrace = abortGraceMs;
    deadline: Deadline | undefined = undefined;
    seq = 0;
    ended: Promise<RunEnd> = DROPPED;
    activeAt = -1;
    readonly worker: Worker;
    readonly log: RunHooks["log"];
    readonly queue: RunHooks["queue"];
    readonly timeoutMs: number;

    constructor(
      readonly w: WorkerState,
      readonly run: PoolRun,
      readonly signal: OutsideStop | undefined,
      readonly resolve: (outcome: PoolOutcome | typeof REQUEUE) => void,
      hooks: PoolHooks,
    ) {
      this.worker = procOf(w);
      this.log = hooks.log;
      this.queue = hooks.queue;
      this.timeoutMs = run.timeoutMs;
    }

    settle(outcome: PoolOutcome | typeof REQUEUE): void {
      if (this.settled) return;
      this.settled = true;
      if (this.deadline) deadlines.remove(this.deadline);
      this.signal?.removeEventListener("abort", this);
      this.resolve(outcome);
    }

    startKill(): void {
      if (this.killing) return;
      this.killing = true;
      kill(this.w, this.seq, this.stopReason!, this.ended, this.stopGrace);
    }

    interrupt(reason: Error, graceMs = abortGraceMs): void {
      if (this.settled) return;
      this.settle(stopped(reason));
      this.stopReason = reason;
      this.stopGrace = graceMs;
      // Not started yet: the child drops it (or, if it started meanwhile, aborts it and the
      // start below kills it).
      if (this.started) this.startKill();
      else this.worker.abort(this.seq, reason);
    }

    /** The outside stop fired. */
    handleEvent(): void {
      this.interrupt(outsideReason(this.signal!.reason));
    }

    /** The time limit passed. */
    expire(): void {
      this.deadline = undefined;
      this.interrupt(new TaskTimeoutError(this.run.task, this.run.timeoutMs));
    }

    /** The child started it: the deadline counts from here, not from the time it waited there. */
    onStart(): void {
      this.started = true;
      if (this.settled) {
        if (this.stopReason) this.startKill();
        return;
      }
      if (this.timeoutMs > 0) this.deadline = deadlines.add(this);
    }

    /** The task has finished: its deadline no longer applies while its output is read. */
    onDone(): void {
      if (this.deadline) deadlines.remove(this.deadline);
      this.deadline = undefined;
    }

    /** Closing the pool: interrupted now, and killed without grace. */
    close(reason: Error): void {
      this.interrupt(reason, 0);
    }

    /** The worker says how the run ended. */
    onEnded(end: RunEnd): void {
      removeActive(this);
      const { w, worker } = this;
      switch (end.kind) {
        case "exit":
          // The pool's exit handler replaces the worker.
          transition(w, { type: "run-left", counted: false, rss: worker.rss });
          return this.settle(crashed(this.run, end.exit, end.stderr, end.oomLine));
        case "dropped":
          runLeft(w, false);
          return this.settle(closed ? stopped(new RunInterruptedError("interrupted: the worker pool is closing")) : REQUEUE);
        case "done":
          if (this.killing) {
            // Aborted: `kill` stops the worker.
            transition(w, { type: "run-left", counted: false, rss: worker.rss });
            return;
          }
          this.settle(fromDone(end.done));
          runLeft(w, true);
      }
    }
  }

  const removeActive = (a: PoolAttempt): void => {
    const at = a.activeAt;
    if (at < 0) return;
    a.activeAt = -1;
    const last = active.pop()!;
    if (last !== a) {
      active[at] = last;
      last.activeAt = at;
    }
  };

  const runOn = (w: WorkerState, run: PoolRun, params: string, hooks: PoolHooks): Promise<PoolOutcome | typeof REQUEUE> =>
    new Promise<PoolOutcome | typeof REQUEUE>((resolve) => {
      const { signal } = hooks;
      if (signal?.aborted || w.phase !== "busy") {
        // Stopped, or the worker was retired, between getting the worker and sending the run.
        runLeft(w, false);
        return resolve(signal?.aborted ? stopped(signal.reason) : REQUEUE);
      }
      const attempt = new PoolAttempt(w, run, signal, resolve, hooks);
      const sent = attempt.worker.run(
        { task: run.task, id: run.id, params, attempt: run.attempt, fromRunId: run.fromRunId, rootRunId: run.rootRunId },
        attempt,
      );
      attempt.seq = sent.seq;
      attempt.ended = sent.ended;
      attempt.activeAt = active.length;
      active.push(attempt);
      void sent.ended.then((end) => attempt.onEnded(end));
      if (!attempt.settled) signal?.addEventListener("abort", attempt, { once: true });
    });

  const plainSpec: WorkerSpec = { key: PLAIN_KEY, env: {}, maxMemoryMb: undefined, isolate: false };
  const specOf = (run: PoolRun): WorkerSpec => {
    const maxMemoryMb = run.maxMemoryMb;
    const isolate = run.isolate === "run";
    if (!isolate && maxMemoryMb === undefined && isEmpty(run.env)) return plainSpec; // most runs: no allocation
    const env = { ...(run.env ?? {}) };
    const entries = Object.entries(env);
    const key = isolate ? `isolate:${++isolates}` : JSON.stringify([entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)), maxMemoryMb ?? null]);
    return { key, env, maxMemoryMb, isolate };
  };

  /** Loads execa and checks the worker entry once, at the first run. */
  const prepare = async (): Promise<void> => {
    execa ??= ((await importModule("execa")) as typeof import("execa")).execa;
    if (childEntry) return;
    const entry = options.childEntry ?? defaultChildEntry();
    if (!existsSync(entry)) {
      throw new ConfigError(`the worker entry of cpu-bound tasks is missing: ${entry}`, {
        hint: "build the package (npm run build), or pass childEntry to createPool",
      });
    }
    childEntry = entry;
  };

  return {
    async execute(run, hooks = {}) {
      try {
        if (hooks.signal?.aborted) return stopped(hooks.signal.reason);
        if (closed) return stopped(new RunInterruptedError("interrupted: the worker pool is closed"));
        let params: string;
        try {
          params = encodeValue(run.params) ?? "P{}"; // once, however often the run comes back
        } catch (error) {
          return failure(new ParamsError(run.task, [{ path: "", message: `the params of run ${run.id} (task "${run.task}") cannot be sent to its worker process: ${(error as Error).message}` }], {
            cause: error, hint: UNSENDABLE_HINT,
          }));
        }
        if (!execa || !childEntry) await prepare();
        const spec = specOf(run);
        for (let again = false; ; again = true) {
          // A run that comes back (its worker never started it) goes to the head of the line.
          const now = hooks.signal?.aborted ? undefined : takeNow(spec);
          const got = now ? { worker: now } : await acquire(spec, hooks.signal, again);
          if ("outcome" in got) return got.outcome;
          const outcome = await runOn(got.worker, run, params, hooks);
          if (outcome !== REQUEUE) return outcome;
        }
      } catch (error) {
        return failure(error);
      }
    },
    stats() {
      let live = 0;
      let busy = 0;
      let idle = 0;
      let starting = 0;
      let prefetched = 0;
      for (const w of workers) {
        if (!inPool(w)) continue;
        live++;
        if (w.phase === "busy" || w.phase === "draining" || w.phase === "killing") busy++;
        else if (w.phase === "idle") idle++;
        else if (w.phase === "starting") starting++;
        prefetched += procOf(w).waiting;
      }
      return { workers: live, busy, idle, starting, ...counts, queued: waiters.length, prefetched };
    },
    reload() {
      apply(reloadDecisions(view));
      pump();
    },
    close(graceMs = killGraceMs) {
      closing ??= (async () => {
        closed = true;
        for (const waiter of waiters.splice(0)) waiter.settle({ outcome: stopped(new RunInterruptedError("interrupted: the worker pool is closing")) });
        // Runs sent ahead and not started are taken back: they end interrupted, as waiting ones do.
        for (const w of workers) if (inPool(w)) procOf(w).drop();
        if (active.length > 0) {
          const all = Promise.all(active.map((a) => a.ended));
          const grace = delay(graceMs);
          await Promise.race([all, grace.promise]);
          grace.cancel();
        }
        for (const a of [...active]) a.close(new RunInterruptedError("interrupted: the worker pool is closing"));
        // Every process group gets SIGTERM now, SIGKILL after killGraceMs; wait until all are gone.
        while (workers.size > 0) {
          for (const w of [...workers]) if (inPool(w)) void stop(w);
          await Promise.all([...workers].map((w) => procOf(w).stop()));
        }
        clearTimeout(reapTimer);
        reapTimer = undefined;
        if (exitHook) process.off("exit", exitHook);
        exitHook = undefined;
      })();
      return closing;
    },
  };
}

function isEmpty(env: Record<string, string> | undefined): boolean {
  for (const _ in env) return false;
  return true;
}
