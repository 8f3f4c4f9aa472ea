import type { WorkerSpec } from "./worker.js";
import { inPool, type RecycleReason, type WorkerState } from "./worker-state.js";

/**
 * The pool's decisions as pure functions of its state: no process, no timer, no I/O. The pool
 * (pool.ts) applies what they return; test/executor/dispatch.test.ts checks them table by table.
 */

/** The settings dispatch decides by (from PoolOptions, with defaults applied). */
export interface PoolConfig {
  /** Most workers holding a place at once (a successor may add one for a while). */
  size: number;
  /** Runs a busy worker may hold besides the one it executes. */
  prefetch: number;
  /** A worker is recycled after this many runs. */
  maxRuns: number;
  /** From this many runs, its successor starts beside it (Infinity: never). */
  successorAt: number;
  /** A worker whose RSS after a run is above this is recycled, bytes. */
  maxRssBytes: number;
  /** An idle worker is reaped after this long, ms; 0 = never. */
  idleTimeoutMs: number;
}

/** A run waiting for a worker, as dispatch sees it. */
export interface WaitingRun {
  readonly spec: WorkerSpec;
  /** The starting worker this run waits for (started for it, or found starting). */
  readonly spawned: WorkerState | undefined;
}

/** What dispatch decides by. */
export interface PoolView<W extends WaitingRun = WaitingRun> {
  readonly config: PoolConfig;
  /** Every worker the pool tracks (those stopping too, until gone). */
  readonly workers: Iterable<WorkerState>;
  /** Runs waiting for a worker, in order. */
  readonly queue: readonly W[];
  readonly closed: boolean;
}

/** One thing to do. */
export type Decision<W extends WaitingRun = WaitingRun> =
  /** Give the waiting run to the worker (idle, or with room ahead): it leaves the line. */
  | { type: "assign"; run: W; worker: WorkerState }
  /** The waiting run waits for this starting worker. */
  | { type: "wait"; run: W; worker: WorkerState }
  /** Start a worker: for a waiting run, or to replace one lost. */
  | { type: "spawn"; spec: WorkerSpec; run?: W; why: "run" | "replace" }
  /** Start the successor of a worker near its run limit, beside it. */
  | { type: "successor"; worker: WorkerState }
  /** Take the worker out of service and stop it. `recycled`: report it recycled for that reason. */
  | { type: "stop"; worker: WorkerState; why: "room" | "drained" | "reaped" | "stale" | "orphan"; recycled?: RecycleReason }
  /** No more runs for the worker; the ones it has not started go back in line. */
  | { type: "drain"; worker: WorkerState; reason: RecycleReason }
  /** The worker holds no run: keep it warm. */
  | { type: "idle"; worker: WorkerState }
  /** Ask the busy worker to give back the last run it has not started (an idle one takes it). */
  | { type: "steal"; from: WorkerState }
  /** Mark the worker's project out of date. */
  | { type: "stale"; worker: WorkerState };

/** A decision about workers alone (no waiting run in it). */
export type WorkerDecision = Decision<never>;

/** Workers holding a place in the pool. */
export function liveCount(view: PoolView<WaitingRun>): number {
  let n = 0;
  for (const w of view.workers) if (inPool(w)) n++;
  return n;
}

/** The idle worker that has waited longest among those `pred` accepts. */
function longestIdle(workers: Iterable<WorkerState>, pred: (w: WorkerState) => boolean): WorkerState | undefined {
  let best: WorkerState | undefined;
  for (const w of workers) {
    if (w.phase === "idle" && pred(w) && (!best || w.idleSince < best.idleSince)) best = w;
  }
  return best;
}

/** The idle worker that can take a run of `key` now and has waited longest (a loop of its own: it runs for every run). */
function idleFor(workers: Iterable<WorkerState>, key: string, skip?: (w: WorkerState) => boolean): WorkerState | undefined {
  let best: WorkerState | undefined;
  for (const w of workers) {
    if (w.phase === "idle" && w.spec.key === key && !w.stale && !skip?.(w) && (!best || w.idleSince < best.idleSince)) best = w;
  }
  return best;
}

/** The least loaded busy worker of `key` that can take one more run ahead. */
function roomFor(workers: Iterable<WorkerState>, key: string, prefetch: number, extra?: ReadonlyMap<WorkerState, number>): WorkerState | undefined {
  let best: WorkerState | undefined;
  let bestLoad = Infinity;
  for (const w of workers) {
    const added = extra?.get(w);
    // A worker given a run in this same decision is busy, whatever its phase says.
    if (!(w.phase === "busy" || (added !== undefined && w.phase === "idle")) || w.spec.isolate || w.spec.key !== key) continue;
    const load = w.load + (added ?? 0);
    if (load > prefetch) continue;
    if (load < bestLoad) {
      best = w;
      bestLoad = load;
    }
  }
  return best;
}

