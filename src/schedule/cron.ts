import { ScheduleError } from "../core/errors.js";
import { SCHEDULE_BRAND } from "../core/brand.js";
import { chooseZone, compile, defaultZone, type CalendarSchedule, type CheckedPattern, type ZoneChoice } from "./calendar.js";
import { checkKeys, checkParams, describeValue } from "./validate.js";

/** Options of `cron()`. */
export interface CronOptions {
  /**
   * IANA time zone the pattern is read in, e.g. "America/New_York".
   * @default the config's `timezone`, else "UTC"
   */
  tz?: string;
  /**
   * Params every scheduled run carries, validated against the task's schema.
   * @default undefined (the task's schema defaults apply)
   */
  params?: Record<string, unknown>;
}

/** A schedule made by `cron()`. */
export interface CronSchedule extends CalendarSchedule {
  readonly kind: "cron";
  withDefaultTimezone(tz: string): CronSchedule;
}

const HINT =
  'write 5 fields "minute hour day month dayOfWeek" (e.g. "0 */2 * * *"), 6 with seconds first ' +
  '(e.g. "*/30 * * * * *"), or a nickname such as "@daily"';

/**
 * Fires at the wall-clock times a cron pattern matches, evaluated by croner: 5 fields, or 6
 * with seconds first; names (JAN, MON), L (last day / last weekday of the month: "L", "5L"),
 * W (nearest weekday: "15W"), # (nth weekday: "MON#2"), nicknames (@yearly, @monthly,
 * @weekly, @daily, @hourly). dayOfWeek 0 and 7 are Sunday.
 *
 * - day and dayOfWeek: when both are restricted (neither is exactly "*"), a day matching
 *   either one fires (standard cron OR rule): "0 0 1 * MON" is the 1st and every Monday.
 * - Time zone: `tz` (IANA name), else the config's default zone, else UTC.
 * - DST: a fixed-time fire (second, minute and hour without `*` or a step, e.g. "30 2 * * *"
 *   or "30 2,14 * * *") that falls in the spring-forward gap runs once, at the change (02:30
 *   -> 03:00 local); in the repeated autumn hour it runs once, at the first occurrence.
 *   Patterns with `*` or a step in second, minute or hour (hourly and finer) fire at every
 *   real occurrence: in both passes of a repeated hour, not at all in the skipped one.
 *   Never the same instant twice.
 *
 * Throws a ScheduleError naming the pattern and croner's reason.
 *
 * @param pattern "minute hour day month dayOfWeek", 6 fields with seconds first, or a nickname.
 * @param options `tz` (IANA zone, default the config's `timezone`, else "UTC"), `params` of every scheduled run.
 * @example
 * export const backup = task({ schedule: cron("0 3 * * *") }, async () => { ... });   // 03:00 daily
 * cron("30 2 * * 1-5", { tz: "America/New_York" });   // 02:30 New York time, Monday to Friday
 * cron("@hourly");
 */
export function cron(pattern: string, options: CronOptions = {}): CronSchedule {
  if (typeof pattern !== "string") {
    throw new ScheduleError(`cron: the pattern must be a string, got ${describeValue(pattern)}`, { hint: HINT });
  }
  const where = `cron(${JSON.stringify(pattern)})`;
  if (pattern.trim().toLowerCase() === "@reboot") {
    throw new ScheduleError(`${where}: @reboot is not a time of the calendar`, { hint: "write schedule: atStart() (fires once when fluid serve starts)" });
  }
  checkKeys(where, "options", options, ["tz", "params"]);
  const zone = chooseZone(where, options.tz);
  return build(pattern.trim(), zone, checkParams(where, options.params));
}

/** `checked`: the pattern as already read by croner (a copy in another zone reads it no more). */
function build(pattern: string, zone: ZoneChoice, params: Record<string, unknown> | undefined, checked?: CheckedPattern): CronSchedule {
  const text = zone.explicit ? `cron(${JSON.stringify(pattern)}, { tz: ${JSON.stringify(zone.timezone)} })` : `cron(${JSON.stringify(pattern)})`;
  const compiled = compile(`cron(${JSON.stringify(pattern)})`, pattern, zone.timezone, HINT, checked);
  const { next, fixedTime } = compiled;
  const schedule: CronSchedule = Object.freeze({
    [SCHEDULE_BRAND]: true as const,
    kind: "cron" as const,
    timezone: zone.timezone,
    timezoneExplicit: zone.explicit,
    pattern,
    fixedTime,
    params,
    next,
    describe: () => `cron ${pattern} (${zone.timezone})`,
    toString: () => text,
    withDefaultTimezone: (tz: string) => (zone.explicit ? schedule : build(pattern, defaultZone(tz), params, compiled.checked)),
  });
  return schedule;
}
