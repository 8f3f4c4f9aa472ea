/**
 * The scheduler's reload (`Scheduler.replace`): carries what the running scheduler knows
 * over to a new list of entries, so a config reload neither repeats nor loses a fire.
 */
import { type Entry, sameSchedule } from "./timer-entry.js";

/**
 * Carries the state of `old` entries over to `fresh` ones at wall time `wall`, by task:
 * - same schedule: keeps cursor, next instant and its jitter;
 * - changed schedule: starts after now and after its last fire (never an instant twice);
 * - new task: starts from now (no catch-up).
 * Returns the fresh entries whose next instant must be computed from their cursor, in order.
 */
export function carryOver(old: readonly Entry[], fresh: readonly Entry[], wall: number): Entry[] {
  const before = new Map(old.map((e) => [e.task, e]));
  const toPlace: Entry[] = [];
  for (const e of fresh) {
    const prev = before.get(e.task);
    if (prev && sameSchedule(prev.schedule, e.schedule)) {
      e.cursor = prev.cursor;
      e.due = prev.due;
      e.fireAt = prev.fireAt;
      e.following = prev.following;
    } else {
      e.cursor = prev ? Math.max(prev.cursor, wall) : wall;
      toPlace.push(e);
    }
  }
  return toPlace;
}

/** The entries by task. */
export function byTask(entries: readonly Entry[]): Map<string, Entry> {
  return new Map(entries.map((e) => [e.task, e]));
}
