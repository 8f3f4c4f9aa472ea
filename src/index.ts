/**
 * fluid-tasks public API: what README.md and docs/ document, nothing more. Task modules import
 * this entry, so it stays light: what defines tasks and schedules is loaded at once; the
 * runtime (config loading, running, the daemon and its client) is loaded on first call.
 */
import * as self from "./index.js";
import { publishApi } from "./config/public-api.js";
import { task as defineTask, type NoParams, type TaskFn, type TaskOptions } from "./task/task.js";
import { withHandle, type TaskHandle } from "./daemon/handle.js";
import type { z } from "zod";
import type { Task } from "./task/task.js";
import type { RunResult, RunTaskOptions } from "./consumer/run-task.js";
import type { ParamsSchema } from "./core/types.js";
import { command as defineCommand, type CommandOptions, type CommandResult } from "./task/command.js";

export type { Task, TaskOptions, TaskFn, RunContext, QueueOptions, OverlapPolicy, CatchUpPolicy, NoParams, ParamsArgs } from "./task/task.js";
export type { TaskHandle } from "./daemon/handle.js";
export { secret } from "./task/params.js";
export type { ExecOptions, ExecResult } from "./task/exec.js";
export { ExecError } from "./task/exec.js";
export type { CommandOptions, CommandResult } from "./task/command.js";
export type { CommandConfig } from "./config/define.js";
export { every } from "./schedule/every.js";
export { crontab } from "./schedule/crontab.js";
export { cron } from "./schedule/cron.js";
export { atStart } from "./schedule/at-start.js";
export type { EveryOptions } from "./schedule/every.js";
export type { CrontabFields, CrontabFieldName, CrontabOptions, CrontabValue } from "./schedule/crontab.js";
export type { CronOptions } from "./schedule/cron.js";
export type { AtStartOptions } from "./schedule/at-start.js";
export { defineConfig } from "./config/define.js";
export type { FluidConfig, StoreConfig, PoolConfig } from "./config/define.js";
export type { NotifyOptions, WebhookOptions, CommandNotifierOptions, HealthchecksOptions } from "./task/notify-options.js";
export type { Notifier, NotifierStats, NotifyFailure } from "./notify/notifier.js";
export type { Project, ResolvedConfig, LoadOptions } from "./config/load.js";
export type { Registry } from "./config/registry.js";
export type { RunTaskOptions, RunResult, AttemptRecord } from "./consumer/run-task.js";
export type { ServeOptions, Daemon, DaemonEvent, DaemonSummary } from "./daemon/serve.js";
export type {
  QueueAndWaitOptions, QueueRunOptions, FinishedRun, EnqueueOptions, WaitOptions, Connection, CancelResult,
} from "./daemon/client.js";
export type { QueuedRun } from "./broker/broker.js";
export type { RunRecord, RunDetails } from "./core/run-record.js";
export {
  ExitCode, FluidError, isFluidError, UsageError, ConfigError, TaskDefinitionError, ScheduleError, UnknownTaskError,
  ParamsError, TaskTimeoutError, TaskAbortedError, RunInterruptedError, RunCancelledError, WaitTimeoutError, StoreError,
} from "./core/errors.js";
export type { FluidErrorCode, FluidErrorOptions, ParamsIssue, ErrorInfo } from "./core/errors.js";
export type {
  RunState, RunTrigger, Priority, ParamsSchema, Duration, RetryOptions, Schedule, RunLogger, LogLevel, LogLine,
} from "./core/types.js";

