import { ScheduleError } from "../core/errors.js";

/** Returns the milliseconds of `after`; throws a TypeError unless it is a valid Date. */
export function checkAfter(after: Date, kind: string): number {
  const ms = after instanceof Date ? after.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw new TypeError(`${kind} schedule: next() needs a valid Date, got ${String(after)}`);
  return ms;
}

/** Throws a ScheduleError when `options` is not an object or has a key outside `allowed`. */
export function checkKeys(where: string, what: string, options: unknown, allowed: readonly string[]): void {
  if (options === undefined) return;
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new ScheduleError(`${where}: ${what} must be an object, got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new ScheduleError(`${where}: unknown ${what.replace(/s$/, "")} "${key}"; use ${listOr(allowed)}`);
    }
  }
}

/** Returns `params` after checking it is a plain object (or undefined). */
export function checkParams(where: string, params: unknown): Record<string, unknown> | undefined {
  if (params === undefined) return undefined;
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    throw new ScheduleError(`${where}: params must be an object of task params, got ${describeValue(params)}`);
  }
  return params as Record<string, unknown>;
}

/**
 * Returns the IANA name of a time zone (canonical spelling, e.g. "utc" -> "UTC"), or throws a
 * ScheduleError naming `where`. Validated with Intl, which knows the same zones croner uses.
 */
export function resolveTimezone(where: string, tz: unknown): string {
  if (typeof tz !== "string" || tz.trim() === "") {
    throw new ScheduleError(`${where}: tz must be an IANA time zone name, got ${describeValue(tz)}`, {
      hint: 'e.g. tz: "UTC", "Europe/London" or "America/New_York"',
    });
  }
  if (tz.trim() === "UTC") return "UTC"; // the default: skip loading ICU's zone data at start-up
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: tz.trim() }).resolvedOptions().timeZone;
  } catch (error) {
    throw new ScheduleError(`${where}: unknown time zone "${tz}"; use an IANA name such as "Europe/London"`, {
      cause: error,
      hint: 'time zones are IANA names ("UTC", "Europe/London", "America/New_York"), not abbreviations like "EST"',
    });
  }
}

/** A short, quoted description of a value for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

/** "a, b or c". */
export function listOr(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}

/** "a, b and c". */
export function listAnd(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}