/**
 * A worker for a new run of `spec` without waiting, when nothing waits before it: an idle one,
 * or, when the pool is full and nothing is starting, room ahead in a busy one. Undefined: the
 * run joins the line (`dispatch`).
 */
export function placeNow(view: PoolView<WaitingRun>, spec: WorkerSpec): WorkerState | undefined {
  if (view.queue.length > 0 || spec.isolate || view.closed) return undefined;
  const idle = idleFor(view.workers, spec.key);
  if (idle) return idle;
  let live = 0;
  for (const w of view.workers) {
    if (!inPool(w)) continue;
    if (w.phase === "starting") return undefined; // it will be ready soon
    live++;
  }
  return live >= view.config.size ? roomFor(view.workers, spec.key, view.config.prefetch) : undefined;
}

/**
 * Hands workers to the waiting runs, in order: an idle worker of the run's kind; else a
 * starting one no other run waits for; else, within `size`, a new one. When the pool is full:
 * room ahead in a busy worker of its kind, or else the longest-idle worker of another kind is
 * stopped to make room; when every worker is busy or starting, the rest of the line waits.
 */
export function dispatch<W extends WaitingRun>(view: PoolView<W>): Decision<W>[] {
  const out: Decision<W>[] = [];
  if (view.closed || view.queue.length === 0) return out;
  const { workers, config } = view;
  if (!anyChoice(view)) return out; // the common case under load: every worker busy and full
  // What this call has decided so far, as the pool will see it once applied.
  const given = new Map<WorkerState, number>(); // runs given per worker
  const stopped = new Set<WorkerState>();
  const claimed = new Set<WorkerState>(); // starting workers some run waits for
  for (const r of view.queue) if (r.spawned?.phase === "starting") claimed.add(r.spawned);
  let live = liveCount(view);
  const give = (run: W, worker: WorkerState): void => {
    given.set(worker, (given.get(worker) ?? 0) + 1);
    out.push({ type: "assign", run, worker });
  };
  const unavailable = (w: WorkerState): boolean => given.has(w) || stopped.has(w);
  for (const run of view.queue) {
    const { spec } = run;
    if (!spec.isolate) {
      const idle = idleFor(workers, spec.key, unavailable);
      if (idle) {
        give(run, idle);
        continue;
      }
    }
    if (run.spawned && claimed.has(run.spawned)) continue; // its worker is on its way
    let starting: WorkerState | undefined;
    if (!spec.isolate) {
      for (const w of workers) {
        if (w.phase === "starting" && w.spec.key === spec.key && !w.stale && !claimed.has(w)) {
          starting = w;
          break;
        }
      }
    }
    if (!starting && live >= config.size) {
      const room = spec.isolate ? undefined : roomFor(workers, spec.key, config.prefetch, given);
      if (room) {
        give(run, room);
        continue;
      }
      const victim = longestIdle(workers, (w) => !unavailable(w));
      if (!victim) break; // every worker is busy or starting: the rest wait in order
      stopped.add(victim);
      live--;
      out.push({ type: "stop", worker: victim, why: "room" });
    }
    if (starting) {
      claimed.add(starting);
      out.push({ type: "wait", run, worker: starting });
    } else {
      live++;
      out.push({ type: "spawn", spec, run, why: "run" });
    }
  }
  return out;
}

/** Whether any run in line could get a worker now: one idle or starting, room to start one, or room ahead. */
function anyChoice(view: PoolView<WaitingRun>): boolean {
  let live = 0;
  for (const w of view.workers) {
    if (!inPool(w)) continue;
    live++;
    if (w.phase === "idle" || w.phase === "starting" || (w.phase === "busy" && w.load <= view.config.prefetch)) return true;
  }
  return live < view.config.size;
}

/**
 * Whether to start a worker of `spec` in the background after one was lost (crashed, killed,
 * recycled), so the next run finds it warm: not when runs wait (dispatch serves them), the pool
 * is full, or one of that kind is idle or starting.
 */
export function replacement(view: PoolView<WaitingRun>, spec: WorkerSpec): WorkerDecision | undefined {
  if (view.closed || spec.isolate || view.queue.length > 0) return undefined;
  let live = 0;
  for (const w of view.workers) {
    if (!inPool(w)) continue;
    live++;
    if (w.spec.key === spec.key && (w.phase === "idle" || w.phase === "starting")) return undefined;
  }
  return live >= view.config.size ? undefined : { type: "spawn", spec, why: "replace" };
}

/**
 * A run has left `worker` (its state already counts it). Due for recycling (run limit, memory)
 * it drains; near its run limit its successor starts; holding no run, it stops (draining,
 * single use, pool closed: then maybe a replacement) or goes idle.
 */
