import { parseDurationAs } from "../core/duration.js";
import { ScheduleError } from "../core/errors.js";
import type { Duration, Schedule } from "../core/types.js";
import { SCHEDULE_BRAND } from "../core/brand.js";
import { checkAfter, checkKeys, checkParams } from "./validate.js";

/**
 * The shortest interval `every()` accepts, in milliseconds. Why 10ms and not 1ms: Node timers
 * have 1ms resolution and a busy event loop is routinely a few milliseconds late, so below
 * ~10ms the scheduler could not keep the grid at all (fires would arrive late and bunch up),
 * while each fire still costs a queued and recorded run.
 */
export const MIN_INTERVAL_MS = 10;

/** Options of `every()`. */
export interface EveryOptions {
  /**
   * Shifts the grid: fires are at `epoch + delay + k * interval`. Must be shorter than the
   * interval.
   * @default 0 (fires on multiples of the interval since the Unix epoch)
   */
  delay?: Duration;
  /**
   * Upper bound of a random extra wait the scheduler adds to each fire (in [0, jitter)), to
   * spread load. `next()` ignores it. Must be shorter than the interval.
   * @default 0 (no jitter)
   */
  jitter?: Duration;
  /**
   * Params every scheduled run carries, validated against the task's schema.
   * @default undefined (the task's schema defaults apply)
   */
  params?: Record<string, unknown>;
}

/** A schedule made by `every()`: a fixed grid of instants, independent of time zones. */
export interface EverySchedule extends Schedule {
  readonly kind: "every";
  readonly [SCHEDULE_BRAND]: true;
  /** Distance between fires, in milliseconds. */
  readonly intervalMs: number;
  /** Phase of the grid after the Unix epoch, in milliseconds (0 <= delayMs < intervalMs). */
  readonly delayMs: number;
  /** Upper bound (exclusive) of the random offset the scheduler adds to each fire, in ms. */
  readonly jitterMs: number;
  /** The first grid time strictly after `after`; a grid never ends, so never null. */
  next(after: Date): Date;
}

const OPTION_KEYS = ["delay", "jitter", "params"] as const;

/**
 * Fires every `interval` on a fixed grid anchored to the Unix epoch, without drift.
 *
 * Grid times are `epoch + delay + k * interval` (UTC), so `every("1h")` fires at the top of
 * each UTC hour, `every("1d")` at 00:00 UTC, `every("1w")` on Thursdays 00:00 UTC (the epoch
 * was a Thursday), and a restarted daemon keeps the same grid. Use `crontab`/`cron` for fires
 * at local wall-clock times. A number is milliseconds: `every(30)` is every 30ms, not 30s.
 * The interval must be at least 10ms (see MIN_INTERVAL_MS). Throws a ScheduleError for a bad
 * interval or option.
 *
 * @param interval Distance between fires: ms or text ("30s", "5m", "1h", "1d", "1w").
 * @param options `delay` (shift of the grid, default 0), `jitter` (random extra wait, default 0),
 *   `params` (of every scheduled run).
 * @example
 * export const poll = task({ schedule: every("5m") }, async (ctx) => { ... });
 * every("1h", { delay: "15m" });       // at :15 past every UTC hour
 * every("1m", { jitter: "10s" });      // each fire up to 10s late, to spread load
 */
export function every(interval: Duration, options: EveryOptions = {}): EverySchedule {
  checkKeys("every", "options", options, OPTION_KEYS);
  const intervalMs = toMs(interval, "interval");
  if (intervalMs < MIN_INTERVAL_MS) {
    const meantSeconds = typeof interval === "number" && interval > 0 ? `; if you meant ${interval} seconds, write every("${interval}s")` : "";
    throw new ScheduleError(
      `every: interval ${JSON.stringify(interval)} is shorter than the minimum ${MIN_INTERVAL_MS}ms${meantSeconds}`,
      { hint: 'write a duration of at least 10ms, e.g. every("500ms"), every("30s"), every("1h")' },
    );
  }
  const delayMs = options.delay === undefined ? 0 : toMs(options.delay, "delay");
  const jitterMs = options.jitter === undefined ? 0 : toMs(options.jitter, "jitter");
  if (delayMs >= intervalMs) {
    throw new ScheduleError(
      `every: delay ${units(delayMs, "")} is not shorter than the interval ${units(intervalMs, "")}; ` +
        `the grid repeats every interval, so write delay: "${units(delayMs % intervalMs, "")}"`,
    );
  }
  if (jitterMs >= intervalMs) {
    throw new ScheduleError(
      `every: jitter ${units(jitterMs, "")} is not shorter than the interval ${units(intervalMs, "")}; ` +
        "a jitter that long could reorder fires, so write a jitter below the interval",
    );
  }
  const params = checkParams("every", options.params);
  return Object.freeze({
    [SCHEDULE_BRAND]: true as const,
    kind: "every" as const,
    intervalMs,
    delayMs,
    jitterMs,
    params,
    timezone: undefined,
    next(after: Date): Date {
      const t = checkAfter(after, "every");
      // First k with delay + k*interval > t. Integer arithmetic, so no drift however far out.
      const k = Math.floor((t - delayMs) / intervalMs) + 1;
      return new Date(delayMs + k * intervalMs);
    },
    describe(): string {
      const extras = [delayMs ? `offset ${units(delayMs, " ")}` : "", jitterMs ? `jitter up to ${units(jitterMs, " ")}` : ""];
      const tail = extras.filter(Boolean).join(", ");
      return `every ${units(intervalMs, " ")}${tail ? ` (${tail})` : ""}`;
    },
    toString(): string {
      const opts = [delayMs ? `delay: "${units(delayMs, "")}"` : "", jitterMs ? `jitter: "${units(jitterMs, "")}"` : ""];
      const text = opts.filter(Boolean).join(", ");
      return `every("${units(intervalMs, "")}"${text ? `, { ${text} }` : ""})`;
    },
  });
}

function toMs(value: Duration, what: string): number {
  const ms = parseDurationAs(value, `every ${what}`, (message, hint) => new ScheduleError(message, { hint }));
  if (!Number.isSafeInteger(ms)) {
    throw new ScheduleError(`every: ${what} ${JSON.stringify(value)} is not a whole number of milliseconds`, {
      hint: `write a whole number of milliseconds (${Math.round(ms)}) or a unit such as "1.5s"`,
    });
  }
  return ms;
}

const UNIT_MS: ReadonlyArray<readonly [string, number]> = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1000],
  ["ms", 1],
];

/** Exact duration text: 9_000_000 -> "2h 30m" (sep " ") or "2h30m" (sep "", parseable). */
function units(ms: number, sep: string): string {
  if (ms === 0) return "0ms";
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of UNIT_MS) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join(sep);
}
