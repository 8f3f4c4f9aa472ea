import type { z } from "zod";
import { ownZod } from "./own-zod.js";
import { TaskDefinitionError } from "../core/errors.js";
import { parseDurationAs } from "../core/duration.js";
import type { ExecOptions, ExecResult } from "./exec.js";
import { suggest } from "../suggest.js";
import type { Duration, ParamsSchema, Priority, RetryOptions, RetryPolicy, RunLogger, Schedule } from "../core/types.js";
import { SCHEDULE_BRAND } from "../core/brand.js";
import { megabytes } from "../core/size.js";
import { resolveNotify, type NotifyOptions, type NotifySpec } from "./notify-options.js";

/** Brand that recognises a task across copies of the package (e.g. a user's and ours). */
export const TASK_BRAND = Symbol.for("fluid-tasks.task");

/** Default timeout of a run: 60 seconds. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** Options of `task()`. Every option is optional. */
export interface TaskOptions<P extends ParamsSchema = ParamsSchema> {
  /**
   * Registry key, CLI name (`fluid run <name>`) and HTTP path segment: a letter or _, then
   * letters, digits, _ . : - (at most 100).
   * @default the function's name, else the name of the export
   */
  name?: string;
  /**
   * Help text; its first line is the short description `fluid ls` shows.
   * @default ""
   */
  description?: string;
  /**
   * zod object schema of the params: `ctx.params` is typed from it, `fluid run` makes flags of
   * it, and every run's params are validated against it. Mark a secret with `secret(z.string())`.
   * @default z.object({})
   * @example params: z.object({ name: z.string().min(1).describe("who to greet") })
   */
  params?: P;
  /**
   * Time limit of one attempt: ms or text ("500ms", "30s", "5m", "1h"); 0 = no limit. At the
   * limit `ctx.signal` aborts and the attempt ends in state `timeout`.
   * @default "60s"
   */
  timeout?: Duration;
  /**
   * Retry policy for failures: `{ attempts: 3, delay: "1s", backoff: 2, maxDelay: "5m", retryOn }`.
   * @default undefined (no retry)
   */
  retry?: RetryOptions;
  /**
   * Free labels, for `fluid ls --tags`.
   * @default []
   */
  tags?: string[];
  /**
   * Queue priority: "high", "medium" or "low" (used by the daemon).
   * @default "medium"
   */
  priority?: Priority;
  /**
   * Run in a child process (a warm pool under `fluid serve`) instead of on the event loop, so
   * the task cannot stall it and can be killed at its timeout.
   * @default false
   */
  cpuBound?: boolean;
  /**
   * Most runs of this task at once across the daemon; 0 = no limit.
   * @default 0
   */
  maxConcurrency?: number;
  /**
   * When the daemon fires the task: `every("5m")`, `crontab({ hour: 8 })` or `cron("0 3 * * *")`.
   * @default undefined (never scheduled)
   */
  schedule?: Schedule;
  /**
   * Extra environment variables for the child process of a cpu-bound run.
   * @default {}
   */
  env?: Record<string, string>;
  /**
   * A schedule fire while a run of the task is still queued or running: "skip" it (recorded
   * and counted), "queue" it to run after the current one, or "allow" it to run alongside.
   * @default "skip"
   */
  overlap?: OverlapPolicy;
  /**
   * Fires missed while the daemon was down (from the last fire in the store): "skip" them,
   * run the "latest" one, or `{ max, within }`: at most `max` of those within `within`,
   * staggered.
   * @default "skip"
   */
  catchUp?: CatchUpPolicy;
  /**
   * At `maxConcurrency`: "wait" in the queue, or "drop" the run (recorded `rate_limited`).
   * @default "wait"
   */
  onLimit?: "wait" | "drop";
  /**
   * cpu-bound only: heap limit of the child process, e.g. "512MB", "2GB" (a number is MB; at least 16MB).
   * @default undefined (Node's own limit)
   */
  maxMemory?: number | string;
  /**
   * cpu-bound only: "worker" reuses warm child processes; "run" starts a fresh one per run.
   * @default "worker"
   */
  isolate?: "worker" | "run";
  /**
   * Alerts for this task's runs (docs/notify.md): webhook, command, mailto, healthchecks.
   * Laid over the config's `notify` notifier by notifier; `false` turns the task's alerts off.
   * @default undefined (the config's `notify`)
   */
  notify?: NotifyOptions | false;
}

/** See `TaskOptions.overlap`. */
export type OverlapPolicy = "skip" | "queue" | "allow";

/** See `TaskOptions.catchUp`. */
export type CatchUpPolicy = "skip" | "latest" | { max: number; within: Duration };

