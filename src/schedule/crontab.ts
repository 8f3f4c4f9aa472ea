import { ScheduleError } from "../core/errors.js";
import { SCHEDULE_BRAND } from "../core/brand.js";
import { chooseZone, compile, defaultZone, type CalendarSchedule, type CheckedPattern, type ZoneChoice } from "./calendar.js";
import { describeCrontab } from "./crontab-describe.js";
import { CRONTAB_FIELDS, parseField, type CrontabFieldName, type CrontabValue, type ParsedField } from "./crontab-fields.js";
import { checkKeys, checkParams, describeValue, listOr } from "./validate.js";

export type { CrontabFieldName, CrontabValue } from "./crontab-fields.js";

/**
 * The fields of `crontab()`. Each is a number or a string of comma-separated pieces `*`, `n`,
 * `a-b`, `*\/n`, `a-b/n`; month and dayOfWeek also take names ("jan", "mon-fri").
 * An omitted field finer than the finest field given is its minimum (0, or day 1); every
 * other omitted field is "*". So `{ hour: "*\/2" }` is 00:00:00, 02:00:00, ...
 */
export interface CrontabFields {
  /** Second 0-59. Default "0". */
  second?: CrontabValue;
  /** Minute 0-59. Default 0 when a coarser field (hour, day, month, dayOfWeek) is given, else "*". */
  minute?: CrontabValue;
  /** Hour 0-23. Default 0 when day, month or dayOfWeek is given, else "*". */
  hour?: CrontabValue;
  /** Day of the month 1-31. Default 1 when only month is given, else "*". */
  day?: CrontabValue;
  /** Month 1-12 or jan-dec. Default "*". */
  month?: CrontabValue;
  /** Day of the week 0-7 or sun-sat; 0 and 7 are both Sunday, so "5-7" is Fri-Sun. Default "*". */
  dayOfWeek?: CrontabValue;
  /**
   * IANA time zone the fields are read in, e.g. "Europe/London".
   * @default the config's `timezone`, else "UTC"
   */
  tz?: string;
}

/** Options of `crontab()`. */
export interface CrontabOptions {
  /**
   * Params every scheduled run carries, validated against the task's schema.
   * @default undefined (the task's schema defaults apply)
   */
  params?: Record<string, unknown>;
}

/** A schedule made by `crontab()`. */
export interface CrontabSchedule extends CalendarSchedule {
  readonly kind: "crontab";
  /** Each field as croner reads it (names replaced by numbers), e.g. `{ hour: "*\/2", ... }`. */
  readonly fields: Readonly<Record<CrontabFieldName, string>>;
  /** Each field expanded to its sorted values, e.g. `{ hour: [0, 2, 4, ...], ... }` (Sunday is 0). */
  readonly values: Readonly<Record<CrontabFieldName, readonly number[]>>;
  withDefaultTimezone(tz: string): CrontabSchedule;
}

const KEYS: readonly string[] = [...CRONTAB_FIELDS, "tz"];
const ALIASES: Record<string, string> = {
  seconds: "second",
  minutes: "minute",
  hours: "hour",
  days: "day",
  dayOfMonth: "day",
  day_of_month: "day",
  months: "month",
  day_of_week: "dayOfWeek",
  dow: "dayOfWeek",
  weekday: "dayOfWeek",
  timezone: "tz",
  timeZone: "tz",
};

/**
 * Fires at the wall-clock times its fields match: `crontab({ hour: 8 })` is 08:00 daily,
 * `crontab({ minute: "*\/15" })` every quarter hour, `crontab({ hour: "*\/2" })` every 2 hours
 * on the hour. Omitted fields finer than the finest field given take their minimum (second,
 * minute and hour 0; day 1 when only month is given); omitted coarser fields mean "every"
 * (dayOfWeek, when omitted, is always "every"). `crontab({})` fires every minute. (The seed,
 * aio-fluid, made every omitted field "every", so `hour: "*\/2"` fired 60 times an hour there.)
 *
 * - day and dayOfWeek: when both are restricted (neither is "*"), a day matching either one
 *   fires (standard cron OR rule): `{ day: 1, dayOfWeek: "mon" }` is the 1st and every Monday.
 * - Time zone: `tz` (IANA name), else the config's default zone, else UTC.
 * - DST: a fixed-time fire (second, minute and hour without `*` or a step, e.g. 02:30 or
 *   "2,14") that falls in the spring-forward gap runs once, at the change (02:30 -> 03:00 local);
 *   in the repeated autumn hour it runs once, at the first occurrence. Schedules with `*` or a
 *   step in second, minute or hour (hourly and finer) fire at every real occurrence: in both
 *   passes of a repeated hour, and not at all in the skipped one. Never the same instant twice.
 *
 * Throws a ScheduleError naming the field, the bad piece and the allowed range.
 *
 * @param fields second, minute, hour, day, month, dayOfWeek (numbers or cron pieces), and `tz`.
 * @param options `params` of every scheduled run.
 * @example
 * export const report = task({ schedule: crontab({ hour: 8, dayOfWeek: "mon-fri", tz: "Europe/London" }) }, async () => { ... });
 * crontab({ minute: "*\/15" });        // every quarter hour
 * crontab({ day: 1, hour: 3 });        // 03:00 on the 1st of each month
 */
