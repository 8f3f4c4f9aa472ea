/**
 * The scheduler's catch-up lane: the missed instants the catch-up policies chose to run,
 * queued on one lane, oldest instant first (ties in entry order), `spacingMs` apart whatever
 * their task, so a catch-up is never a stampede. Times are monotonic: clock jumps do not
 * disturb the spacing. Which instants were missed, and which a policy runs, is catch-up.ts.
 */
import type { MissedFires } from "./catch-up.js";
import type { Entry } from "./timer-entry.js";
import type { CatchUpSummary, SchedulerEvent } from "./timer-types.js";

/** A missed instant of a schedule, to run. */
export interface Planned {
  entry: Entry;
  scheduledAt: number;
}

/** A queued catch-up fire. */
export interface LaneItem extends Planned {
  /** Monotonic time it goes out. */
  atMono: number;
}

/** The catch-ups planned in one go (at start, or in a pass that found missed instants). */
export class CatchUpPlan {
  readonly planned: Planned[] = [];
  readonly summaries: CatchUpSummary[] = [];

  /**
   * Adds `entry`'s instants missed in (from, upTo]; the policy's picks run when `run`.
   * Returns how many missed instants will not run.
   */
  add(entry: Entry, from: number, upTo: number, missed: MissedFires, run: boolean): number {
    if (missed.missed === 0) return 0;
    const planned = run ? missed.fires.length : 0;
    for (let i = 0; i < planned; i++) this.planned.push({ entry, scheduledAt: missed.fires[i]! });
    this.summaries.push({
      task: entry.task,
      from,
      to: upTo,
      missed: missed.missed,
      missedCapped: missed.missedCapped,
      planned,
      policy: entry.catchUp.mode,
    });
    return Math.max(0, missed.missed - planned);
  }

  /** The "catch-up" event for this plan, or undefined when nothing was missed. */
  event(reason: Extract<SchedulerEvent, { type: "catch-up" }>["reason"], at: number): SchedulerEvent | undefined {
    if (this.summaries.length === 0) return undefined;
    let missed = 0;
    let planned = 0;
    for (const s of this.summaries) {
      missed += s.missed;
      planned += s.planned;
    }
    return { type: "catch-up", reason, tasks: this.summaries, missed, planned, at };
  }
}

/** The queue of catch-up fires. */
export class CatchUpLane {
  private items: LaneItem[] = [];
  private head = 0;
  // Monotonic time of the last item ever queued: the next one goes out spacingMs after it.
  private tailMono = -Infinity;

  constructor(private readonly spacingMs: number) {}

  /** Catch-up fires queued and not out yet. */
  get size(): number {
    return this.items.length - this.head;
  }

  /** The first queued fire, left in place. */
  peek(): LaneItem | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** Monotonic time the first queued fire goes out; Infinity when none. */
  headAtMono(): number {
    return this.head < this.items.length ? this.items[this.head]!.atMono : Infinity;
  }

  /** Takes the first queued fire off the lane. */
  shift(): LaneItem | undefined {
    return this.head < this.items.length ? this.items[this.head++] : undefined;
  }

  /** The queued fires, first out first (do not modify). */
  *pending(): Iterable<LaneItem> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }

  /**
   * Queues planned fires at monotonic time `mono` or later: oldest instant first (ties in
   * entry order), the first at once unless the lane is busy, each next one `spacingMs` later.
   * Returns the items queued.
   */
  enqueue(planned: Planned[], mono: number): LaneItem[] {
    planned.sort((a, b) => a.scheduledAt - b.scheduledAt || a.entry.seq - b.entry.seq);
    const added: LaneItem[] = [];
    for (const { entry, scheduledAt } of planned) {
      const atMono = Math.max(mono, this.tailMono + this.spacingMs);
      this.tailMono = atMono;
      const item = { entry, scheduledAt, atMono };
      this.items.push(item);
      added.push(item);
    }
    return added;
  }

  /** Frees the array once every queued fire is out. */
  compact(): void {
    if (this.head > 0 && this.head === this.items.length) this.clear();
  }

  /** Drops every queued fire (the spacing after the last one queued still holds). */
  clear(): void {
    this.items = [];
    this.head = 0;
  }

  /** After a reload: keeps the fires of tasks still in `byTask`, pointing at their new entries. */
  retain(byTask: ReadonlyMap<string, Entry>): void {
    const kept: LaneItem[] = [];
    for (const item of this.pending()) {
      const entry = byTask.get(item.entry.task);
      if (entry) kept.push({ ...item, entry });
    }
    this.items = kept;
    this.head = 0;
  }
}
