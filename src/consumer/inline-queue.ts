import { parseDuration } from "../core/duration.js";
import type { Registry } from "../config/registry.js";
import type { QueueFn } from "../task/context.js";
import { validateParams } from "../task/params.js";
import { newRunId } from "../core/run-id.js";
import { runTask, type RunResult, type RunTaskOptions } from "./run-task.js";

/** Runs queued by tasks during `fluid run`, executed in this process. */
export interface InlineQueue {
  /** The `ctx.queue` handler to pass to runTask. */
  queue: QueueFn;
  /** Waits until every queued run (and the runs they queue) has ended. */
  drain(): Promise<RunResult[]>;
}

/**
 * A queue for `fluid run` when no daemon queue is used: chained runs execute in this process,
 * concurrently, after their delay. Params are validated when queued, so the queueing task
 * gets a ParamsError at once.
 */
export function createInlineQueue(registry: Registry, base: Omit<RunTaskOptions, "params" | "id" | "queue">): InlineQueue {
  const pending = new Set<Promise<RunResult>>();
  const done: RunResult[] = [];
  const queue: QueueFn = async (target, params, options) => {
    const name = typeof target === "string" ? target : target.name;
    await registry.ensure(name); // `fluid run` may have loaded only the module of its own task
    const task = registry.get(name);
    validateParams(task.name, task.params, params ?? {});
    const id = newRunId();
    const delay = options.delay === undefined ? 0 : parseDuration(options.delay, "delay");
    const run = (async () => {
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      return runTask(task, {
        ...base, params, id, trigger: "queue", queue, fromRunId: options.fromRunId, rootRunId: options.rootRunId,
      });
    })();
    pending.add(run);
    void run.then((r) => {
      done.push(r);
      pending.delete(run);
    }, () => pending.delete(run));
    return id;
  };
  return {
    queue,
    async drain() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
      return done;
    },
  };
}