export function crontab(fields: CrontabFields = {}, options: CrontabOptions = {}): CrontabSchedule {
  checkFieldKeys(fields);
  checkKeys("crontab", "options", options, ["params"]);
  const parsed = {} as Record<CrontabFieldName, ParsedField>;
  const finest = Math.min(...CRONTAB_FIELDS.filter((name) => fields[name] !== undefined).map((name) => RANK[name]));
  for (const name of CRONTAB_FIELDS) {
    parsed[name] = parseField(name, fields[name] ?? defaultOf(name, finest));
  }
  return build(fields, parsed, chooseZone("crontab", fields.tz), checkParams("crontab", options.params));
}

/** How coarse each field is; day and dayOfWeek are equally coarse. */
const RANK: Record<CrontabFieldName, number> = { second: 0, minute: 1, hour: 2, day: 3, dayOfWeek: 3, month: 4 };

/** Value of an omitted field: its minimum when finer than the finest field given, else "*". */
function defaultOf(name: CrontabFieldName, finest: number): CrontabValue {
  if (name === "second") return 0;
  if (name === "dayOfWeek" || RANK[name] >= finest || finest === Infinity) return "*";
  return name === "day" ? 1 : 0;
}

function build(
  source: CrontabFields,
  parsed: Record<CrontabFieldName, ParsedField>,
  zone: ZoneChoice,
  params: Record<string, unknown> | undefined,
  checked?: CheckedPattern, // the pattern as already read by croner (a copy in another zone reads it no more)
): CrontabSchedule {
  const pattern = CRONTAB_FIELDS.map((name) => parsed[name].text).join(" ");
  const text = sourceText(source, zone);
  const compiled = compile(text, pattern, zone.timezone, "crontab fields are read like a cron pattern", checked);
  const { next, fixedTime } = compiled;
  const fieldTexts = Object.fromEntries(CRONTAB_FIELDS.map((name) => [name, parsed[name].text]));
  const values = Object.fromEntries(CRONTAB_FIELDS.map((name) => [name, parsed[name].values]));
  const schedule: CrontabSchedule = Object.freeze({
    [SCHEDULE_BRAND]: true as const,
    kind: "crontab" as const,
    timezone: zone.timezone,
    timezoneExplicit: zone.explicit,
    pattern,
    fixedTime,
    fields: Object.freeze(fieldTexts) as CrontabSchedule["fields"],
    values: Object.freeze(values) as CrontabSchedule["values"],
    params,
    next,
    describe: () => describeCrontab(parsed, zone.timezone),
    toString: () => text,
    withDefaultTimezone: (tz: string) =>
      zone.explicit ? schedule : build(source, parsed, defaultZone(tz), params, compiled.checked),
  });
  return schedule;
}

/** The source form: `crontab({ hour: "*\/2" })`, fields in the order they were written. */
function sourceText(source: CrontabFields, zone: ZoneChoice): string {
  const entries = Object.entries(source)
    .filter(([key, value]) => key !== "tz" && value !== undefined)
    .map(([key, value]) => `${key}: ${typeof value === "number" ? value : JSON.stringify(value)}`);
  if (zone.explicit) entries.push(`tz: ${JSON.stringify(zone.timezone)}`);
  return entries.length === 0 ? "crontab({})" : `crontab({ ${entries.join(", ")} })`;
}

function checkFieldKeys(fields: unknown): void {
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    throw new ScheduleError(`crontab: expected an object of fields such as { hour: 8, minute: 0 }, got ${describeValue(fields)}`, {
      hint: 'for a cron string write cron("0 8 * * *") instead',
    });
  }
  for (const key of Object.keys(fields)) {
    if (KEYS.includes(key)) continue;
    const alias = ALIASES[key];
    const fix = alias ? `write ${alias} instead` : `the fields are ${listOr(KEYS)}`;
    throw new ScheduleError(`crontab: unknown field "${key}"; ${fix}`);
  }
}
