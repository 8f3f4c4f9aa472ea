import type { WorkerSpec } from "./worker.js";

/**
 * Where a worker of the pool is in its life. `transition` is the one place that moves it.
 *
 *   starting -> idle <-> busy -> draining | killing -> stopping -> exited
 *   any phase before stopping -> lost (its process exited by itself) -> stopping -> exited
 *
 * - starting: its process loads the project.
 * - idle: ready, holds no run.
 * - busy: holds runs: the one its child executes, and up to `prefetch` more sent ahead.
 * - draining: takes no more runs; stopped when the ones it holds have ended (recycled: too many
 *   runs, too much memory, or an older project after a reload; or a single-use worker).
 * - killing: a run in it is being aborted; the pool stops it after the abort grace.
 * - lost: its process exited by itself; it holds its place in the pool until its exit is
 *   handled (its last output read, its runs ended).
 * - stopping: its process tree is being stopped; it no longer counts toward the pool's size.
 * - exited: gone.
 */
export type WorkerPhase = "starting" | "idle" | "busy" | "draining" | "killing" | "lost" | "stopping" | "exited";

/** Why a worker is recycled. */
export type RecycleReason = "runs" | "memory" | "reload";

/** What the pool knows of one worker; read-only outside this module (see `transition`). */
export interface WorkerState {
  readonly id: number;
  readonly spec: WorkerSpec;
  readonly phase: WorkerPhase;
  /** Runs given to it that have not ended (started, or waiting in its child). */
  readonly load: number;
  /** Runs it executed to their end. */
  readonly runs: number;
  /** Resident set size of its process after its last run (or when it became ready), bytes. */
  readonly rss: number;
  /** When it last became idle (Date.now()), for reaping. */
  readonly idleSince: number;
  /** It has been ready once (a crash before that is a crash at start). */
  readonly everReady: boolean;
  /** It loaded an older version of the project (reload): no new runs once ready. */
  readonly stale: boolean;
  /** Its successor has been started beside it (it is near its run limit). */
  readonly succeeded: boolean;
  /** Why it is draining; undefined for a single-use worker (not reported as recycled). */
  readonly drainReason: RecycleReason | undefined;
}

/** Something that happens to a worker; see `transition`. */
export type WorkerEvent =
  /** It loaded the project. */
  | { type: "ready"; rss: number; now: number }
  /** It is given one more run. */
  | { type: "claim" }
  /** A run left it: `counted` when it ran to its end (the run count grows); `rss` after it. */
  | { type: "run-left"; counted: boolean; rss: number }
  /** It holds no run and stays warm. */
  | { type: "idle"; now: number }
  /** No more runs; stopped once the ones it holds end. */
  | { type: "drain"; reason: RecycleReason | undefined }
  /** A run in it is being aborted: no more runs, stopped after the grace. */
  | { type: "kill" }
  /** Its project is out of date. */
  | { type: "stale" }
  /** Its successor has been started. */
  | { type: "succeeded" }
  /** Its process exited by itself. */
  | { type: "lost" }
  /** The pool stops its process tree. */
  | { type: "stop" }
  /** Its process tree is gone. */
  | { type: "gone" };

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Phases in which a worker holds a place in the pool (counts toward its size). */
const IN_POOL: ReadonlySet<WorkerPhase> = new Set(["starting", "idle", "busy", "draining", "killing", "lost"]);

/** Whether the worker holds a place in the pool (counts toward `size`). */
export function inPool(w: WorkerState): boolean {
  return IN_POOL.has(w.phase);
}

/** A worker that is ready and takes runs: idle, or busy (and not draining, killing, lost). */
export function takesRuns(w: WorkerState): boolean {
  return w.phase === "idle" || w.phase === "busy";
}

let nextId = 1;

/** A new worker's state: starting. */
export function newWorkerState(spec: WorkerSpec, id = nextId++): WorkerState {
  return {
    id, spec, phase: "starting", load: 0, runs: 0, rss: 0, idleSince: 0,
    everReady: false, stale: false, succeeded: false, drainReason: undefined,
  };
}

function illegal(worker: WorkerState, event: WorkerEvent): never {
  throw new IllegalTransitionError(worker, event);
}

/** A move the state machine does not allow (a defect of the pool, not of the task). */
export class IllegalTransitionError extends Error {
  constructor(w: WorkerState, event: WorkerEvent) {
    super(`worker ${w.id}: "${event.type}" is not allowed while ${w.phase}`);
    this.name = "IllegalTransitionError";
  }
}

/**
 * Applies `event` to the worker: the one place the pool's view of a worker changes. Events that
 * no longer matter (a late "ready" after a stop, a "kill" of a worker already lost) change
 * nothing; a move the machine does not allow throws IllegalTransitionError.
 */
export function transition(worker: WorkerState, event: WorkerEvent): void {
  const w = worker as Mutable<WorkerState>;
  switch (event.type) {
    case "ready":
      w.everReady = true;
      w.rss = event.rss;
      if (w.phase !== "starting") return; // stopped or lost while it started
      w.phase = "idle";
      w.idleSince = event.now;
      return;
    case "claim":
      if (!takesRuns(w)) illegal(worker, event);
      w.phase = "busy";
      w.load++;
      return;
    case "run-left":
      if (w.load <= 0) illegal(worker, event);
      w.load--;
      if (event.counted) w.runs++;
      w.rss = event.rss;
      return;
    case "idle":
      if (w.phase !== "busy" && w.phase !== "idle") illegal(worker, event);
      if (w.load !== 0) illegal(worker, event);
      w.phase = "idle";
      w.idleSince = event.now;
      return;
    case "drain":
      if (w.phase !== "busy" && w.phase !== "idle") illegal(worker, event);
      w.phase = "draining";
      w.drainReason = event.reason;
      return;
    case "kill":
      if (w.phase === "lost" || w.phase === "stopping" || w.phase === "exited") return; // it is going anyway
      if (w.phase === "starting") illegal(worker, event);
      w.phase = "killing";
      w.drainReason = undefined;
      return;
    case "stale":
      w.stale = true;
      return;
    case "succeeded":
      w.succeeded = true;
      return;
    case "lost":
      if (IN_POOL.has(w.phase)) w.phase = "lost";
      return;
    case "stop":
      if (w.phase !== "exited") w.phase = "stopping";
      return;
    case "gone":
      w.phase = "exited";
      return;
  }
}
