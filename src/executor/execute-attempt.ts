import type { ContextInit } from "../task/context.js";
import { executeInline, type InlineOptions } from "./inline.js";
import type { Pool, PoolOutcome } from "./pool.js";

/** Options of `executeAttempt`: the inline options plus the pool for cpu-bound tasks. */
export interface AttemptOptions extends InlineOptions {
  /** Worker pool for tasks with `cpuBound: true`. Default: none, every task runs inline. */
  pool?: Pool | undefined;
}

/**
 * Executes one attempt where its task belongs: a cpu-bound task in a worker of the pool, any
 * other task inline on this event loop. Same contract as `executeInline` (never throws; the
 * outcome says how it ended; a worker's exit code when it died). A cpu-bound run's `ctx.deps` are the worker's own: it calls the
 * config's `deps` once when it starts, so `init.deps` is not used for it.
 */
export function executeAttempt(init: Omit<ContextInit, "signal">, options: AttemptOptions): Promise<PoolOutcome> {
  const { task } = init;
  if (!task.cpuBound || !options.pool) return executeInline(init, options);
  return options.pool.execute(
    {
      task: task.name, id: init.id, params: init.params, attempt: init.attempt,
      fromRunId: init.fromRunId, rootRunId: init.rootRunId, timeoutMs: options.timeoutMs,
      env: task.env, // copied by the pool only when it starts a worker for it
      ...(task.maxMemoryMb !== undefined ? { maxMemoryMb: task.maxMemoryMb } : {}),
      isolate: task.isolate,
    },
    {
      signal: options.signal,
      queue: init.queue,
      // The pool's lines carry no run: tag them as the inline executor's lines are tagged.
      log: (line) => init.log({ ...line, task: task.name, runId: init.id, attempt: init.attempt }),
    },
  );
}
