/**
 * The messages between the pool (parent) and a worker (child process) over the IPC channel.
 * Everything about a run (id, params, metadata) travels here, never on argv or in the
 * environment, so secrets do not show in `ps` or /proc/<pid>/environ.
 *
 * parent -> child: hello (once), run, abort, queued (the answer to a queue request)
 * child -> parent: ready | fatal (once), log, queue, done
 *
 * After a run that printed to its stdout or stderr, the child writes a sync mark there, so the
 * parent knows it has read every line the run printed before it ends the run (IPC and the two
 * pipes are separate channels with no order between them).
 */
import { RunCancelledError, RunInterruptedError, TaskTimeoutError, toErrorInfo, type ErrorInfo } from "../errors.js";
import type { QueueOptions } from "../task/task.js";
import type { AttemptOutcome, LogLine } from "../types.js";

/** An ErrorInfo that may also carry the FluidError hint. */
export type WireError = ErrorInfo & { hint?: string };

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

/** Stop the current run: `ctx.signal` aborts in the child with the error this describes. */
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

export type ParentMessage = HelloMessage | RunMessage | AbortMessage | QueuedMessage;

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

export type ChildMessage = ReadyMessage | FatalMessage | LogMessage | QueueMessage | DoneMessage;

/** The line the child prints on stdout and stderr after run `seq`: `<mark><seq>`. */
export function syncMark(mark: string, seq: number): string {
  return `${mark}${seq}`;
}

/** toErrorInfo plus the FluidError hint, for errors that cross to the parent. */
export function toWireError(error: unknown): WireError {
  const info: WireError = toErrorInfo(error);
  const hint = (error as { hint?: unknown } | null)?.hint;
  if (typeof hint === "string") info.hint = hint;
  return info;
}

/**
 * Rebuilds an Error from its plain description, for `AttemptOutcome.thrown` (the retry policy
 * reads `code` and `name`) and for errors the parent hands back to the child.
 */
export function errorFromInfo(info: WireError): Error {
  const error = new Error(info.message, info.cause ? { cause: errorFromInfo(info.cause) } : undefined);
  error.name = info.name;
  if (info.code !== undefined) (error as { code?: string }).code = info.code;
  if (info.hint !== undefined) (error as { hint?: string }).hint = info.hint;
  if (info.stack !== undefined) error.stack = info.stack;
  return error;
}

/** The abort message for an outside stop or a timeout. */
export function abortMessage(seq: number, reason: Error & { code?: string; timeoutMs?: number }): AbortMessage {
  return {
    type: "abort", seq, code: reason.code ?? "FLUID_INTERRUPTED", message: reason.message,
    ...(typeof reason.timeoutMs === "number" ? { timeoutMs: reason.timeoutMs } : {}),
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
