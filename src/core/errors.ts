/**
 * Errors. One base class, `FluidError`, with a stable `code` and the process `exitCode` the
 * CLI uses for it. Recognise errors by `code` (see `isFluidError`), not only `instanceof`:
 * they cross process boundaries (child processes, the store) as plain objects.
 */

/**
 * Process exit codes of the `fluid` command (the README's table lists them). A run's final
 * state maps to one of them (src/cli/run.ts exitCodeOf): success 0; failure, timeout and
 * rate_limited 1; aborted 3; interrupted and cancelled 130.
 */
export const ExitCode = {
  /** The run succeeded; a command did what it was asked. */
  success: 0,
  /** The run failed, timed out or was rate-limited (after its retries). */
  failure: 1,
  /** A user mistake: usage, params, config, task module, store that cannot be opened. */
  usage: 2,
  /** The task stopped itself with ctx.abort(). */
  aborted: 3,
  /** `fluid status`: no daemon serves the store (as an LSB init script's `status` says "not running"). */
  notServing: 3,
  /** `fluid queue --wait --timeout` stopped waiting: the run has not ended yet (as timeout(1) exits). */
  waitTimeout: 124,
  /** Interrupted (SIGINT, SIGTERM) or cancelled (`fluid cancel`). */
  interrupted: 130,
} as const;

export interface FluidErrorOptions {
  /** The original error, kept for the stack and the record. */
  cause?: unknown;
  /** One line telling the user what to do about it. */
  hint?: string;
}

/**
 * Every code a `FluidError` carries. Stable: scripts match on them, and records store them.
 * Errors that are not fluid's own keep whatever code they had (`ErrorInfo.code` is a string).
 */
export type FluidErrorCode =
  // a user's mistake (exit code 2)
  | "FLUID_USAGE"
  | "FLUID_CONFIG"
  | "FLUID_TASK_DEFINITION"
  | "FLUID_SCHEDULE"
  | "FLUID_UNKNOWN_TASK"
  | "FLUID_PARAMS"
  | "FLUID_STORE"
  | "FLUID_LOCKED"
  | "FLUID_BACKEND"
  // how a run ended
  | "FLUID_TIMEOUT"
  | "FLUID_ABORTED"
  | "FLUID_INTERRUPTED"
  | "FLUID_CANCELLED"
  | "FLUID_EXEC"
  | "FLUID_RESULT"
  | "FLUID_NEVER_SETTLED"
  | "FLUID_WORKER_START"
  | "FLUID_WORKER_EXIT"
  | "FLUID_WORKER_OOM"
  // the client and the daemon
  | "FLUID_WAIT_TIMEOUT"
  | "FLUID_BROKER_CLOSED"
  | "FLUID_LEASE_LOST"
  | "FLUID_STORE_GONE";

/** Base class of every error fluid-tasks raises on purpose. */
export class FluidError extends Error {
  /** Stable machine-readable code, e.g. `FLUID_CONFIG`. */
  readonly code: FluidErrorCode;
  /** Exit code of the `fluid` command when this error ends it. */
  readonly exitCode: number;
  /** What to do about it, shown under the message. */
  readonly hint: string | undefined;

  constructor(code: FluidErrorCode, message: string, exitCode: number, options: FluidErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.hint = options.hint;
  }
}

/** A user mistake: a usage error of the CLI (exit 2). */
export class UsageError extends FluidError {
  constructor(message: string, options?: FluidErrorOptions) {
    super("FLUID_USAGE", message, ExitCode.usage, options);
  }
}

/** The config file is missing, cannot be loaded, or is invalid (exit 2). */
export class ConfigError extends FluidError {
  constructor(message: string, options?: FluidErrorOptions) {
    super("FLUID_CONFIG", message, ExitCode.usage, options);
  }
}

/** A `task()` definition has invalid options (exit 2). */
export class TaskDefinitionError extends FluidError {
  constructor(message: string, options?: FluidErrorOptions) {
    super("FLUID_TASK_DEFINITION", message, ExitCode.usage, options);
  }
}

/** A schedule (`every`, `crontab`, `cron`) is invalid (exit 2). */
export class ScheduleError extends FluidError {
  constructor(message: string, options?: FluidErrorOptions) {
    super("FLUID_SCHEDULE", message, ExitCode.usage, options);
  }
}

/** No task of that name is registered (exit 2). */
export class UnknownTaskError extends FluidError {
  readonly task: string;
  constructor(task: string, options?: FluidErrorOptions) {
    super("FLUID_UNKNOWN_TASK", `unknown task "${task}"`, ExitCode.usage, options);
    this.task = task;
  }
}

/** One problem found while validating params. */
export interface ParamsIssue {
  /** Dotted path of the param, "" for the whole object. */
  path: string;
  /** The CLI flag for it, when there is one (e.g. `--max-count`). */
  flag?: string;
  message: string;
}

/** Params failed validation against the task's schema (exit 2, never retried). */
export class ParamsError extends FluidError {
  readonly task: string;
  readonly issues: ParamsIssue[];
  constructor(task: string, issues: ParamsIssue[], options?: FluidErrorOptions) {
    const lines = issues.map((i) => `  ${i.flag ?? (i.path || "params")}: ${i.message}`);
    super("FLUID_PARAMS", `invalid params for task "${task}":\n${lines.join("\n")}`, ExitCode.usage, options);
    this.task = task;
    this.issues = issues;
  }
}

