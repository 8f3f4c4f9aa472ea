/**
 * The scheduler's record of one schedule: where it stands (cursor, next instant, when it goes
 * out) and what never changes (its task, schedule, catch-up policy, interval, jitter).
 */
import { ScheduleError } from "../core/errors.js";
import type { HeapItem } from "../core/heap.js";
import type { ResolvedCatchUp } from "../task/task.js";
import type { Schedule } from "../core/types.js";
import { gridOf } from "./catch-up.js";
import type { ScheduleEntry } from "./timer-types.js";

export interface Entry extends HeapItem {
  readonly task: string;
  readonly schedule: Schedule;
  readonly catchUp: ResolvedCatchUp;
  /** Position in the entries, for ties. */
  readonly seq: number;
  /** Interval of an `every` schedule (a fire's next instant is due + step), else 0. */
  readonly step: number;
  /** Keeps its interval across a backward clock jump (every, hourly or finer calendar patterns). */
  readonly rewinds: boolean;
  readonly jitterMs: number;
  /** Every instant <= cursor was fired, dropped or queued for catch-up (epoch ms). */
  cursor: number;
  /** The next instant, or Infinity when the schedule has ended. */
  due: number;
  /** due + jitter: when it goes out. */
  fireAt: number;
  /**
   * The instant after `due` of a calendar schedule, computed after a pass (a croner `next()`
   * costs tens of microseconds: with many schedules due at once, computing it between fires
   * would make the later fires of the pass late). NaN when not computed yet.
   */
  following: number;
}

/** The catch-up policy that runs nothing. */
export const SKIP: ResolvedCatchUp = { mode: "skip" };

/** Heap order of entries: earliest fire first, ties in entry order. */
export const entryBefore = (a: Entry, b: Entry): boolean => a.fireAt < b.fireAt || (a.fireAt === b.fireAt && a.seq < b.seq);

/** Checks the scheduler's entries and makes their records (not placed yet: due is Infinity). */
export function makeEntries(list: readonly ScheduleEntry[]): Entry[] {
  if (!Array.isArray(list)) throw new TypeError("scheduler: entries must be an array of { task, schedule, catchUp }");
  const seen = new Set<string>();
  return list.map((item, seq): Entry => {
    const { task, schedule } = item ?? ({} as ScheduleEntry);
    if (typeof task !== "string" || task === "") throw new TypeError(`scheduler: entry ${seq} has no task name`);
    if (seen.has(task)) {
      throw new ScheduleError(`scheduler: task "${task}" has two schedule entries`, { hint: "a task has at most one schedule" });
    }
    seen.add(task);
    if (typeof schedule?.next !== "function") throw new TypeError(`scheduler: task "${task}" has no schedule`);
    const catchUp = item.catchUp ?? SKIP;
    if (!["skip", "latest", "some"].includes(catchUp.mode)) throw new TypeError(`scheduler: task "${task}" has an invalid catchUp`);
    const jitterMs = schedule.kind === "every" ? Number((schedule as { jitterMs?: unknown }).jitterMs ?? 0) : 0;
    const step = gridOf(schedule)?.intervalMs ?? 0;
    return {
      task,
      schedule,
      catchUp,
      seq,
      step,
      // A calendar schedule that does not say it is fixed-time (another copy of the package)
      // is taken as fixed-time: never a slot twice.
      rewinds: step > 0 || (schedule as { fixedTime?: unknown }).fixedTime === false,
      jitterMs: Number.isFinite(jitterMs) && jitterMs > 0 ? jitterMs : 0,
      cursor: 0,
      due: Infinity,
      fireAt: Infinity,
      following: Number.NaN,
      heapIndex: -1,
    };
  });
}

/** Same fire times: the same object, or the same source text in the same zone. */
export function sameSchedule(a: Schedule, b: Schedule): boolean {
  return a === b || (a.kind === b.kind && String(a) === String(b) && a.timezone === b.timezone);
}
