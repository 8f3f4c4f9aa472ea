/** fluid-tasks public API. */
export { task, isTask, DEFAULT_TIMEOUT_MS } from "./task/task.js";
export type { Task, TaskOptions, TaskFn, RunContext, QueueOptions } from "./task/task.js";
export { secret, describeParams } from "./task/params.js";
export type { ParamSpec, ParamKind } from "./task/params.js";
export { every, crontab, cron, isSchedule, nextRuns, withDefaultTimezone } from "./schedule/index.js";
export type { EveryOptions, CrontabFields, CrontabOptions, CronOptions } from "./schedule/index.js";
export { defineConfig } from "./config/define.js";
export type { FluidConfig, StoreConfig } from "./config/define.js";
export { loadProject } from "./config/load.js";
export type { Project, ResolvedConfig, LoadOptions } from "./config/load.js";
export { Registry } from "./config/registry.js";
export { runTask } from "./consumer/run-task.js";
export type { RunTaskOptions, RunResult, AttemptRecord } from "./consumer/run-task.js";
export { parseDuration, formatDuration } from "./duration.js";
export * from "./errors.js";
export type * from "./types.js";
