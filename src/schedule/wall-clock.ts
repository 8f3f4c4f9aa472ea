/**
 * Wall-clock arithmetic in IANA time zones. A "wall time" is a local date and time written as
 * if it were UTC (milliseconds since the epoch), so that plain UTC arithmetic and a croner
 * pattern evaluated in UTC see the local calendar fields.
 */

const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

/** The UTC offset of `tz` at `instantMs`, in milliseconds (positive east of Greenwich). */
export function offsetAt(instantMs: number, tz: string): number {
  let format = formatters.get(tz);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(tz, format);
  }
  const f: Record<string, number> = {};
  for (const part of format.formatToParts(new Date(instantMs))) f[part.type] = Number(part.value);
  const wholeSecond = instantMs - (((instantMs % 1000) + 1000) % 1000);
  return Date.UTC(f.year!, f.month! - 1, f.day!, f.hour!, f.minute!, f.second!) - wholeSecond;
}

/** The wall time in `tz` at `instantMs`. */
export function wallTimeAt(instantMs: number, tz: string): number {
  return instantMs + offsetAt(instantMs, tz);
}

/**
 * The instant a fixed-time fire at wall time `wallMs` happens in `tz`: the instant itself when
 * it exists once; the first of the two when it occurs twice (autumn); and the moment of the
 * change when it falls in a gap (spring: 02:30 in a 02:00 -> 03:00 gap runs at 03:00 local).
 */
export function fixedTimeInstant(wallMs: number, tz: string): number {
  // Offsets a day either side bracket any real transition (the largest ever was 24h).
  const before = offsetAt(wallMs - DAY_MS, tz);
  const after = offsetAt(wallMs + DAY_MS, tz);
  const candidates = [wallMs - before, wallMs - after].filter((i) => wallTimeAt(i, tz) === wallMs);
  if (candidates.length > 0) return Math.min(...candidates);
  return changeBetween(wallMs - after, wallMs - before, tz);
}

/** The first whole second in (lo, hi] whose offset differs from lo's (binary search). */
function changeBetween(lo: number, hi: number, tz: string): number {
  const start = offsetAt(lo, tz);
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (offsetAt(mid, tz) === start) lo = mid;
    else hi = mid;
  }
  return hi;
}
