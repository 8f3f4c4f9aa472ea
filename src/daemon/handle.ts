import type { ParamsArgs, Task } from "../task/task.js";
import type { ParamsSchema } from "../core/types.js";
import type { FinishedRun, QueueAndWaitOptions, QueueRunOptions } from "./client.js";

/**
 * A task as `task()` returns it: the definition, plus methods that queue runs of it for the
 * daemon (`fluid serve`) from any script sharing the project's store.
 */
export interface TaskHandle<P extends ParamsSchema = ParamsSchema, R = unknown> extends Task<P, R> {
  /**
   * Validates `params` against the task's schema and queues a run for the daemon; resolves with
   * its run id once the run is queued and recorded. Finds the project as `fluid` does (options
   * `cwd`, `config`), so it works from any script sharing the store; inside a task, use `ctx.queue`.
   * @example const id = await sayHi.queue({ name: "bob" }, { delay: "5m" });
   */
  queue(...args: ParamsArgs<P, QueueRunOptions>): Promise<string>;
  /**
   * Queues a run as `queue` does and resolves with its final attempt (after any retries), whose
   * `result` is what the task returned (when `state` is "success"). Does not throw when the run
   * fails: look at `state` and `error`. Throws a WaitTimeoutError after `timeoutMs`. The daemon
   * (`fluid serve`) must be running for the run to start.
   * @example
   * const run = await sayHi.queueAndWait({ name: "bob" }, { timeoutMs: 60_000 });
   * if (run.state === "success") console.log(run.result);
   */
  queueAndWait(...args: ParamsArgs<P, QueueAndWaitOptions>): Promise<FinishedRun<R>>;
}

/**
 * Adds the handle methods to a task. They load the client on first call, so defining a task
 * loads nothing more (task modules are evaluated at every `fluid` start). Plain assignment:
 * Object.defineProperties cost 10-30x more per task, which a project of 1,000 tasks would feel.
 */
export function withHandle<P extends ParamsSchema, R>(t: Task<P, R>): TaskHandle<P, R> {
  const handle = t as TaskHandle<P, R>;
  handle.queue = async (params?: unknown, options?: QueueRunOptions) =>
    (await import("./client.js")).queueRun(t as Task, params as Record<string, unknown>, options);
  handle.queueAndWait = async (params?: unknown, options?: QueueAndWaitOptions) =>
    (await import("./client.js")).queueAndWait(t as Task, params as Record<string, unknown>, options) as Promise<FinishedRun<R>>;
  return handle;
}
