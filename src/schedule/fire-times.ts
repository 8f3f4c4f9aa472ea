import type { Schedule } from "../core/types.js";
import { nextRuns } from "./next-runs.js";
import { resolveTimezone } from "./validate.js";
import { offsetAt, wallTimeAt } from "./wall-clock.js";

/** One upcoming fire of a schedule, written for people (`fluid next`). */
export interface FireTime {
  /** The instant. */
  at: Date;
  /** ISO 8601 with the UTC offset in the display zone, e.g. "2026-03-08T03:00:00-04:00". */
  iso: string;
  /** Local wall time and zone abbreviation, e.g. "2026-03-08 03:00:00 EDT". */
  local: string;
  /** The instant in UTC, ISO 8601, e.g. "2026-03-08T07:00:00Z". */
  utc: string;
  /**
   * Set when the zone's UTC offset at this fire differs from the previous fire's (for the
   * first fire: from the offset at `from`): "spring-forward" when it grew, "fall-back" when it
   * shrank.
   */
  dstChange?: "spring-forward" | "fall-back";
}

/**
 * The next `n` fires of `schedule` strictly after `from`, each written in time zone `tz`
 * (default: the schedule's own zone, else UTC), with DST changes between fires marked.
 * Milliseconds are shown only when not zero. Throws a ScheduleError for an unknown zone.
 */
export function fireTimes(schedule: Schedule, n: number, from: Date = new Date(), tz?: string): FireTime[] {
  const zone = resolveTimezone("fireTimes", tz ?? schedule.timezone ?? "UTC");
  let previousOffset = offsetAt(from.getTime(), zone);
  return nextRuns(schedule, n, from).map((at) => {
    const ms = at.getTime();
    const offset = offsetAt(ms, zone);
    const wall = isoText(wallTimeAt(ms, zone));
    const fire: FireTime = {
      at,
      iso: `${wall}${offsetText(offset)}`,
      local: `${wall.replace("T", " ")} ${abbreviation(ms, zone)}`,
      utc: `${isoText(ms)}Z`,
    };
    if (offset !== previousOffset) fire.dstChange = offset > previousOffset ? "spring-forward" : "fall-back";
    previousOffset = offset;
    return fire;
  });
}

/** "2026-03-08T07:00:00" (".250" added when the milliseconds are not zero), no zone. */
function isoText(ms: number): string {
  const text = new Date(ms).toISOString();
  return text.endsWith(".000Z") ? text.slice(0, 19) : text.slice(0, 23);
}

/** "+05:30", "-04:00", "+00:00". */
function offsetText(offsetMs: number): string {
  const minutes = Math.round(Math.abs(offsetMs) / 60_000);
  const hh = String(Math.floor(minutes / 60)).padStart(2, "0");
  const mm = String(minutes % 60).padStart(2, "0");
  return `${offsetMs < 0 ? "-" : "+"}${hh}:${mm}`;
}

const abbreviations = new Map<string, Intl.DateTimeFormat>();

/** "EDT", "CET" or, where the locale has no abbreviation, "GMT+1". */
function abbreviation(ms: number, tz: string): string {
  let format = abbreviations.get(tz);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", { timeZone: tz, timeZoneName: "short" });
    abbreviations.set(tz, format);
  }
  return format.formatToParts(new Date(ms)).find((part) => part.type === "timeZoneName")?.value ?? tz;
}