export function afterRun(view: PoolView<WaitingRun>, worker: WorkerState, counted: boolean): WorkerDecision[] {
  const out: WorkerDecision[] = [];
  const { config } = view;
  let phase = worker.phase;
  let reason = worker.drainReason;
  if (counted && phase === "busy" && !view.closed && !worker.spec.isolate) {
    const due = worker.runs >= config.maxRuns ? "runs" : worker.rss > config.maxRssBytes ? "memory" : undefined;
    if (due) {
      out.push({ type: "drain", worker, reason: due });
      phase = "draining";
      reason = due;
    } else if (worker.runs >= config.successorAt && !worker.succeeded) {
      out.push({ type: "successor", worker });
    }
  }
  if (worker.load > 0 || !(phase === "busy" || phase === "draining" || phase === "killing")) return out;
  if (view.closed || phase !== "busy" || worker.spec.isolate) {
    out.push({ type: "stop", worker, why: "drained", ...(reason && !view.closed ? { recycled: reason } : {}) });
    const again = replacementAfterStop(view, worker);
    if (again) out.push(again);
    return out;
  }
  out.push({ type: "idle", worker });
  return out;
}

/** `replacement` for the spec of `gone`, as if `gone` no longer held its place. */
export function replacementAfterStop(view: PoolView<WaitingRun>, gone: WorkerState): WorkerDecision | undefined {
  const others: PoolView<WaitingRun> = { ...view, workers: filter(view.workers, (w) => w !== gone) };
  return replacement(others, gone.spec);
}

function* filter<T>(items: Iterable<T>, pred: (t: T) => boolean): Iterable<T> {
  for (const t of items) if (pred(t)) yield t;
}

/**
 * An idle worker takes over a run still waiting in a busy worker of its kind (it would wait
 * behind a long run there): the first busy worker of that kind with a run not started
 * (`waiting(w)` > 0). Nothing when runs wait in line (they take the idle worker).
 */
export function steal(view: PoolView<WaitingRun>, idle: WorkerState, waiting: (w: WorkerState) => number): WorkerDecision | undefined {
  if (view.queue.length > 0 || idle.phase !== "idle") return undefined;
  for (const w of view.workers) {
    if (w === idle || w.spec.key !== idle.spec.key || !(w.phase === "busy" || w.phase === "draining" || w.phase === "killing")) continue;
    if (waiting(w) > 0) return { type: "steal", from: w };
  }
  return undefined;
}

/**
 * A starting worker is ready: a stale one (or any once closed) stops; a single-use one goes to
 * the run it was started for, or stops when that run is gone; any other goes idle.
 */
export function whenReady<W extends WaitingRun>(view: PoolView<W>, worker: WorkerState): Decision<W>[] {
  if (worker.phase !== "idle") return []; // stopped or lost while it started
  if (view.closed || worker.stale) return [{ type: "stop", worker, why: "stale" }];
  if (worker.spec.isolate) {
    const run = view.queue.find((r) => r.spawned === worker);
    return run ? [{ type: "assign", run, worker }] : [{ type: "stop", worker, why: "orphan" }];
  }
  return [{ type: "idle", worker }];
}

/** After `reload()`: every worker's project is out of date; idle ones are recycled now, busy ones drain. */
export function reload(view: PoolView<WaitingRun>): WorkerDecision[] {
  const out: WorkerDecision[] = [];
  for (const w of view.workers) {
    if (!inPool(w)) continue;
    out.push({ type: "stale", worker: w });
    if (w.phase === "idle") out.push({ type: "stop", worker: w, why: "stale", recycled: "reload" });
    else if (w.phase === "busy") out.push({ type: "drain", worker: w, reason: "reload" });
  }
  return out;
}

/**
 * Idle workers idle for `idleTimeoutMs` or longer at `now` are reaped; `next` is when the next
 * one is due (undefined: none is idle, or reaping is off).
 */
export function reap(view: PoolView<WaitingRun>, now: number): { stop: WorkerDecision[]; next: number | undefined } {
  const { idleTimeoutMs } = view.config;
  const stop: WorkerDecision[] = [];
  let next: number | undefined;
  if (idleTimeoutMs <= 0) return { stop, next };
  for (const w of view.workers) {
    if (w.phase !== "idle") continue;
    const due = w.idleSince + idleTimeoutMs;
    if (due <= now) stop.push({ type: "stop", worker: w, why: "reaped" });
    else if (next === undefined || due < next) next = due;
  }
  return { stop, next };
}

/** When a worker's process exited by itself: during its start, a run, or while idle. */
export function crashedDuring(worker: WorkerState): "start" | "run" | "idle" {
  return !worker.everReady ? "start" : worker.load > 0 ? "run" : "idle";
}