/** A catch-up policy with the window resolved to ms. */
export type ResolvedCatchUp = { mode: "skip" } | { mode: "latest" } | { mode: "some"; max: number; withinMs: number };

/** The context a task function receives: one run of the task. */
export interface RunContext<Params = Record<string, unknown>, Deps = unknown> {
  /** Run id (the same for every attempt of the run). */
  readonly id: string;
  /** Task name. */
  readonly name: string;
  /** Validated params. */
  readonly params: Params;
  /** 1 for the first attempt, 2 for the first retry, ... */
  readonly attempt: number;
  /** Leveled logger tagged with the task name and run id. */
  readonly log: RunLogger;
  /** Aborted on timeout, Ctrl-C, shutdown or cancellation: pass it to fetch, timers, child processes. */
  readonly signal: AbortSignal;
  /** Stop the run on purpose (state `aborted`, never retried). Throws, so code after it does not run. */
  abort(reason?: string): never;
  /** Id of the run that queued this one, or undefined. */
  readonly fromRunId: string | undefined;
  /** Id of the first run of the chain, or undefined when this run starts it. */
  readonly rootRunId: string | undefined;
  /** User dependencies from the config's `deps`. */
  readonly deps: Deps;
  /**
   * Start a program and wait for it: `await ctx.exec("pg_dump", ["-f", file, db], { timeout: "10m" })`.
   * Its stdout and stderr lines go to the run's log (levels "stdout" and "stderr"); it resolves
   * with `{ exitCode: 0, stdout, stderr }`, and rejects with an ExecError (code FLUID_EXEC: exit
   * code, signal, last stderr lines) when the program fails. When the run is aborted, cancelled
   * or times out, the program's whole process tree gets SIGTERM, then SIGKILL. See ExecOptions.
   */
  exec(file: string, args?: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /**
   * Queue another run; resolves with its run id once it is queued. With a task object its
   * params are type-checked (required when its schema requires a key); by name they are
   * checked when queued. The new run's `fromRunId` is this run.
   * @example await ctx.queue(sayHi, { name: "bob" }, { delay: "5m" });
   */
  queue<Q extends ParamsSchema>(task: Task<Q, unknown>, ...args: ParamsArgs<Q, QueueOptions>): Promise<string>;
  queue(task: string, params?: Record<string, unknown>, options?: QueueOptions): Promise<string>;
}

/**
 * The params and options arguments of a call that queues a task: params required when the
 * schema requires a key, optional when every key is optional (or there are none).
 */
export type ParamsArgs<P extends ParamsSchema, O> = Record<string, never> extends z.input<P>
  ? [params?: z.input<P>, options?: O]
  : [params: z.input<P>, options?: O];

/** Options of `ctx.queue`. */
export interface QueueOptions {
  /**
   * Wait before the run may start: ms or text ("30s", "5m").
   * @default 0
   */
  delay?: Duration;
  /**
   * Queue priority: "high", "medium" or "low".
   * @default the task's `priority`
   */
  priority?: Priority;
}

/** The function of a task. Its return value is the run's result. */
export type TaskFn<P extends ParamsSchema, R> = (ctx: RunContext<z.output<P>>) => Promise<R> | R;

/** A task: a named function with a params schema and options. Made by `task()`. */
export interface Task<P extends ParamsSchema = ParamsSchema, R = unknown> {
  readonly [TASK_BRAND]: true;
  /** Name; set from the export name at load when neither `name` nor the function gives one. */
  name: string;
  readonly description: string;
  readonly params: P;
  readonly timeoutMs: number;
  readonly retry: RetryPolicy | undefined;
  readonly tags: readonly string[];
  readonly priority: Priority;
  readonly cpuBound: boolean;
  readonly maxConcurrency: number;
  readonly schedule: Schedule | undefined;
  readonly env: Readonly<Record<string, string>>;
  readonly overlap: OverlapPolicy;
  readonly catchUp: ResolvedCatchUp;
  readonly onLimit: "wait" | "drop";
  /** Heap limit of the child process in MB; undefined = Node's default. */
  readonly maxMemoryMb: number | undefined;
  readonly isolate: "worker" | "run";
  /** Validated `notify` option: undefined = the config's, false = none for this task. */
  readonly notify?: NotifySpec | false;
  readonly fn: TaskFn<P, R>;
}

const NAME = /^[A-Za-z_][\w.:-]{0,99}$/;
const KNOWN = new Set([
  "name", "description", "params", "timeout", "retry", "tags", "priority", "cpuBound",
  "maxConcurrency", "schedule", "env", "overlap", "catchUp", "onLimit", "maxMemory", "isolate",
  "notify",
]);
/** The option names `task()` knows (`command()` takes these too). */
export const TASK_OPTION_NAMES: ReadonlySet<string> = KNOWN;

/** Params schema of a task without params. */
export type NoParams = z.ZodObject<Record<never, never>>;

/**
 * Defines a task from its function alone: no params, every option at its default; the
 * function's name is the task's name. Users import `task` from "fluid-tasks", which returns
 * the same definition with the handle methods `queue` and `queueAndWait` (src/daemon/handle.ts).
 * @example export const ping = task(async function ping(ctx) { ctx.log.info("pong"); return "pong"; });
 */
export function task<R>(fn: TaskFn<NoParams, R>): Task<NoParams, R>;
/**
 * Defines a task: options (see `TaskOptions` for each one and its default) and the function,
 * which receives `ctx`, the run; what it returns is the run's result. Invalid options throw a
 * TaskDefinitionError naming the task and option. Users import `task` from "fluid-tasks",
 * which returns the same definition with the handle methods `queue` and `queueAndWait`.
 * @example
 * export const sayHi = task(
 *   { name: "say_hi", params: z.object({ name: z.string() }), timeout: "30s" },
 *   async (ctx) => ({ greeted: ctx.params.name }),
 * );
 */
export function task<P extends ParamsSchema = NoParams, R = unknown>(
  options: TaskOptions<P>,
  fn: TaskFn<P, R>,
): Task<P, R>;
export function task(a: unknown, b?: unknown): Task {
  const [options, fn] = typeof a === "function" && b === undefined ? [{}, a] : [a, b];
  const label = labelOf(options, fn);
  const fail = (message: string, hint?: string): TaskDefinitionError =>
    new TaskDefinitionError(`task ${label}: ${message}`, { hint });
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw fail("the first argument must be an options object", "write task({ name: ... }, async (ctx) => { ... }) or task(async function name(ctx) { ... })");
  }
  if (typeof fn !== "function") {
    throw fail("the task function is missing", "pass the function as the last argument: task(options, async (ctx) => { ... })");
  }
  const o = options as TaskOptions;
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) {
      const close = suggest(key, [...KNOWN]);
      throw fail(`unknown option "${key}"`, close ? `did you mean "${close}"?` : `known options: ${[...KNOWN].join(", ")}`);
    }
  }
  const fnName = fn.name && fn.name !== "anonymous" && fn.name !== "default" ? fn.name : "";
  const name = o.name ?? fnName;
  if (o.name !== undefined && (typeof o.name !== "string" || !NAME.test(o.name))) {
    throw fail(`invalid name ${JSON.stringify(o.name)}`, "a name starts with a letter or _ and holds letters, digits, _ . : - (at most 100)");
  }
  if (o.description !== undefined && typeof o.description !== "string") throw fail("description must be a string");
  if (o.params !== undefined && !isZodObject(o.params)) {
    throw fail("params must be a zod object schema", "write params: z.object({ ... })");
  }
  const timeoutMs = o.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDurationAs(o.timeout, "timeout", (m, h) => fail(m, h));
  if (o.tags !== undefined && !(Array.isArray(o.tags) && o.tags.every((t) => typeof t === "string" && t !== ""))) {
    throw fail("tags must be an array of non-empty strings");
  }
  if (o.priority !== undefined && !["high", "medium", "low"].includes(o.priority)) {
    throw fail(`invalid priority ${JSON.stringify(o.priority)}`, 'use "high", "medium" or "low"');
  }
  if (o.cpuBound !== undefined && typeof o.cpuBound !== "boolean") throw fail("cpuBound must be true or false");
  if (o.maxConcurrency !== undefined && !(Number.isInteger(o.maxConcurrency) && o.maxConcurrency >= 0)) {
    throw fail(`maxConcurrency must be a whole number >= 0 (0 = no limit), got ${String(o.maxConcurrency)}`);
  }
  if (o.schedule !== undefined && !(typeof o.schedule === "object" && o.schedule !== null && SCHEDULE_BRAND in o.schedule)) {
    throw fail("schedule must be made by every(), crontab() or cron()", 'e.g. schedule: every("5m") or cron("0 3 * * *")');
  }
  if (o.env !== undefined && !(typeof o.env === "object" && o.env !== null && Object.values(o.env).every((v) => typeof v === "string"))) {
    throw fail("env must be an object of string values");
  }
  if (o.overlap !== undefined && !["skip", "queue", "allow"].includes(o.overlap)) {
    throw fail(`invalid overlap ${JSON.stringify(o.overlap)}`, 'use "skip", "queue" or "allow"');
  }
  if (o.onLimit !== undefined && !["wait", "drop"].includes(o.onLimit)) {
    throw fail(`invalid onLimit ${JSON.stringify(o.onLimit)}`, 'use "wait" or "drop"');
  }
  if (o.isolate !== undefined && !["worker", "run"].includes(o.isolate)) {
    throw fail(`invalid isolate ${JSON.stringify(o.isolate)}`, 'use "worker" (warm, reused processes) or "run" (a fresh process per run)');
  }
  const maxMemoryMb = o.maxMemory === undefined ? undefined : parseMegabytes(o.maxMemory, fail);
  const notify = o.notify === undefined ? undefined : resolveNotify(o.notify, fail);
  return {
    [TASK_BRAND]: true,
    name,
    description: (o.description ?? "").trim(),
    params: (o.params ?? ownZod().z.object({})) as ParamsSchema,
    timeoutMs,
    retry: o.retry === undefined ? undefined : retryPolicy(o.retry, fail),
    tags: [...(o.tags ?? [])],
    priority: o.priority ?? "medium",
    cpuBound: o.cpuBound ?? false,
    maxConcurrency: o.maxConcurrency ?? 0,
    schedule: o.schedule,
    env: { ...(o.env ?? {}) },
    overlap: o.overlap ?? "skip",
    catchUp: catchUpPolicy(o.catchUp, fail),
    onLimit: o.onLimit ?? "wait",
    maxMemoryMb,
    isolate: o.isolate ?? "worker",
    ...(notify !== undefined ? { notify } : {}),
    fn: fn as TaskFn<ParamsSchema, unknown>,
  };
}

