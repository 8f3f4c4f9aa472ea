/**
 * The scheduler's preview: the next fires over all tasks, in the order they go out
 * (`Scheduler.upcoming`). Reads the scheduler's state; changes nothing.
 */
import { Heap } from "../core/heap.js";
import type { LaneItem } from "./catch-up-lane.js";
import type { Phase } from "./timer-core.js";
import type { Entry } from "./timer-entry.js";
import type { UpcomingFire } from "./timer-types.js";

/** What the preview reads. */
export interface PreviewInput {
  phase: Phase;
  entries: readonly Entry[];
  /** Queued catch-up fires, first out first. */
  lane: Iterable<LaneItem>;
  wall: number;
  mono: number;
  enabled(task: string): boolean;
  /** The first instant of an entry after `t`; Infinity when none. */
  nextAfter(entry: Entry, t: number): number;
}

interface Cursor {
  entry: Entry;
  at: number;
  scheduledAt: number;
  heapIndex: number;
}

const cursorBefore = (a: Cursor, b: Cursor): boolean => a.at < b.at || (a.at === b.at && a.entry.seq < b.entry.seq);

/**
 * The next `n` fires of enabled tasks: queued catch-ups at their lane time, each schedule's
 * next fire at its jittered time, later ones at their due instant (their jitter is not drawn
 * yet). Before start, schedules are previewed from `wall`. None once stopped.
 */
export function upcomingFires(n: number, input: PreviewInput): UpcomingFire[] {
  const { phase, wall, mono, enabled, nextAfter } = input;
  if (phase === "stopped") return [];
  const out: UpcomingFire[] = [];
  for (const item of input.lane) {
    if (out.length >= n) break;
    if (!enabled(item.entry.task)) continue;
    out.push({ task: item.entry.task, at: wall + (item.atMono - mono), scheduledAt: item.scheduledAt, kind: "catch-up" });
  }
  const list: Cursor[] = [];
  for (const e of input.entries) {
    if (!enabled(e.task)) continue;
    const scheduledAt = phase === "new" ? nextAfter(e, wall) : e.due;
    const at = phase === "new" ? scheduledAt : e.fireAt;
    if (scheduledAt !== Infinity) list.push({ entry: e, at, scheduledAt, heapIndex: -1 });
  }
  const cursors = new Heap<Cursor>(cursorBefore);
  cursors.reset(list);
  const fires: UpcomingFire[] = [];
  while (fires.length < n) {
    const c = cursors.peek();
    if (c === undefined) break;
    fires.push({ task: c.entry.task, at: c.at, scheduledAt: c.scheduledAt, kind: "on-time" });
    const next = nextAfter(c.entry, c.scheduledAt);
    if (next === Infinity) cursors.pop();
    else {
      c.at = next;
      c.scheduledAt = next;
      cursors.updateTop();
    }
  }
  return [...out, ...fires].sort((a, b) => a.at - b.at).slice(0, n);
}
