import { format } from "node:util";
import { TaskAbortedError } from "../core/errors.js";
import type { LogLevel, LogLine, ParamsSchema, RunLogger } from "../core/types.js";
import { createExec, type ExecFn } from "./exec.js";
import type { QueueOptions, RunContext, Task } from "./task.js";

/** A log line with the run it belongs to. */
export interface RunLogLine extends LogLine {
  task: string;
  runId: string;
  attempt: number;
}

/** Receives every log line of a run (the CLI prints them; the store records them). */
export type LogSink = (line: RunLogLine) => void;

/** Queues a run on behalf of a running task (`ctx.queue`); returns the new run id. */
export type QueueFn = (
  task: Task | string,
  params: Record<string, unknown> | undefined,
  options: QueueOptions & { fromRunId: string; rootRunId: string },
) => Promise<string>;

/** Everything needed to build the `ctx` of one attempt. */
export interface ContextInit {
  task: Task;
  id: string;
  params: Record<string, unknown>;
  attempt: number;
  /** `ctx.signal`, or what makes it on first use (most runs never read it). */
  signal: AbortSignal | (() => AbortSignal);
  deps: unknown;
  fromRunId?: string | undefined;
  rootRunId?: string | undefined;
  log: LogSink;
  queue: QueueFn;
}

/**
 * Builds the `ctx` a task function receives. A class instance, not an object literal: a
 * literal with getters and methods costs a run ~10 us (V8 builds its accessors at run time,
 * and its closures outlive a scavenge), where this costs one allocation. The data fields are
 * own properties; `log`, `signal`, `abort`, `exec` and `queue` are getters that make what they
 * return on first use (most runs use none of them), so `const { log, queue } = ctx` works.
 */
export function createContext(init: ContextInit): RunContext<Record<string, unknown>> {
  return new TaskContext(init) as unknown as RunContext<Record<string, unknown>>;
}

/** `ctx.queue` as the context implements it (RunContext types it per task). */
type CtxQueue = (target: Task<ParamsSchema> | string, params?: Record<string, unknown>, options?: QueueOptions) => Promise<string>;

class TaskContext {
  readonly id: string;
  readonly name: string;
  readonly params: Record<string, unknown>;
  readonly attempt: number;
  readonly fromRunId: string | undefined;
  readonly rootRunId: string | undefined;
  readonly deps: unknown;
  #init: ContextInit;
  #log: RunLogger | undefined;
  #exec: ExecFn | undefined;
  #queue: CtxQueue | undefined;

  constructor(init: ContextInit) {
    this.#init = init;
    this.id = init.id;
    this.name = init.task.name;
    this.params = init.params;
    this.attempt = init.attempt;
    this.fromRunId = init.fromRunId;
    this.rootRunId = init.rootRunId;
    this.deps = init.deps;
  }

  get log(): RunLogger {
    return (this.#log ??= { debug: this.#emit("debug"), info: this.#emit("info"), warn: this.#emit("warn"), error: this.#emit("error") });
  }

  get signal(): AbortSignal {
    const signal = this.#init.signal;
    return typeof signal === "function" ? signal() : signal;
  }

  get abort(): (reason?: string) => never {
    return abort;
  }

  /** Made when first read (reading it means calling it): `ctx.signal`'s controller too. */
  get exec(): ExecFn {
    const init = this.#init;
    return (this.#exec ??= createExec((level, message) => init.log({ ts: Date.now(), level, message, task: init.task.name, runId: init.id, attempt: init.attempt }), this.signal));
  }

  get queue(): CtxQueue {
    return (this.#queue ??= (target, params, options = {}) =>
      this.#init.queue(target, params, { ...options, fromRunId: this.id, rootRunId: this.rootRunId ?? this.id }));
  }

  #emit(level: LogLevel): (message: unknown, ...args: unknown[]) => void {
    const init = this.#init;
    return (message, ...args) => init.log({ ts: Date.now(), level, message: format(message, ...args), task: init.task.name, runId: init.id, attempt: init.attempt });
  }
}

function abort(reason = ""): never {
  throw new TaskAbortedError(reason);
}
