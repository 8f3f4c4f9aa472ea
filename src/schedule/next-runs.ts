import type { Schedule } from "../core/types.js";

/** The next `n` fires of `schedule` strictly after `from` (fewer when the schedule ends). */
export function nextRuns(schedule: Schedule, n: number, from: Date = new Date()): Date[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`nextRuns: n must be a whole number >= 0, got ${n}`);
  const runs: Date[] = [];
  let after = from;
  while (runs.length < n) {
    const next = schedule.next(after);
    if (next === null) break;
    // A schedule that does not move forward would loop forever: stop rather than hang.
    if (next.getTime() <= after.getTime()) throw new Error(`${String(schedule)}.next() did not move past ${after.toISOString()}`);
    runs.push(next);
    after = next;
  }
  return runs;
}
