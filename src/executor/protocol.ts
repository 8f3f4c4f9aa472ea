/**
 * The messages between the pool (parent) and a worker (child process) over the IPC channel.
 * Everything about a run (id, params, metadata) travels here, never on argv or in the
 * environment, so secrets do not show in `ps` or /proc/<pid>/environ.
 *
 * parent -> child: hello (once), run, abort, drop, queued (the answer to a queue request);
 *   several messages written in the same event-loop turn go as one array (one write).
 * child -> parent: ready | fatal (once), log, queue, done, dropped
 *
 * The child executes its runs one at a time, in the order they came. The pool may hand a busy
 * worker its next run before the current one ends (prefetch), so the child never waits for a
 * round trip between runs; the child sends a run's `done` before it starts the next run, which
 * is how the parent knows when that next run started. A run the child has not started yet can
 * be taken back (`abort` of that run, or `drop`): the child answers `dropped`.
 *
 * When a run first prints to its stdout or stderr, the child writes a begin mark there, and
 * after a run that printed, an end mark, so the parent knows which run each line belongs to and
 * that it has read every line the run printed before it ends the run (IPC and the two pipes are
 * separate channels with no order between them).
 */
import { fromErrorInfo, RunCancelledError, RunInterruptedError, TaskTimeoutError, toErrorInfo, type ErrorInfo } from "../core/errors.js";
import type { QueueOptions } from "../task/task.js";
import type { AttemptOutcome, LogLine } from "../core/types.js";

/** An error as it crosses the IPC channel: the one encoding, `ErrorInfo` (core/errors.ts). */
export type WireError = ErrorInfo;

export interface HelloMessage {
  type: "hello";
  /** Config file to load (as `--config`); FLUID_CONFIG is never read in a worker. */
  configFile: string;
  cwd: string;
  /** Random text that starts the sync mark, so no line a task prints can pass for one. */
  mark: string;
}

export interface RunMessage {
  type: "run";
  /** Sequence number of the run on this worker; every answer carries it. */
  seq: number;
  task: string;
  id: string;
  /** The params, encoded with `encodeValue`. */
  params: string;
  attempt: number;
  fromRunId?: string | undefined;
  rootRunId?: string | undefined;
}

/**
 * Stop run `seq`: if it is executing, `ctx.signal` aborts in the child with the error this
 * describes; if it has not started yet, the child drops it and answers `dropped`.
 */
export interface AbortMessage {
  type: "abort";
  seq: number;
  code: string;
  message: string;
  /** For FLUID_TIMEOUT: the limit, to rebuild the TaskTimeoutError. */
  timeoutMs?: number;
}

export interface QueuedMessage {
  type: "queued";
  seq: number;
  req: number;
  id?: string;
  error?: WireError;
}

/** Take back runs that have not started: the given ones, or all. The child answers `dropped`. */
export interface DropMessage {
  type: "drop";
  /** The runs to take back; undefined: every run not started yet. */
  seqs?: number[];
}

export type ParentMessage = HelloMessage | RunMessage | AbortMessage | DropMessage | QueuedMessage;

export interface ReadyMessage {
  type: "ready";
  rss: number;
}

/** The child could not load the project or resolve deps; it exits after sending this. */
export interface FatalMessage {
  type: "fatal";
  error: WireError;
}

export interface LogMessage {
  type: "log";
  seq: number;
  line: LogLine;
}

/** `ctx.queue(...)` in the child: the parent enqueues and answers with `queued`. */
export interface QueueMessage {
  type: "queue";
  seq: number;
  req: number;
  task: string;
  /** The params, encoded with `encodeValue` (undefined: none). */
  params: string | undefined;
  options: QueueOptions & { fromRunId: string; rootRunId: string };
}

export interface DoneMessage {
  type: "done";
  seq: number;
  state: AttemptOutcome["state"];
  /** The result, encoded with `encodeValue`. */
  result?: string | undefined;
  error?: WireError;
  /** Resident set size of the child after the run, in bytes (for recycling; sampled, up to 200 ms old). */
  rss: number;
  /** Which streams carry a sync mark after this run: those the run printed to. */
  marks: { out: boolean; err: boolean };
}

/** Runs the child took out of its queue without starting them (after `abort` or `drop`). */
export interface DroppedMessage {
  type: "dropped";
  seqs: number[];
}

export type ChildMessage = ReadyMessage | FatalMessage | LogMessage | QueueMessage | DoneMessage | DroppedMessage;

/** The line the child prints on stdout and stderr after run `seq`: `<mark><seq>`. */
export function syncMark(mark: string, seq: number): string {
  return `${mark}${seq}`;
}

/** The line the child prints on a stream before the first line run `seq` prints there: `<mark>+<seq>`. */
export function beginMark(mark: string, seq: number): string {
  return `${mark}+${seq}`;
}

/** `toErrorInfo` (core/errors.ts), under the name the executor used before there was one encoding. */
export const toWireError: (error: unknown) => WireError = toErrorInfo;

/** `fromErrorInfo` (core/errors.ts), under the name the executor used before there was one encoding. */
export const errorFromInfo: (info: WireError) => Error = fromErrorInfo;

/** The abort message for an outside stop or a timeout. */
export function abortMessage(seq: number, reason: Error): AbortMessage {
  const { code, timeoutMs } = reason as { code?: unknown; timeoutMs?: unknown };
  return {
    type: "abort", seq, code: typeof code === "string" ? code : "FLUID_INTERRUPTED", message: reason.message,
    ...(typeof timeoutMs === "number" ? { timeoutMs } : {}),
  };
}

/** The error `ctx.signal.reason` holds in the child after an abort message. */
export function abortReason(message: AbortMessage, task: string): Error {
  switch (message.code) {
    case "FLUID_TIMEOUT":
      return new TaskTimeoutError(task, message.timeoutMs ?? 0);
    case "FLUID_CANCELLED":
      return new RunCancelledError(message.message);
    default:
      return new RunInterruptedError(message.message);
  }
}