/** True for a value made by `task()`, also from another copy of the package. */
export function isTask(value: unknown): value is Task {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[TASK_BRAND] === true;
}

/** Default retry: every failure except a timeout. */
const retryAllButTimeouts = (error: Error): boolean => (error as { code?: unknown }).code !== "FLUID_TIMEOUT";

function retryPolicy(r: RetryOptions, fail: (m: string, h?: string) => TaskDefinitionError): RetryPolicy {
  if (typeof r !== "object" || r === null) throw fail("retry must be an object", "e.g. retry: { attempts: 3, delay: \"1s\" }");
  for (const key of Object.keys(r)) {
    if (!["attempts", "delay", "backoff", "maxDelay", "retryOn"].includes(key)) {
      throw fail(`unknown retry option "${key}"`, "known: attempts, delay, backoff, maxDelay, retryOn");
    }
  }
  const attempts = r.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1) throw fail(`retry.attempts must be a whole number >= 1 (attempts include the first), got ${String(attempts)}`);
  const backoff = r.backoff ?? 2;
  if (typeof backoff !== "number" || !(backoff >= 1)) throw fail(`retry.backoff must be a number >= 1, got ${String(backoff)}`);
  if (r.retryOn !== undefined && typeof r.retryOn !== "function") throw fail("retry.retryOn must be a function (error, attempt) => boolean");
  return {
    attempts,
    delayMs: parseDurationAs(r.delay ?? "1s", "retry.delay", (m, h) => fail(m, h)),
    backoff,
    maxDelayMs: parseDurationAs(r.maxDelay ?? "5m", "retry.maxDelay", (m, h) => fail(m, h)),
    retryOn: r.retryOn ?? retryAllButTimeouts,
  };
}

