import { FluidError, UsageError } from "./errors.js";

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const PART = /(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d|w)/y;

/**
 * Parses a duration: a number of milliseconds, or text such as "500ms", "30s", "5m", "1h30m",
 * "2d". Returns milliseconds. Throws a UsageError naming `what` for anything else.
 */
export function parseDuration(value: number | string, what = "duration"): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) {
      throw new UsageError(`${what} must be a non-negative number of milliseconds, got ${value}`);
    }
    return value;
  }
  const text = String(value).trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  let total = 0;
  PART.lastIndex = 0;
  let matched = 0;
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex;
    const m = PART.exec(text);
    if (!m) {
      PART.lastIndex = start;
      break;
    }
    total += Number(m[1]) * UNITS[m[2]!]!;
    matched = PART.lastIndex;
    while (text[PART.lastIndex] === " ") PART.lastIndex++;
  }
  if (text === "" || matched !== text.length) {
    throw new UsageError(`invalid ${what} "${value}"`, {
      hint: 'use milliseconds (1500) or a number with a unit: "500ms", "30s", "5m", "1h", "1h30m", "2d"',
    });
  }
  return Math.round(total);
}

/** Like parseDuration, but rethrows with the error class the caller wants (e.g. a definition error). */
export function parseDurationAs<E extends FluidError>(
  value: number | string,
  what: string,
  wrap: (message: string, hint: string | undefined) => E,
): number {
  try {
    return parseDuration(value, what);
  } catch (error) {
    const e = error as UsageError;
    throw wrap(e.message, e.hint);
  }
}

/** Formats milliseconds for people: "850ms", "1.2s", "3m 05s", "2h 10m". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return s % 60 === 0 ? `${s / 60}m` : `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  const m = Math.round(s / 60);
  if (m < 1440) return m % 60 === 0 ? `${m / 60}h` : `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(m / 1440)}d ${Math.floor((m % 1440) / 60)}h`;
}
