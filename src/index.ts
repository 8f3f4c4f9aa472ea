/**
 * fluid-tasks public API. Task modules import this entry, so it stays light: what defines
 * tasks and schedules is loaded at once; the runtime (config loading, running, the daemon and
 * its client) is loaded on first call.
 */
import * as self from "./index.js";
import { publishApi } from "./config/public-api.js";

export { task, isTask, DEFAULT_TIMEOUT_MS } from "./task/task.js";
export type { Task, TaskOptions, TaskFn, RunContext, QueueOptions, OverlapPolicy, CatchUpPolicy } from "./task/task.js";
export { secret, describeParams } from "./task/params.js";
export type { ParamSpec, ParamKind } from "./task/params.js";
export { every, crontab, cron, isSchedule, nextRuns, withDefaultTimezone, fireTimes } from "./schedule/index.js";
export type { EveryOptions, CrontabFields, CrontabOptions, CronOptions } from "./schedule/index.js";
export { defineConfig } from "./config/define.js";
export type { FluidConfig, StoreConfig, PoolConfig } from "./config/define.js";
export type { Project, ResolvedConfig, LoadOptions } from "./config/load.js";
export type { Registry } from "./config/registry.js";
export type { RunTaskOptions, RunResult, AttemptRecord } from "./consumer/run-task.js";
export type { ServeOptions, Daemon, DaemonEvent, DaemonSummary } from "./daemon/serve.js";
export type { QueueAndWaitOptions, EnqueueOptions, WaitOptions, Connection, CancelResult } from "./daemon/client.js";
export type { Broker, QueuedRun } from "./broker/broker.js";
export type { RunRecord, RunDetails } from "./core/run-record.js";
export { parseDuration, formatDuration } from "./core/duration.js";
export * from "./core/errors.js";
export type * from "./core/types.js";

type Load = typeof import("./config/load.js");
type Run = typeof import("./consumer/run-task.js");
type Serve = typeof import("./daemon/serve.js");
type Client = typeof import("./daemon/client.js");

/** Finds, compiles and loads the config and every task module it names. */
export const loadProject: Load["loadProject"] = async (...a) => (await import("./config/load.js")).loadProject(...a);
/** Runs a task now on this event loop (or its child process, with a pool); resolves with how the run ended. */
export const runTask: Run["runTask"] = async (...a) => (await import("./consumer/run-task.js")).runTask(...a);
/** Starts the daemon in this process. */
export const serve: Serve["serve"] = async (...a) => (await import("./daemon/serve.js")).serve(...a);
/** Queues a run for the daemon and resolves with its final attempt, from any process sharing the store. */
export const queueAndWait: Client["queueAndWait"] = async (...a) => (await import("./daemon/client.js")).queueAndWait(...a);
/** Waits until a run has ended for good. */
export const waitForRun: Client["waitForRun"] = async (...a) => (await import("./daemon/client.js")).waitForRun(...a);
/** Validates params and queues a run for the daemon. */
export const enqueue: Client["enqueue"] = async (...a) => (await import("./daemon/client.js")).enqueue(...a);
/** Cancels a queued or running run. */
export const cancel: Client["cancel"] = async (...a) => (await import("./daemon/client.js")).cancel(...a);
/** Opens the project's store and queue, for the functions above. */
export const connect: Client["connect"] = async (...a) => (await import("./daemon/client.js")).connect(...a);

// Task modules this process loads get this instance for their `import "fluid-tasks"`.
publishApi(self);
