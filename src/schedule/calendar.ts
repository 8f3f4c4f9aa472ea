import { Cron } from "croner";
import { ScheduleError } from "../core/errors.js";
import type { Schedule } from "../core/types.js";
import { SCHEDULE_BRAND } from "../core/brand.js";
import { checkAfter, resolveTimezone } from "./validate.js";
import { fixedTimeInstant, wallTimeAt } from "./wall-clock.js";

/** The time zone of a calendar schedule that was not given one (and got no config default). */
export const DEFAULT_TIMEZONE = "UTC";

/** A schedule made by `crontab()` or `cron()`: wall-clock times in an IANA time zone. */
export interface CalendarSchedule extends Schedule {
  readonly kind: "crontab" | "cron";
  readonly [SCHEDULE_BRAND]: true;
  /** IANA time zone the fields are read in. */
  readonly timezone: string;
  /** True when `tz` was given to `crontab()`/`cron()`; a config default then does not apply. */
  readonly timezoneExplicit: boolean;
  /** The pattern croner evaluates (crontab: six fields, seconds first). */
  readonly pattern: string;
  /**
   * True when second, minute and hour have no `*` or step ("30 2 * * *", "0 9,17 * * MON"):
   * fires at fixed wall-clock times, cron's "fixed-time job". False for hourly and finer
   * patterns ("*\/5 * * * *"), which cron treats like intervals (DST, clock jumps).
   */
  readonly fixedTime: boolean;
  /** A copy in time zone `tz`, unless this schedule's zone was given explicitly (then itself). */
  withDefaultTimezone(tz: string): CalendarSchedule;
}

/** The zone a calendar factory was given (`tz` option), or the default. */
export interface ZoneChoice {
  timezone: string;
  explicit: boolean;
}

/** Resolves the `tz` option of `crontab()`/`cron()`; throws a ScheduleError for an unknown zone. */
export function chooseZone(where: string, tz: unknown): ZoneChoice {
  if (tz === undefined) return { timezone: DEFAULT_TIMEZONE, explicit: false };
  return { timezone: resolveTimezone(where, tz), explicit: true };
}

/** A zone that came from a default (the config's), not from the schedule's own `tz`. */
export function defaultZone(tz: string): ZoneChoice {
  return { timezone: resolveTimezone("default time zone", tz), explicit: false };
}

/**
 * Returns `schedule` with time zone `tz` when it is a calendar schedule whose `tz` was not
 * given explicitly (for a config-wide default zone); otherwise `schedule` itself.
 */
export function withDefaultTimezone<S extends Schedule>(schedule: S, tz: string): S {
  const timezone = resolveTimezone("default time zone", tz);
  const calendar = schedule as Partial<CalendarSchedule>;
  // Unchanged zone (the common "UTC"): the same schedule, not a second croner instance.
  if (typeof calendar.withDefaultTimezone !== "function" || calendar.timezone === timezone) return schedule;
  return calendar.withDefaultTimezone(timezone) as unknown as S;
}

// Patterns without a year repeat within 28 years; croner gives up at year 3000, so a search
// from here that finds nothing means the pattern never fires (e.g. "0 0 30 2 *").
const NEVER_FIRES_PROBE = new Date(Date.UTC(2000, 0, 1));

/** A pattern croner accepted: the instance that read it (in UTC) and whether it is fixed-time. */
export interface CheckedPattern {
  readonly utc: Cron;
  readonly fixedTime: boolean;
}