/**
 * Defines a task: an async function plus a zod schema of its params and options. Export it
 * from a module the config's `tasks` globs match, and `fluid run <name>`, `fluid serve` and
 * `fluid ls` know it. Invalid options throw a TaskDefinitionError naming the task and option
 * when the module loads.
 *
 * The task returned is also a handle: `await sayHi.queue(params)` queues a run for the daemon
 * and resolves with its id; `await sayHi.queueAndWait(params)` resolves with its final attempt,
 * `result` typed from the function's return value.
 *
 * @param fn The task function. It receives `ctx`, the run (`ctx.params`, `ctx.log`,
 *   `ctx.signal`, ...); what it returns is the run's result. Its name is the task's name.
 * @example
 * import { task } from "fluid-tasks";
 *
 * export const ping = task(async function ping(ctx) {
 *   ctx.log.info("pong");
 *   return "pong";
 * });
 */
export function task<R>(fn: TaskFn<NoParams, R>): TaskHandle<NoParams, R>;
/**
 * Defines a task: an async function plus a zod schema of its params and options. Export it
 * from a module the config's `tasks` globs match, and `fluid run <name>`, `fluid serve` and
 * `fluid ls` know it. Invalid options throw a TaskDefinitionError naming the task and option
 * when the module loads.
 *
 * The task returned is also a handle: `await sayHi.queue(params)` queues a run for the daemon
 * and resolves with its id; `await sayHi.queueAndWait(params)` resolves with its final attempt,
 * `result` typed from the function's return value.
 *
 * @param options Every option is optional; see `TaskOptions` for each one and its default
 *   (name, description, params, timeout "60s", retry, tags, priority "medium", cpuBound false,
 *   maxConcurrency 0, schedule, env, overlap "skip", catchUp "skip", onLimit "wait", maxMemory, isolate "worker",
 *   notify: the config's).
 * @param fn The task function. It receives `ctx`, the run: `ctx.params` is typed from
 *   `options.params`; what it returns is the run's result.
 * @example
 * import { task, every } from "fluid-tasks";
 * import { z } from "zod";
 *
 * export const sayHi = task(
 *   {
 *     name: "say_hi",
 *     description: "Greet someone",
 *     params: z.object({ name: z.string().min(1).describe("who to greet") }),
 *     timeout: "30s",
 *     retry: { attempts: 3, delay: "1s" },
 *     schedule: every("1h"),
 *   },
 *   async (ctx) => {
 *     ctx.log.info(`Hi ${ctx.params.name}!`);
 *     return { greeted: ctx.params.name };
 *   },
 * );
 *
 * // from any script sharing the project's store, with `fluid serve` running:
 * const run = await sayHi.queueAndWait({ name: "bob" });
 * run.result?.greeted; // string | undefined
 */
export function task<P extends ParamsSchema = NoParams, R = unknown>(options: TaskOptions<P>, fn: TaskFn<P, R>): TaskHandle<P, R>;
export function task(a: TaskOptions | TaskFn<ParamsSchema, unknown>, b?: TaskFn<ParamsSchema, unknown>): TaskHandle {
  return withHandle(defineTask(a as TaskOptions, b as TaskFn<ParamsSchema, unknown>));
}

/**
 * Defines a command task: a task that runs a shell command line (`cmd` a string, run by
 * `options.shell`, default "/bin/sh", with -c) or a program with its arguments (`cmd` an argv
 * array, no shell). Its output goes to the run's log line by line (levels stdout and stderr),
 * an exit code other than 0 fails the run (the message quotes the last stderr lines), and a
 * timeout, cancel or shutdown kills its whole process tree. Params reach it only as
 * environment variables (FLUID_PARAM_<NAME>, FLUID_PARAMS), never in the command line.
 * Every task option applies; the timeout defaults to none, as in cron. See docs/commands.md.
 *
 * @param name The task's name (`fluid run <name>`).
 * @param cmd A command line, or an argv array (the program first).
 * @param options Task options (schedule, timeout: none, retry, overlap, catchUp, maxConcurrency,
 *   tags, description: the command line, params, ...) and `env` ({}), `cwd` (the project root),
 *   `shell` ("/bin/sh"), `input` (none), `killGrace` ("5s"); see `CommandOptions`.
 * @example
 * import { command, cron } from "fluid-tasks";
 *
 * export const backup = command("backup", "pg_dump mydb > /backups/db.sql", {
 *   schedule: cron("0 3 * * *"),
 *   retry: { attempts: 3, delay: "5m" },
 * });
 */
