import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { ConfigError, RunInterruptedError, TaskTimeoutError, isFluidError, toErrorInfo } from "../core/errors.js";
import type { QueueFn } from "../task/context.js";
import type { AttemptOutcome, LogLevel } from "../core/types.js";
import { defaultChildEntry } from "./child-entry.js";
import { decodeValue, encodeValue } from "./codec.js";
import { errorFromInfo, type DoneMessage } from "./protocol.js";
import { delay } from "./timers.js";
import { Worker, type RunEnd, type WorkerSpec } from "./worker.js";
import { WorkerExitError, type WorkerExit } from "./worker-exit-error.js";
import { WorkerStartError } from "./worker-start-error.js";
import { importModule } from "../core/dynamic-import.js";

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
  /** Outside stop (cancel, shutdown): the run ends at once, its process is killed. */
  signal?: AbortSignal | undefined;
  /** Every line of the run: `ctx.log` lines and the child's stdout/stderr lines. */
  log?: ((line: { ts: number; level: LogLevel | "stdout" | "stderr"; message: string }) => void) | undefined;
  /** Handles `ctx.queue` in the child; without it `ctx.queue` rejects. */
  queue?: QueueFn | undefined;
}

/** How an attempt in the pool ended; `exitCode`/`exitSignal` when its process died under it. */
export type PoolOutcome = AttemptOutcome & { exitCode?: number; exitSignal?: string };

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

interface Waiter {
  spec: WorkerSpec;
  /** The worker started for this waiter, while it starts. */
  spawned: Worker | undefined;
  settle: (result: { worker: Worker } | { outcome: PoolOutcome }) => void;
}

interface ActiveRun {
  worker: Worker;
  ended: Promise<unknown>;
  interrupt: (reason: Error) => void;
}

/** A run that never started in its worker (taken back, or the worker died first): run it elsewhere. */
const REQUEUE = Symbol("requeue");

let isolates = 0;
/** The key of workers with no extra env and Node's heap limit (the common case; no JSON per run). */
const PLAIN_KEY = JSON.stringify([[], null]);

/** Below this `maxRunsPerWorker`, a retiring worker is replaced after it stops, not ahead. */
const MIN_RUNS_FOR_SUCCESSOR = 100;

/**
 * Creates a pool of worker processes for cpu-bound runs. Each worker loads the project once
 * and then executes runs one at a time, so a run pays an IPC round trip, not a process start;
 * with `prefetch`, a busy worker gets its next run ahead, so not even that.
 * Workers are keyed by (env, maxMemoryMb); the pool starts them on demand, up to `size`.
 * Nothing is started before the first `execute`.
 */