/**
 * Compiles a croner pattern into a pure `next(after)`: croner computes runs without starting
 * a timer (no callback is given). The pattern is read once, in UTC (croner allocates a large
 * table per instance, which made schedules a visible part of a `fluid` start): `checked`
 * passes that reading on to a copy in another zone, which then reads it only when asked
 * for a time, and only if it needs its own instance. Day-of-month and day-of-week combine with OR (croner's
 * legacy mode). Throws a ScheduleError that starts with `where` when croner rejects it.
 *
 * DST. A pattern whose second, minute and hour have no `*` or step is fixed-time (croner's
 * `fixedTimeRule: "no-wildcard"`, so "30 2,14 * * *" is fixed-time too); others are interval
 * patterns. Interval patterns use croner 11 as is: it skips wall times in a gap and fires in
 * both passes of a repeated hour. For fixed-time patterns croner 11 runs a gap time at the
 * change and a repeated time once, but only when the change is on the same local day: in
 * America/Nuuk (23:00 -> 00:00 on a Saturday night in March) it silently drops a 23:30 fire.
 * So fixed-time patterns are matched by croner against the wall clock (the pattern in UTC over
 * local wall times) and each matching wall time is mapped to its instant here.
 */
export function compile(
  where: string,
  pattern: string,
  timezone: string,
  hint: string,
  checked: CheckedPattern = check(where, pattern, hint),
): { next: (after: Date) => Date | null; fixedTime: boolean; checked: CheckedPattern } {
  const { fixedTime, utc } = checked;
  if (timezone === "UTC") return { next: (after) => utc.nextRun(new Date(checkAfter(after, "calendar"))), fixedTime, checked };
  if (!fixedTime) {
    // Made when first asked: a command that only loads the task never needs it.
    let native: Cron | undefined;
    return { next: (after) => (native ??= create(where, pattern, timezone, hint)).nextRun(new Date(checkAfter(after, "calendar"))), fixedTime, checked };
  }
  const wallClock = utc;
  const next = (after: Date): Date | null => {
    const t = checkAfter(after, "calendar");
    // Wall times at or before after's wall time happen at or before `after` (a repeated time
    // maps to its first occurrence), so the search starts just after it.
    let wall = wallClock.nextRun(new Date(wallTimeAt(t, timezone)));
    while (wall !== null) {
      const instant = fixedTimeInstant(wall.getTime(), timezone);
      // A wall time in the second pass of a repeated hour maps to the first pass, maybe
      // before `after`; a gap time and the time right after the gap map to the same
      // instant. Both are skipped: never the same instant twice.
      if (instant > t) return new Date(instant);
      wall = wallClock.nextRun(wall);
    }
    return null;
  };
  return { next, fixedTime, checked };
}

/**
 * Reads a pattern with croner (in UTC: whether a date ever matches does not depend on the
 * zone); throws a ScheduleError that starts with `where` when croner rejects it or it never fires.
 */
function check(where: string, pattern: string, hint: string): CheckedPattern {
  const utc = create(where, pattern, "UTC", hint);
  if (utc.nextRun(NEVER_FIRES_PROBE) === null) {
    throw new ScheduleError(`${where} never fires: no date matches its day and month fields`, {
      hint: "check the day and month, e.g. day 30 or 31 never occurs in February",
    });
  }
  return { utc, fixedTime: isFixedTime(utc.getPattern() ?? pattern) };
}

/**
 * croner's `fixedTimeRule: "no-wildcard"`, read off the pattern (nicknames already expanded
 * by croner) rather than from a second CronPattern: each one allocates a 10,000-entry year
 * table, which made schedules a visible part of every `fluid` start.
 */
function isFixedTime(pattern: string): boolean {
  const parts = pattern.trim().split(/\s+/);
  if (parts.length === 5) parts.unshift("0");
  return parts.slice(0, 3).every((part) => !/[*/?]/.test(part));
}

const MODE = "5-or-6-parts";
const FIXED_TIME_RULE = "no-wildcard";

function create(where: string, pattern: string, timezone: string, hint: string): Cron {
  try {
    // UTC as a fixed offset: same instants, without croner formatting every probe through Intl.
    const zone = timezone === "UTC" ? { utcOffset: 0 } : { timezone };
    return new Cron(pattern, { ...zone, paused: true, mode: MODE, domAndDow: false, fixedTimeRule: FIXED_TIME_RULE });
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^CronPattern:\s*/, "") : String(error);
    throw new ScheduleError(`${where} is not a valid cron pattern: ${reason}`, { cause: error, hint });
  }
}
