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

/** Builds the `ctx` a task function receives. */
export function createContext(init: ContextInit): RunContext<Record<string, unknown>> {
  const { task, id, attempt } = init;
  const emit = (level: LogLevel) => (message: unknown, ...args: unknown[]) =>
    init.log({ ts: Date.now(), level, message: format(message, ...args), task: task.name, runId: id, attempt });
  let log: RunLogger | undefined; // made on first use: many runs log nothing
  let exec: ExecFn | undefined; // made on first use: most runs start no program
  const signal = typeof init.signal === "function" ? init.signal : (): AbortSignal => init.signal as AbortSignal;
  return {
    id,
    name: task.name,
    params: init.params,
    attempt,
    get log() {
      return (log ??= { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") });
    },
    get signal() {
      return signal();
    },
    abort(reason = ""): never {
      throw new TaskAbortedError(reason);
    },
    fromRunId: init.fromRunId,
    rootRunId: init.rootRunId,
    deps: init.deps,
    exec(...args: Parameters<ExecFn>) {
      exec ??= createExec((level, message) => init.log({ ts: Date.now(), level, message, task: task.name, runId: id, attempt }), signal());
      return exec(...args);
    },
    queue(target: Task<ParamsSchema> | string, params?: Record<string, unknown>, options: QueueOptions = {}) {
      return init.queue(target as Task | string, params, { ...options, fromRunId: id, rootRunId: init.rootRunId ?? id });
    },
  } as RunContext<Record<string, unknown>>;
}
