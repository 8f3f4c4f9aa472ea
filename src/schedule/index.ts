import type { Schedule } from "../core/types.js";
import { SCHEDULE_BRAND } from "../core/brand.js";

export { SCHEDULE_BRAND } from "../core/brand.js";
export { every, MIN_INTERVAL_MS, type EveryOptions, type EverySchedule } from "./every.js";
export { crontab, type CrontabFields, type CrontabFieldName, type CrontabOptions, type CrontabSchedule, type CrontabValue } from "./crontab.js";
export { cron, type CronOptions, type CronSchedule } from "./cron.js";
export { atStart, type AtStartOptions, type AtStartSchedule } from "./at-start.js";
export { DEFAULT_TIMEZONE, withDefaultTimezone, type CalendarSchedule } from "./calendar.js";
export { nextRuns } from "./next-runs.js";
export { fireTimes, type FireTime } from "./fire-times.js";

/** True for a schedule made by `every`, `crontab`, `cron` or `atStart`, by any copy of fluid-tasks. */
export function isSchedule(value: unknown): value is Schedule {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { [SCHEDULE_BRAND]?: unknown })[SCHEDULE_BRAND] === true &&
    typeof (value as { next?: unknown }).next === "function"
  );
}