export function command<P extends ParamsSchema = NoParams>(
  name: string,
  cmd: string | readonly string[],
  options?: CommandOptions<P>,
): TaskHandle<P, CommandResult> {
  return withHandle(defineCommand(name, cmd, options));
}

type Load = typeof import("./config/load.js");
type Serve = typeof import("./daemon/serve.js");
type Client = typeof import("./daemon/client.js");

/**
 * Finds the config (from `cwd` upwards, or `config`), compiles it and loads every task module
 * it names; resolves with the project: its resolved config and registry of tasks.
 * @example const project = await loadProject({ cwd: "/srv/app" }); project.registry.get("say_hi");
 */
export const loadProject: Load["loadProject"] = async (...a) => (await import("./config/load.js")).loadProject(...a);
/**
 * Runs a task now on this event loop (or its child process, with a pool); resolves with how
 * the run ended (`state`, `result` typed from the task, `error`) and never rejects for a task
 * failure; invalid params reject with a ParamsError. Nothing is queued or recorded (pass
 * `onAttempt` to record); the daemon is not involved.
 * @example
 * const { state, result } = await runTask(sayHi, { params: { name: "bob" }, timeoutMs: 5_000 });
 */
export async function runTask<P extends ParamsSchema, R>(
  task: Task<P, R>,
  options?: Omit<RunTaskOptions, "params"> & { params?: z.input<P> },
): Promise<Omit<RunResult, "result"> & { result?: R }> {
  return (await import("./consumer/run-task.js")).runTask(task as Task, options) as Promise<Omit<RunResult, "result"> & { result?: R }>;
}
/**
 * Starts the daemon in this process: fires schedules, consumes the queue, records runs.
 * Resolves once it has started; `await daemon.stop()` drains and stops it.
 * @example const daemon = await serve({ cwd: "/srv/app" }); process.once("SIGTERM", () => daemon.stop());
 */
export const serve: Serve["serve"] = async (...a) => (await import("./daemon/serve.js")).serve(...a);
/**
 * Queues a run for the daemon and resolves with its final attempt, from any process sharing
 * the store. Pass a task (params type-checked, `result` typed) or a name known only at run time.
 * @example const run = await queueAndWait("say_hi", { name: "bob" }, { timeoutMs: 60_000 });
 */
export const queueAndWait = (async (...a: Parameters<Client["queueAndWait"]>) =>
  (await import("./daemon/client.js")).queueAndWait(...a)) as Client["queueAndWait"];
/**
 * Waits until a run has ended for good (after retries) and resolves with its final attempt.
 * @example const run = await waitForRun(conn, id, { timeoutMs: 60_000 });
 */
export const waitForRun: Client["waitForRun"] = async (...a) => (await import("./daemon/client.js")).waitForRun(...a);
/**
 * Validates params and queues a run for the daemon on an open connection; resolves with the
 * queued run once it is queued and recorded.
 * @example const conn = await connect(project); try { await enqueue(conn, task, params); } finally { await conn.close(); }
 */
export const enqueue: Client["enqueue"] = async (...a) => (await import("./daemon/client.js")).enqueue(...a);
/**
 * Cancels a run by id or unique prefix: a queued run is removed (recorded `cancelled`); a
 * running one is flagged and the daemon aborts its signal.
 */
export const cancel: Client["cancel"] = async (...a) => (await import("./daemon/client.js")).cancel(...a);
/** Opens the project's store and queue, for `enqueue`, `waitForRun` and `cancel`; `close()` it when done. */
export const connect: Client["connect"] = async (...a) => (await import("./daemon/client.js")).connect(...a);

// Task modules this process loads get this instance for their `import "fluid-tasks"`.
publishApi(self);