export function createPool(options: PoolOptions): Pool {
  const size = Math.max(1, Math.floor(options.size ?? availableParallelism() - 1));
  const maxRuns = Math.max(1, options.maxRunsPerWorker ?? 100_000);
  // A worker near its run limit gets its successor started beside it (one worker over `size`
  // for as long as that takes), so recycling never leaves runs waiting for a cold start.
  const successorAt = maxRuns >= MIN_RUNS_FOR_SUCCESSOR ? Math.floor(maxRuns * 0.9) : Infinity;
  const maxRssBytes = (options.maxWorkerMemoryMb ?? 512) * 1024 * 1024;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const killGraceMs = Math.max(0, options.killGraceMs ?? 5000);
  const abortGraceMs = Math.min(Math.max(0, options.abortGraceMs ?? 1000), killGraceMs);
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const prefetch = Math.max(0, Math.floor(options.prefetch ?? 1));
  const workers = new Set<Worker>(); // starting, idle or busy
  const dying = new Set<Worker>(); // stopped by us or exited, until their process group is gone
  const everReady = new WeakSet<Worker>();
  const waiters: Waiter[] = [];
  const active = new Set<ActiveRun>();
  const counts = { spawned: 0, recycled: 0, reaped: 0, crashed: 0, killed: 0 };
  let execa: typeof import("execa").execa | undefined;
  let childEntry: string | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  let exitHook: (() => void) | undefined;

  const emit = (event: PoolEvent): void => {
    try {
      options.onEvent?.(event);
    } catch {}
  };
  const live = (): number => workers.size;

  /** Starts a worker; when it is ready it goes to the waiter that claimed it (isolate), or idle. */
  const spawn = (spec: WorkerSpec): Worker => {
    const worker = new Worker({
      execa: execa!, childEntry: childEntry!, configFile: options.configFile, cwd: options.cwd, spec, killGraceMs, onExit,
    });
    workers.add(worker);
    counts.spawned++;
    emit({ type: "spawned", pid: worker.pid, key: spec.key, isolate: spec.isolate });
    if (!exitHook) {
      // Workers lead their own process groups, so they would outlive a parent that exits
      // without closing the pool: kill them on the way out.
      exitHook = () => {
        for (const w of [...workers, ...dying]) w.killNow();
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
        everReady.add(worker);
        if (worker.state !== "idle") return; // stopped while starting
        if (closed || worker.stale) {
          void stop(worker);
          return pump();
        }
        if (spec.isolate) {
          const at = waiters.findIndex((w) => w.spawned === worker);
          if (at < 0) return void stop(worker); // its run was aborted while it started
          assign(worker, waiters.splice(at, 1)[0]!);
          return;
        }
        makeIdle(worker);
        pump();
        if (worker.state === "idle") steal(worker);
      },
      (error: unknown) => {
        // The run waiting for this worker fails with the reason (e.g. the config does not load).
        const at = waiters.findIndex((w) => w.spawned === worker);
        if (at >= 0) waiters.splice(at, 1)[0]!.settle({ outcome: failure(error) });
        void stop(worker);
        pump();
      },
    );
    return worker;
  };

  /** Takes a worker out of service and stops its process group; `onExit` does the rest. */
  const stop = (worker: Worker): Promise<void> => {
    workers.delete(worker);
    dying.add(worker);
    const gone = worker.stop();
    void gone.then(() => dying.delete(worker));
    return gone;
  };

  const onExit = (worker: Worker, exit: WorkerExit, expected: boolean): void => {
    const wasLive = workers.delete(worker);
    if (!dying.has(worker)) {
      dying.add(worker);
      void worker.stop().then(() => dying.delete(worker));
    }
    emit({ type: "exited", pid: worker.pid, code: exit.code, signal: exit.signal, expected });
    if (!expected && wasLive) {
      counts.crashed++;
      const during = !everReady.has(worker) ? "start" : worker.load > 0 ? "run" : "idle";
      emit({ type: "crashed", pid: worker.pid, code: exit.code, signal: exit.signal, during });
      if (everReady.has(worker)) replace(worker.spec);
    }
    pump();
  };

  /** Starts a worker of that kind in the background, so the next run finds it warm. */
  const replace = (spec: WorkerSpec): void => {
    if (closed || spec.isolate || waiters.length > 0 || live() >= size) return;
    for (const w of workers) if (w.spec.key === spec.key && (w.state === "idle" || w.state === "starting")) return;
    spawn(spec);
  };

  const makeIdle = (worker: Worker): void => {
    worker.setIdle();
    clearTimeout(worker.idleTimer);
    if (idleTimeoutMs > 0) {
      worker.idleTimer = setTimeout(() => {
        if (worker.state !== "idle" || !workers.has(worker)) return;
        counts.reaped++;
        emit({ type: "reaped", pid: worker.pid, idleMs: Date.now() - worker.idleSince });
        void stop(worker);
      }, idleTimeoutMs);
      worker.idleTimer.unref();
    }
  };

  /** Gives a worker one more run: busy, no longer reaped. */
  const claim = (worker: Worker): Worker => {
    clearTimeout(worker.idleTimer);
    worker.state = "busy";
    worker.load++;
    return worker;
  };
  const assign = (worker: Worker, waiter: Waiter): void => waiter.settle({ worker: claim(worker) });

  /** A busy worker of that kind that can take one more run ahead (the least loaded). */
  const findRoom = (key: string): Worker | undefined => {
    let best: Worker | undefined;
    for (const w of workers) {
      if (w.state !== "busy" || w.retiring || w.spec.isolate || w.spec.key !== key || w.load > prefetch) continue;
      if (!best || w.load < best.load) best = w;
    }
    return best;
  };

  /**
   * Takes a worker out of rotation: no new runs, and the runs it has not started go back in
   * line. With a reason it is recycled (reported so when it stops), else it is being killed.
   */
  const retire = (worker: Worker, reason?: Worker["recycleReason"]): void => {
    worker.retiring = true;
    worker.recycleReason = reason;
    worker.drop();
  };

  /** After a run left a worker: stop it if it is retiring and empty, else keep it warm; then hand out runs. */
  const afterRun = (worker: Worker): void => {
    if (workers.has(worker) && worker.load === 0) {
      // A worker of an older project (reload) is retiring too, or was stopped when it became ready.
      if (closed || worker.retiring || worker.spec.isolate) {
        const reason = worker.recycleReason;
        if (reason && !closed) {
          counts.recycled++;
          emit({ type: "recycled", pid: worker.pid, reason, runs: worker.runs, rssMb: Math.round(worker.rss / 1048576) });
        }
        void stop(worker);
        pump();
        replace(worker.spec);
        return;
      }
      makeIdle(worker);
    }
    pump();
    if (worker.state === "idle" && workers.has(worker)) steal(worker);
  };

  /**
   * An idle worker takes over a run still waiting in a busy worker of the same kind (it would
   * otherwise wait behind a long run there): that worker is asked to give it back.
   */
  const steal = (idle: Worker): void => {
    if (waiters.length > 0) return;
    for (const w of workers) {
      if (w === idle || w.spec.key !== idle.spec.key || w.state !== "busy") continue;
      const seq = w.lastWaiting();
      if (seq !== undefined) return w.drop([seq]);
    }
  };

  /** Hands idle workers to waiting runs in order, starting (or swapping) workers within `size`. */
  const pump = (): void => {
    if (closed || waiters.length === 0) return;
    // A starting worker is claimed by one waiter, so two runs do not wait for the same start.
    const claimed = new Set<Worker>();
    for (const w of waiters) if (w.spawned && isStarting(w.spawned)) claimed.add(w.spawned);
    for (let i = 0; i < waiters.length; ) {
      const waiter = waiters[i]!;
      const { spec } = waiter;
      if (!spec.isolate) {
        const idle = findIdle((w) => w.spec.key === spec.key && !w.stale && !w.retiring);
        if (idle) {
          waiters.splice(i, 1);
          assign(idle, waiter);
          continue;
        }
      }
      i++;
      if (waiter.spawned && claimed.has(waiter.spawned)) continue;
      const starting = spec.isolate ? undefined : [...workers].find((w) => w.spec.key === spec.key && !w.stale && isStarting(w) && !claimed.has(w));
      if (!starting && live() >= size) {
        // Full: send it ahead to a busy worker of its kind...
        const room = spec.isolate ? undefined : findRoom(spec.key);
        if (room) {
          waiters.splice(--i, 1);
          assign(room, waiter);
          continue;
        }
        // ...or make room by stopping the longest-idle worker of another kind.
        const victim = findIdle(() => true);
        if (!victim) break; // every worker is busy or starting: the rest wait in order
        void stop(victim);
      }
      waiter.spawned = starting ?? spawn(spec);
      claimed.add(waiter.spawned);
    }
  };
  const isStarting = (w: Worker): boolean => w.state === "starting" && workers.has(w);

  const findIdle = (pred: (w: Worker) => boolean): Worker | undefined => {
    let best: Worker | undefined;
    for (const w of workers) {
      if (w.state === "idle" && pred(w) && (!best || w.idleSince < best.idleSince)) best = w;
    }
    return best;
  };

  /**
   * A worker for `spec` without waiting, when nothing waits before it: an idle one, or, when
   * the pool is full, room ahead in a busy one (as `pump` would give it).
   */
  const takeNow = (spec: WorkerSpec): Worker | undefined => {
    if (waiters.length > 0 || spec.isolate || closed) return undefined;
    let worker = findIdle((w) => w.spec.key === spec.key && !w.stale && !w.retiring);
    if (!worker && live() >= size) {
      for (const w of workers) if (w.state === "starting") return undefined; // it will be ready soon
      worker = findRoom(spec.key);
    }
    return worker && claim(worker);
  };

  /** Waits for a worker for `spec`, or for the outside signal; `first`: at the head of the line. */
  const acquire = (spec: WorkerSpec, signal: AbortSignal | undefined, first = false): Promise<{ worker: Worker } | { outcome: PoolOutcome }> =>
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

  /** After a run ended in a healthy worker: count it, and retire the worker when it is due. */
  const release = (worker: Worker): void => {
    worker.runs++;
    if (!worker.retiring && !closed && !worker.spec.isolate) {
      const reason = worker.runs >= maxRuns ? "runs" : worker.rss > maxRssBytes ? "memory" : undefined;
      if (reason) {
        retire(worker, reason);
      } else if (worker.runs >= successorAt && !worker.succeeded) {
        worker.succeeded = true;
        spawn(worker.spec);
      }
    }
    afterRun(worker);
  };

  /**
   * Ends a started run from outside (timeout, signal, close): abort in the child, then kill
   * the group. The runs waiting behind it in that worker go back in line.
   */
  const kill = (worker: Worker, seq: number, reason: Error, ended: Promise<unknown>, graceMs: number): void => {
    retire(worker);
    worker.abort(seq, reason);
    const grace = delay(graceMs);
    void Promise.race([grace.promise, ended]).then(() => {
      grace.cancel();
      if (!workers.has(worker)) return; // it died meanwhile
      counts.killed++;
      emit({ type: "killed", pid: worker.pid, reason: reason.message });
      void stop(worker);
      pump();
      replace(worker.spec);
    });
  };

  const runOn = (worker: Worker, run: PoolRun, params: string, hooks: PoolHooks): Promise<PoolOutcome | typeof REQUEUE> =>
    new Promise<PoolOutcome | typeof REQUEUE>((resolve) => {
      const { signal } = hooks;
      if (signal?.aborted || !workers.has(worker) || worker.retiring) {
        // Stopped, or the worker was retired, between getting the worker and sending the run.
        worker.load--;
        afterRun(worker);
        return resolve(signal?.aborted ? stopped(signal.reason) : REQUEUE);
      }
      let settled = false;
      let started = false;
      let killing = false;
      let stopReason: Error | undefined;
      let stopGrace = abortGraceMs;
      let deadline: NodeJS.Timeout | undefined;
      let seq = 0;
      let ended: Promise<RunEnd> = Promise.resolve({ kind: "dropped" });
      const settle = (outcome: PoolOutcome | typeof REQUEUE): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        signal?.removeEventListener("abort", onAbort);
        resolve(outcome);
      };
      const startKill = (): void => {
        if (killing) return;
        killing = true;
        kill(worker, seq, stopReason!, ended, stopGrace);
      };
      const interrupt = (reason: Error, graceMs = abortGraceMs): void => {
        if (settled) return;
        settle(stopped(reason));
        stopReason = reason;
        stopGrace = graceMs;
        // Not started yet: the child drops it (or, if it started meanwhile, aborts it and the
        // start below kills it).
        if (started) startKill();
        else worker.abort(seq, reason);
      };
      const onAbort = (): void => interrupt(outsideReason(signal!.reason));
      // The deadline counts from the start in the child, not from the time it waited there.
      const onStart = (): void => {
        started = true;
        if (settled) {
          if (stopReason) startKill();
          return;
        }
        if (run.timeoutMs > 0) deadline = setTimeout(() => interrupt(new TaskTimeoutError(run.task, run.timeoutMs)), run.timeoutMs);
      };
      const sent = worker.run(
        { task: run.task, id: run.id, params, attempt: run.attempt, fromRunId: run.fromRunId, rootRunId: run.rootRunId },
        // The task has finished: its deadline no longer applies while its output is read.
        { log: hooks.log, queue: hooks.queue, onStart, onDone: () => clearTimeout(deadline) },
      );
      seq = sent.seq;
      ended = sent.ended;
      const entry: ActiveRun = { worker, ended, interrupt: (reason) => interrupt(reason, 0) };
      active.add(entry);
      void ended.then((end) => {
        active.delete(entry);
        worker.load--;
        switch (end.kind) {
          case "exit":
            // The pool's exit handler replaces the worker.
            return settle(crashed(run, end.exit, end.stderr, end.oomLine));
          case "dropped":
            afterRun(worker);
            return settle(closed ? stopped(new RunInterruptedError("interrupted: the worker pool is closing")) : REQUEUE);
          case "done":
            if (killing) return; // aborted: `kill` stops the worker
            settle(fromDone(end.done));
            release(worker);
        }
      });
      if (!settled) signal?.addEventListener("abort", onAbort, { once: true });
    });

  const crashed = (run: PoolRun, exit: WorkerExit, stderr: string[], oomLine: string | undefined): PoolOutcome => {
    const error = new WorkerExitError(`task "${run.task}" (run ${run.id})`, exit, stderr, { oomLine, maxMemoryMb: run.maxMemoryMb });
    return {
      state: "failure", error: toErrorInfo(error), thrown: error,
      ...(exit.code !== undefined ? { exitCode: exit.code } : {}),
      ...(exit.signal !== undefined ? { exitSignal: exit.signal } : {}),
    };
  };

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
          return failure(new Error(`the params of run ${run.id} (task "${run.task}") cannot be sent to its worker process: ${(error as Error).message}`, { cause: error }));
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
      let busy = 0;
      let idle = 0;
      let starting = 0;
      let prefetched = 0;
      for (const w of workers) {
        if (w.state === "busy") busy++;
        else if (w.state === "idle") idle++;
        else if (w.state === "starting") starting++;
        prefetched += w.waiting;
      }
      return { workers: workers.size, busy, idle, starting, ...counts, queued: waiters.length, prefetched };
    },
    reload() {
      for (const w of [...workers]) {
        w.stale = true;
        if (w.state === "idle") {
          counts.recycled++;
          emit({ type: "recycled", pid: w.pid, reason: "reload", runs: w.runs, rssMb: Math.round(w.rss / 1048576) });
          void stop(w);
        } else if (w.state === "busy" && !w.retiring) {
          // It finishes its current run; the runs waiting in it go to new workers.
          retire(w, "reload");
        }
      }
      pump();
    },
    close(graceMs = killGraceMs) {
      closing ??= (async () => {
        closed = true;
        for (const waiter of waiters.splice(0)) waiter.settle({ outcome: stopped(new RunInterruptedError("interrupted: the worker pool is closing")) });
        // Runs sent ahead and not started are taken back: they end interrupted, as waiting ones do.
        for (const w of workers) w.drop();
        if (active.size > 0) {
          const all = Promise.all([...active].map((a) => a.ended));
          const grace = delay(graceMs);
          await Promise.race([all, grace.promise]);
          grace.cancel();
        }
        for (const a of [...active]) a.interrupt(new RunInterruptedError("interrupted: the worker pool is closing"));
        // Every process group gets SIGTERM now, SIGKILL after killGraceMs; wait until all are gone.
        while (workers.size > 0 || dying.size > 0) {
          for (const w of [...workers]) void stop(w);
          await Promise.all([...dying].map((w) => w.stop()));
        }
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

/** The outcome of a run stopped from outside or by its deadline, as the inline executor reports it. */
function stopped(reason: unknown): PoolOutcome {
  const error = outsideReason(reason);
  const code = (error as { code?: unknown }).code;
  const state = code === "FLUID_CANCELLED" ? "cancelled" : code === "FLUID_TIMEOUT" ? "timeout" : "interrupted";
  return { state, error: toErrorInfo(error), thrown: error };
}

/** An outside signal's reason as a FluidError: FLUID_CANCELLED, FLUID_INTERRUPTED, ... */
function outsideReason(reason: unknown): Error {
  return isFluidError(reason) ? reason : new RunInterruptedError();
}

function fromDone(done: DoneMessage): PoolOutcome {
  if (done.state === "success") return { state: "success", result: decodeValue(done.result) };
  return { state: done.state, ...(done.error ? { error: done.error, thrown: errorFromInfo(done.error) } : {}) };
}

function failure(error: unknown): PoolOutcome {
  return { state: "failure", error: toErrorInfo(error), thrown: error };
}