function catchUpPolicy(c: CatchUpPolicy | undefined, fail: (m: string, h?: string) => TaskDefinitionError): ResolvedCatchUp {
  if (c === undefined || c === "skip") return { mode: "skip" };
  if (c === "latest") return { mode: "latest" };
  if (typeof c === "object" && c !== null && Number.isInteger(c.max) && c.max >= 1 && c.within !== undefined) {
    return { mode: "some", max: c.max, withinMs: parseDurationAs(c.within, "catchUp.within", (m, h) => fail(m, h)) };
  }
  throw fail(`invalid catchUp ${JSON.stringify(c)}`, 'use "skip", "latest" or { max: 3, within: "1h" }');
}

/** "512MB", "2GB", 256 (MB) -> whole megabytes, at least 16. */
function parseMegabytes(value: number | string, fail: (m: string, h?: string) => TaskDefinitionError): number {
  const mb = megabytes(value);
  if (mb === undefined || mb < 16) {
    throw fail(`invalid maxMemory ${JSON.stringify(value)}`, 'write a size of at least 16MB, e.g. "512MB" or "2GB" (a number is MB)');
  }
  return mb;
}

function isZodObject(value: unknown): value is ParamsSchema {
  const def = (value as { _zod?: { def?: { type?: string } } } | null)?._zod?.def;
  return def?.type === "object";
}

function labelOf(options: unknown, fn: unknown): string {
  const name = (options as { name?: unknown } | null)?.name;
  if (typeof name === "string") return `"${name}"`;
  if (typeof fn === "function" && fn.name) return `"${fn.name}"`;
  return "(unnamed)";
}
