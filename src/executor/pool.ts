import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { ConfigError, RunInterruptedError, TaskTimeoutError, isFluidError, toErrorInfo } from "../errors.js";
import type { QueueFn } from "../task/context.js";
import type { AttemptOutcome, LogLevel } from "../types.js";
import { defaultChildEntry } from "./child-entry.js";
import { decodeValue } from "./codec.js";
import { errorFromInfo, type DoneMessage } from "./protocol.js";
import { delay } from "./timers.js";
import { Worker, type RunEnd, type WorkerSpec } from "./worker.js";
import { WorkerExitError, type WorkerExit } from "./worker-exit-error.js";
import { WorkerStartError } from "./worker-start-error.js";
import { importModule } from "../loader/dynamic-import.js";

/** Options of `createPool`. */
export interface PoolOptions {
  /** Config file each worker loads (as `loadProject({ config })`); never read from FLUID_CONFIG there. */
  configFile: string;
  /** Working directory of the workers (relative paths in tasks resolve from it). */
  cwd: string;
  /** Most worker processes at once. Default: `os.availableParallelism() - 1`, at least 1. */
  size?: number;
  /**
   * Replace a worker after this many runs, so a slow leak stays bounded. Default 10_000: a
   * replacement costs a process start (~250 ms of CPU on a small machine), which 1,000 short
   * runs would not pay for; `maxWorkerMemoryMb` catches the leaks that matter sooner.
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
  /** Time limit of the attempt in ms, from the moment the worker gets the run; 0 = none. */
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

let isolates = 0;

/**
 * Creates a pool of worker processes for cpu-bound runs. Each worker loads the project once
 * and then executes runs one at a time, so a run pays an IPC round trip, not a process start.
 * Workers are keyed by (env, maxMemoryMb); the pool starts them on demand, up to `size`.
 * Nothing is started before the first `execute`.
 */
export function createPool(options: PoolOptions): Pool {
  const size = Math.max(1, Math.floor(options.size ?? availableParallelism() - 1));
  const maxRuns = Math.max(1, options.maxRunsPerWorker ?? 10_000);
  const maxRssBytes = (options.maxWorkerMemoryMb ?? 512) * 1024 * 1024;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const killGraceMs = Math.max(0, options.killGraceMs ?? 5000);
  const abortGraceMs = Math.min(Math.max(0, options.abortGraceMs ?? 1000), killGraceMs);
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
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
      const during = !everReady.has(worker) ? "start" : isBusy(worker) ? "run" : "idle";
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

  const assign = (worker: Worker, waiter: Waiter): void => {
    clearTimeout(worker.idleTimer);
    worker.state = "busy";
    busyWorkers.add(worker);
    waiter.settle({ worker });
  };
  const busyWorkers = new WeakSet<Worker>();
  const isBusy = (worker: Worker): boolean => busyWorkers.has(worker);

  /** Hands idle workers to waiting runs in order, starting (or swapping) workers within `size`. */
  const pump = (): void => {
    if (closed) return;
    // A starting worker is claimed by one waiter, so two runs do not wait for the same start.
    const claimed = new Set<Worker>();
    for (const w of waiters) if (w.spawned && isStarting(w.spawned)) claimed.add(w.spawned);
    for (let i = 0; i < waiters.length; ) {
      const waiter = waiters[i]!;
      const { spec } = waiter;
      if (!spec.isolate) {
        const idle = findIdle((w) => w.spec.key === spec.key && !w.stale);
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
        // Full: make room by stopping the longest-idle worker of another kind.
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

  /** Waits for a worker for `spec`, or for the outside signal. */
  const acquire = (spec: WorkerSpec, signal: AbortSignal | undefined): Promise<{ worker: Worker } | { outcome: PoolOutcome }> =>
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
      waiters.push(waiter);
      pump();
    });

  /** After a run ended in a healthy worker: keep it warm, or replace it. */
  const release = (worker: Worker): void => {
    busyWorkers.delete(worker);
    worker.runs++;
    if (closed || worker.spec.isolate) return void stop(worker);
    const reason = worker.stale ? "reload" : worker.runs >= maxRuns ? "runs" : worker.rss > maxRssBytes ? "memory" : undefined;
    if (reason) {
      counts.recycled++;
      emit({ type: "recycled", pid: worker.pid, reason, runs: worker.runs, rssMb: Math.round(worker.rss / 1048576) });
      void stop(worker);
      pump();
      replace(worker.spec);
      return;
    }
    makeIdle(worker);
    pump();
  };

  /** Ends a run from outside (timeout, signal, close): abort in the child, then kill the group. */
  const kill = (worker: Worker, reason: Error, ended: Promise<unknown>, graceMs: number): void => {
    busyWorkers.delete(worker);
    worker.abort(abortBody(reason));
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

  const runOn = (worker: Worker, run: PoolRun, hooks: PoolHooks): Promise<PoolOutcome> =>
    new Promise<PoolOutcome>((resolve) => {
      const { signal } = hooks;
      if (signal?.aborted) {
        // Stopped between getting the worker and starting the run: the worker is untouched.
        busyWorkers.delete(worker);
        makeIdle(worker);
        pump();
        return resolve(stopped(signal.reason));
      }
      let settled = false;
      let deadline: NodeJS.Timeout | undefined;
      const settle = (outcome: PoolOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        signal?.removeEventListener("abort", onAbort);
        resolve(outcome);
      };
      const interrupt = (reason: Error, graceMs = abortGraceMs): void => {
        if (settled) return;
        settle(stopped(reason));
        kill(worker, reason, ended, graceMs);
      };
      const onAbort = (): void => interrupt(outsideReason(signal!.reason));
      const ended: Promise<RunEnd> = worker.run(
        { task: run.task, id: run.id, params: run.params, attempt: run.attempt, fromRunId: run.fromRunId, rootRunId: run.rootRunId },
        { log: hooks.log, queue: hooks.queue },
      );
      const entry: ActiveRun = { worker, ended, interrupt: (reason) => interrupt(reason, 0) };
      active.add(entry);
      void ended.then((end) => {
        active.delete(entry);
        if (end.kind === "exit") {
          busyWorkers.delete(worker);
          return settle(crashed(run, end.exit, end.stderr, end.oomLine));
        }
        if (end.kind === "unsent") {
          // Nothing reached the child: the worker goes back as it was.
          busyWorkers.delete(worker);
          if (!settled) {
            makeIdle(worker);
            pump();
          }
          const error = new Error(`the params of run ${run.id} (task "${run.task}") cannot be sent to its worker process: ${end.error.message}`, { cause: end.error });
          return settle(failure(error));
        }
        if (settled) return; // aborted: `kill` stops the worker
        settle(fromDone(end.done));
        release(worker);
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      if (run.timeoutMs > 0) {
        deadline = setTimeout(() => interrupt(new TaskTimeoutError(run.task, run.timeoutMs)), run.timeoutMs);
      }
    });

  const crashed = (run: PoolRun, exit: WorkerExit, stderr: string[], oomLine: string | undefined): PoolOutcome => {
    const error = new WorkerExitError(`task "${run.task}" (run ${run.id})`, exit, stderr, { oomLine, maxMemoryMb: run.maxMemoryMb });
    return {
      state: "failure", error: toErrorInfo(error), thrown: error,
      ...(exit.code !== undefined ? { exitCode: exit.code } : {}),
      ...(exit.signal !== undefined ? { exitSignal: exit.signal } : {}),
    };
  };

  const specOf = (run: PoolRun): WorkerSpec => {
    const env = { ...(run.env ?? {}) };
    const maxMemoryMb = run.maxMemoryMb;
    const isolate = run.isolate === "run";
    const key = isolate
      ? `isolate:${++isolates}`
      : JSON.stringify([Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)), maxMemoryMb ?? null]);
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
        if (!execa || !childEntry) await prepare();
        const got = await acquire(specOf(run), hooks.signal);
        if ("outcome" in got) return got.outcome;
        return await runOn(got.worker, run, hooks);
      } catch (error) {
        return failure(error);
      }
    },
    stats() {
      let busy = 0;
      let idle = 0;
      let starting = 0;
      for (const w of workers) {
        if (w.state === "busy") busy++;
        else if (w.state === "idle") idle++;
        else if (w.state === "starting") starting++;
      }
      return { workers: workers.size, busy, idle, starting, ...counts, queued: waiters.length };
    },
    reload() {
      for (const w of [...workers]) {
        w.stale = true;
        if (w.state === "idle") {
          counts.recycled++;
          emit({ type: "recycled", pid: w.pid, reason: "reload", runs: w.runs, rssMb: Math.round(w.rss / 1048576) });
          void stop(w);
        }
      }
      pump();
    },
    close(graceMs = killGraceMs) {
      closing ??= (async () => {
        closed = true;
        for (const waiter of waiters.splice(0)) waiter.settle({ outcome: stopped(new RunInterruptedError("interrupted: the worker pool is closing")) });
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

function abortBody(reason: Error): { code: string; message: string; timeoutMs?: number } {
  const code = (reason as { code?: unknown }).code;
  const timeoutMs = (reason as { timeoutMs?: unknown }).timeoutMs;
  return {
    code: typeof code === "string" ? code : "FLUID_INTERRUPTED",
    message: reason.message,
    ...(typeof timeoutMs === "number" ? { timeoutMs } : {}),
  };
}

function fromDone(done: DoneMessage): PoolOutcome {
  if (done.state === "success") return { state: "success", result: decodeValue(done.result) };
  return { state: done.state, ...(done.error ? { error: done.error, thrown: errorFromInfo(done.error) } : {}) };
}

function failure(error: unknown): PoolOutcome {
  return { state: "failure", error: toErrorInfo(error), thrown: error };
}