/** A run took longer than its timeout (exit 1). */
export class TaskTimeoutError extends FluidError {
  readonly timeoutMs: number;
  constructor(task: string, timeoutMs: number) {
    super("FLUID_TIMEOUT", `task "${task}" timed out after ${formatMs(timeoutMs)}`, ExitCode.failure, {
      hint: "raise the task's `timeout` option, or pass --timeout to `fluid run`",
    });
    this.timeoutMs = timeoutMs;
    // Made by fluid's timer, not thrown by the task: its frames say nothing about the run.
    this.stack = `${this.name}: ${this.message}`;
  }
}

/** The task stopped itself with `ctx.abort(reason)`: a deliberate stop, not a failure (exit 3). */
export class TaskAbortedError extends FluidError {
  readonly reason: string;
  constructor(reason: string) {
    super("FLUID_ABORTED", reason || "aborted", ExitCode.aborted);
    this.reason = reason;
  }
}

/** The run was stopped from outside: Ctrl-C, shutdown or `fluid cancel` (exit 130). */
export class RunInterruptedError extends FluidError {
  constructor(message = "interrupted", options?: FluidErrorOptions) {
    super("FLUID_INTERRUPTED", message, ExitCode.interrupted, options);
  }
}

/** The run was cancelled with `fluid cancel` (exit 130). */
export class RunCancelledError extends FluidError {
  constructor(message = "cancelled", options?: FluidErrorOptions) {
    super("FLUID_CANCELLED", message, ExitCode.interrupted, options);
  }
}

/**
 * Waiting for a run (`fluid queue --wait --timeout`, `queueAndWait`) gave up before the run
 * ended (exit 124). Not a user mistake and not the run's failure: the run goes on.
 */
export class WaitTimeoutError extends FluidError {
  readonly runId: string;
  constructor(runId: string, message: string, options?: FluidErrorOptions) {
    super("FLUID_WAIT_TIMEOUT", message, ExitCode.waitTimeout, options);
    this.runId = runId;
  }
}

/** The run store cannot be opened, read or written (exit 2). */
export class StoreError extends FluidError {
  constructor(message: string, options?: FluidErrorOptions) {
    super("FLUID_STORE", message, ExitCode.usage, options);
  }
}

/** True for a FluidError, also one that crossed a process boundary as a plain object. */
export function isFluidError(error: unknown): error is FluidError {
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as { code?: unknown }).code === "string" &&
    (error as { code: string }).code.startsWith("FLUID_") &&
    typeof (error as { exitCode?: unknown }).exitCode === "number"
  );
}

/**
 * A plain, JSON-safe description of any thrown value: the one encoding of an error wherever
 * one leaves the process or is kept (run records, `--json`, the pool's IPC, values a task
 * returns); `toErrorInfo` makes it and `fromErrorInfo` turns it back into an Error.
 */
export interface ErrorInfo {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  /** A FluidError's hint (what to do about it). */
  hint?: string;
  cause?: ErrorInfo;
  /** FLUID_EXEC (a program or command task failed): the program's exit code, when it exited. */
  childExitCode?: number;
  /** FLUID_EXEC: the signal that ended the program, when one did. */
  childSignal?: string;
}

/** Converts any thrown value to an `ErrorInfo` (follows `cause` a few levels deep; keeps a FluidError's hint). */
export function toErrorInfo(error: unknown, depth = 0): ErrorInfo {
  if (error instanceof Error) {
    const { code, hint } = error as { code?: unknown; hint?: unknown };
    const info: ErrorInfo = { name: error.name, message: error.message };
    if (typeof code === "string" || typeof code === "number") info.code = String(code);
    if (error.stack) info.stack = error.stack;
    const { childExitCode, childSignal } = error as { childExitCode?: unknown; childSignal?: unknown };
    if (typeof childExitCode === "number") info.childExitCode = childExitCode;
    if (typeof childSignal === "string") info.childSignal = childSignal;
    if (typeof hint === "string") info.hint = hint;
    if (error.cause !== undefined && depth < 4) info.cause = toErrorInfo(error.cause, depth + 1);
    return info;
  }
  return { name: "NonError", message: typeof error === "string" ? error : safeJson(error) };
}

/**
 * Rebuilds an Error from its `ErrorInfo` (name, code, hint, stack and causes kept; its class is
 * not: recognise it by `code`), e.g. for the retry policy, which reads `code` and `name`.
 */
export function fromErrorInfo(info: ErrorInfo): Error {
  const error = new Error(info.message, info.cause ? { cause: fromErrorInfo(info.cause) } : undefined);
  error.name = info.name;
  if (info.code !== undefined) (error as { code?: string }).code = info.code;
  if (info.hint !== undefined) (error as { hint?: string }).hint = info.hint;
  if (info.stack !== undefined) error.stack = info.stack;
  return error;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value); // a cycle, a BigInt: its string form is the best description left
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
