/**
 * Fire-time arithmetic for catch-up: which instants of a schedule fell in a span the
 * scheduler did not see (downtime, suspend, a clock jumped forward), and which of them a
 * task's catch-up policy runs. Pure functions of the schedule: no clock, no timer.
 *
 * A span can hold millions of instants (an `every("1s")` down for a month), so nothing here
 * walks a span from its start: `every` schedules use grid arithmetic, calendar schedules
 * search backwards from the end of the span with `next()` probes (about 2 log2(span) calls).
 */
import type { ResolvedCatchUp } from "../task/task.js";
import type { Schedule } from "../core/types.js";

/** The grid of an `every` schedule: instants `delayMs + k * intervalMs`. */
export interface Grid {
  intervalMs: number;
  delayMs: number;
}

/** The grid of an `every` schedule (also from another copy of the package), else undefined. */
export function gridOf(schedule: Schedule): Grid | undefined {
  if (schedule.kind !== "every") return undefined;
  const { intervalMs, delayMs } = schedule as Partial<Grid>;
  if (typeof intervalMs !== "number" || typeof delayMs !== "number" || !(intervalMs > 0)) return undefined;
  return { intervalMs, delayMs };
}

/** The first fire of `schedule` strictly after `t` (epoch ms), or null when there is none. */
export function nextFireAfter(schedule: Schedule, t: number): number | null {
  const grid = gridOf(schedule);
  if (grid) return grid.delayMs + (Math.floor((t - grid.delayMs) / grid.intervalMs) + 1) * grid.intervalMs;
  const next = schedule.next(new Date(t));
  if (next === null) return null;
  const ms = next.getTime();
  // A schedule that does not move forward would make every caller loop forever.
  if (!(ms > t)) throw new Error(`${String(schedule)}.next() did not move past ${new Date(t).toISOString()}`);
  return ms;
}

/**
 * The last fire of `schedule` in (after, t], or null when there is none. Calendar schedules:
 * widening probes back from `t` (first width `width`, default 1 s) find a span holding a fire,
 * then a binary search on the millisecond finds the last one.
 */
export function lastFireAtOrBefore(schedule: Schedule, t: number, after: number, width = 1000): number | null {
  if (!(t > after)) return null;
  const grid = gridOf(schedule);
  if (grid) {
    const last = grid.delayMs + Math.floor((t - grid.delayMs) / grid.intervalMs) * grid.intervalMs;
    return last > after ? last : null;
  }
  const hasFire = (x: number): boolean => {
    const next = nextFireAfter(schedule, x);
    return next !== null && next <= t;
  };
  if (!hasFire(after)) return null;
  // Invariant: a fire in (lo, t], none in (hi, t], lo < hi.
  let lo = after;
  let hi = t;
  for (let w = Math.max(1, Math.floor(width)); t - w > lo; w *= 2) {
    if (hasFire(t - w)) {
      lo = t - w;
      break;
    }
    hi = t - w;
  }
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (hasFire(mid)) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** How many fires `schedule` has in (after, upTo]; counting stops at `cap` (then `capped`). */
export function countFires(schedule: Schedule, after: number, upTo: number, cap = COUNT_CAP): { count: number; capped: boolean } {
  if (!(upTo > after)) return { count: 0, capped: false };
  const grid = gridOf(schedule);
  if (grid) {
    const index = (t: number): number => Math.floor((t - grid.delayMs) / grid.intervalMs);
    return { count: index(upTo) - index(after), capped: false };
  }
  let count = 0;
  for (let t = nextFireAfter(schedule, after); t !== null && t <= upTo; t = nextFireAfter(schedule, t)) {
    if (count >= cap) return { count, capped: true };
    count++;
  }
  return { count, capped: false };
}

/**
 * Calendar fires walked one by one before a span counts as long: its count is then reported
 * as "at least" this, and the fires a policy keeps are searched backwards from its end.
 * A croner `next()` costs tens of microseconds, so this bounds a long catch-up to a few ms.
 */
export const COUNT_CAP = 100;

/** What a catch-up policy makes of a span of missed fires. */
export interface MissedFires {
  /** The instants to run, oldest first (epoch ms). */
  fires: number[];
  /** How many instants the span held (a lower bound when `missedCapped`). */
  missed: number;
  /** True when a calendar schedule had more than COUNT_CAP instants and counting stopped. */
  missedCapped: boolean;
}

/**
 * The fires of `schedule` missed in (after, upTo] and the ones `policy` runs:
 * - skip: none;
 * - latest: the last instant of the span;
 * - { max, within }: the most recent `max` instants that are at most `within` before `now`
 *   (default `upTo`).
 * Cost does not grow with the length of the span (see the file comment).
 */
export function missedFires(schedule: Schedule, policy: ResolvedCatchUp, after: number, upTo: number, now = upTo): MissedFires {
  const keep = policy.mode === "skip" ? 0 : policy.mode === "latest" ? 1 : policy.max;
  // Exclusive lower bound: an instant exactly `within` before now is still in the window.
  const lo = policy.mode === "some" ? Math.max(after, now - policy.withinMs - 1) : after;
  if (!(upTo > after)) return { fires: [], missed: 0, missedCapped: false };
  const grid = gridOf(schedule);
  if (grid) {
    const { count } = countFires(schedule, after, upTo);
    return { fires: lastGridFires(grid, keep, lo, upTo), missed: count, missedCapped: false };
  }
  // One walk forward counts a short span and keeps its last fires; a long one is searched
  // backwards from its end instead.
  const kept: number[] = [];
  let count = 0;
  for (let t = nextFireAfter(schedule, after); t !== null && t <= upTo; t = nextFireAfter(schedule, t)) {
    if (count === COUNT_CAP) {
      return { fires: lastFiresBackwards(schedule, keep, lo, upTo), missed: count, missedCapped: true };
    }
    count++;
    if (keep > 0 && t > lo) {
      kept.push(t);
      if (kept.length > keep) kept.shift();
    }
  }
  return { fires: kept, missed: count, missedCapped: false };
}

/** The last `n` grid instants in (lo, upTo], oldest first. */
function lastGridFires(grid: Grid, n: number, lo: number, upTo: number): number[] {
  if (!(upTo > lo) || n <= 0) return [];
  const index = (t: number): number => Math.floor((t - grid.delayMs) / grid.intervalMs);
  const hi = index(upTo);
  const fires: number[] = [];
  for (let k = Math.max(index(lo) + 1, hi - n + 1); k <= hi; k++) fires.push(grid.delayMs + k * grid.intervalMs);
  return fires;
}

/** The last `n` fires in (lo, upTo], oldest first, by repeated backward searches. */
function lastFiresBackwards(schedule: Schedule, n: number, lo: number, upTo: number): number[] {
  const fires: number[] = [];
  let t = upTo;
  let width = 1000;
  while (fires.length < n) {
    const last = lastFireAtOrBefore(schedule, t, lo, width);
    if (last === null) break;
    // Consecutive gaps are usually alike: start the next search at about the last gap.
    if (fires.length > 0) width = Math.max(1, fires[fires.length - 1]! - last);
    fires.push(last);
    t = last - 1;
  }
  return fires.reverse();
}
