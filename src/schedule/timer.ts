/**
 * The scheduler's timer: turns schedules into fires at the right time. It never runs task
 * code; each fire is handed to `onFire` (the daemon queues a run for it).
 *
 * How it keeps time (house style: never trust one long setTimeout):
 * - One timer for all schedules. Every schedule has an entry in a min-heap keyed by its next
 *   fire time; the timer sleeps until the earliest, at most `maxSleepMs` at a time, and on
 *   each wake everything is recomputed from the wall clock.
 * - Never early: a fire goes out only when the wall clock has reached its time. A timer that
 *   wakes too soon just sleeps again. To be on time despite Node's millisecond timers, the
 *   timer wakes `spinMs` before the earliest fire and then polls with setImmediate (the event
 *   loop keeps serving I/O meanwhile) until the instant is reached.
 * - Clock jumps: between two wakes the wall clock and the monotonic clock must advance alike.
 *   A difference over CLOCK_JUMP_MS is a clock jump (forward: the clock was set forward, or the
 *   machine was suspended, since monotonic time stops during suspend on Linux and macOS). A
 *   wake later than asked by the monotonic clock too is a stall (a blocked event loop, or a
 *   suspend where monotonic time keeps running).
 * - Missed fires: a fire more than `lateToleranceMs` behind its time (after a forward jump, a
 *   suspend, a stall, or downtime at start) is not fired late; the task's catch-up policy
 *   decides which of the missed instants run (see `missedFires`), staggered on one lane.
 * - Cheap at the instant: the entries due at the next fire time are taken off the heap while
 *   the timer sleeps, and a calendar schedule's following instant (a croner call) is computed
 *   after the pass, so a pass of a thousand fires only calls `onFire` (under 1 ms when warm).
 * - Never the same calendar slot twice: each entry has a cursor, the latest instant already
 *   fired, dropped or queued for catch-up; the next fire is always the first instant after
 *   it. After a backward jump (an NTP step, a VM restored from a snapshot) the wall clock is
 *   behind the cursors. Vixie cron's rule, by the kind of schedule:
 *   - a fixed-time calendar schedule (cron, crontab without `*` or a step in second, minute
 *     and hour: "0 3 * * *") waits until the clock passes its cursor again, so a slot already
 *     fired ("03:00 on the 1st") is not fired twice;
 *   - an interval schedule (every, and hourly or finer calendar patterns such as
 *     "*\/5 * * * *", cron's "wildcard jobs") keeps its interval: its cursor moves back to the
 *     wall clock and it fires at its next instant after it, as if it had just started.
 *     Instants between the new time and the old cursor come round again, so their
 *     `scheduledAt` repeats; silence for the length of the jump (an hour of a 1 s heartbeat)
 *     would be worse.
 */
import { ScheduleError } from "../core/errors.js";
import type { ResolvedCatchUp } from "../task/task.js";
import type { Schedule } from "../core/types.js";
import { gridOf, missedFires, nextFireAfter } from "./catch-up.js";
import { MinHeap } from "./heap.js";

/** One scheduled task: its schedule and its catch-up policy. */
export interface ScheduleEntry {
  task: string;
  schedule: Schedule;
  catchUp: ResolvedCatchUp;
}

/** One fire of a schedule, handed to `onFire`. */
export interface Fire {
  task: string;
  /** The due instant (epoch ms): the grid or calendar time, without jitter. */
  scheduledAt: number;
  /** Wall-clock time `onFire` was called (epoch ms). */
  firedAt: number;
  /** "on-time": at its time (plus jitter, within `lateToleranceMs`); "catch-up": a missed instant run later. */
  kind: "on-time" | "catch-up";
}

/** A task's part of a catch-up (see SchedulerEvent "catch-up"). */
export interface CatchUpSummary {
  task: string;
  /** The span the instants were missed in: (from, to], epoch ms. */
  from: number;
  to: number;
  /** Instants of the schedule in the span; a lower bound when `missedCapped`. */
  missed: number;
  missedCapped: boolean;
  /** Of those, how many are queued to run (by the policy; 0 when the task is disabled). */
  planned: number;
  policy: ResolvedCatchUp["mode"];
}

/** Something worth a log line. `at` is the wall-clock time it was noticed (epoch ms). */
export type SchedulerEvent =
  | {
      /**
       * The wall clock moved `deltaMs` more (forward) or less (backward) than the monotonic
       * clock between two wakes. Forward: the clock was set forward or the machine was
       * suspended; missed fires go through catch-up. Backward: interval schedules (every,
       * hourly or finer cron patterns) fire at their next instant after the new time;
       * fixed-time cron patterns wait until the clock passes their last fire again, so no
       * such slot fires twice.
       */
      type: "clock-jump";
      direction: "forward" | "backward";
      deltaMs: number;
      at: number;
    }
  | {
      /** The timer woke `sleptMs` after it was set for `plannedMs` by the monotonic clock. */
      type: "stall";
      sleptMs: number;
      plannedMs: number;
      at: number;
    }
  | {
      /** `count` on-time fires of one wake were over LATE_FIRE_MS late; the latest one (most late) is named. */
      type: "late-fire";
      task: string;
      scheduledAt: number;
      lateMs: number;
      count: number;
      at: number;
    }
  | {
      /** Missed fires were found and handed to the catch-up policies. */
      type: "catch-up";
      /** "start": from `lastFires`; otherwise what made the fires late. */
      reason: "start" | "clock-jump" | "stall" | "late";
      tasks: CatchUpSummary[];
      /** Totals over `tasks`. */
      missed: number;
      planned: number;
      at: number;
    }
  | {
      /** A callback or a schedule threw; the scheduler carries on. */
      type: "error";
      where: "onFire" | "isEnabled" | "schedule";
      task: string;
      error: unknown;
      at: number;
    };

/** Options of `createScheduler`. */
export interface SchedulerOptions {
  /** The scheduled tasks; task names must be unique. */
  entries: readonly ScheduleEntry[];
  /**
   * Last fire per task (the `scheduledAt` of its last fire, from the store), for catch-up at
   * start. Default: none, so nothing is caught up.
   */
  lastFires?: ReadonlyMap<string, number>;
  /**
   * Called for each fire, synchronously and in due order. Must be quick (queue a run and
   * return): it delays the fires after it. An exception is reported as an "error" event.
   */
  onFire(fire: Fire): void;
  /**
   * Whether a task may fire, asked at fire time (and when catch-up is planned). A disabled
   * task's fires are dropped; its schedule still advances. An exception counts as enabled.
   * Default: every task is enabled.
   */
  isEnabled?(task: string): boolean;
  /** Events for the log: clock jump, stall, late fire, catch-up summary, error. Default: none. */
  onEvent?(event: SchedulerEvent): void;
  /** Longest single sleep, ms: clock jumps and suspend are noticed within about this. Default 1000. */
  maxSleepMs?: number;
  /**
   * How late a fire may be and still go out as "on-time", ms. Later instants (a suspend, a
   * clock jump, a blocked event loop) are missed and go through the catch-up policy, so a
   * stall never releases a burst of stale fires. Default 1000.
   */
  lateToleranceMs?: number;
  /**
   * Gap between two catch-up fires, ms. All catch-up fires share one lane, oldest instant
   * first (ties in entry order): the first goes out at once, each next one this much later,
   * whatever its task. Default 100.
   */
  catchUpSpacingMs?: number;
  /**
   * How long before a fire the timer wakes to poll with setImmediate until it is due, ms;
   * 0 relies on setTimeout alone (about 1-2 ms late). Default 2.
   */
  spinMs?: number;
  /** Wall clock, epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Monotonic clock, ms. Default `performance.now`. */
  monotonic?: () => number;
  /** Random source in [0, 1) for jitter. Default `Math.random`. */
  random?: () => number;
}

/** A fire that will happen (see `Scheduler.upcoming`). */
export interface UpcomingFire {
  task: string;
  /**
   * When it goes out (epoch ms): for a schedule's next fire its jittered time, for later ones
   * the due instant (their jitter is not drawn yet); for a queued catch-up its lane time.
   */
  at: number;
  /** The due instant (epoch ms). */
  scheduledAt: number;
  kind: Fire["kind"];
}

/** Counters of a scheduler since it was made. */
export interface SchedulerStats {
  state: "new" | "running" | "stopped";
  entries: number;
  /** Catch-up fires queued and not yet out. */
  pendingCatchUps: number;
  /** Time of the next schedule fire (epoch ms), or null when no schedule fires again. */
  nextFireAt: number | null;
  fires: { onTime: number; catchUp: number };
  /** Fires dropped because the task was disabled. */
  skippedDisabled: number;
  /** Missed instants the catch-up policies did not run (a lower bound for very dense calendars). */
  missedDropped: number;
  /** On-time fires more than LATE_FIRE_MS late, and the largest lateness seen (ms). */
  lateFires: number;
  maxLateMs: number;
  /** Timer wakes, setImmediate polls, and timer wakes before the asked time by the wall clock. */
  wakes: number;
  spins: number;
  earlyWakes: number;
  clockJumps: { forward: number; backward: number };
  stalls: number;
}

/** The scheduler made by `createScheduler`. */
export interface Scheduler {
  /**
   * Starts the timer and plans catch-up from `lastFires`. Returns the catch-up fires planned,
   * with `firedAt` the time each is planned to go out (the first at once, then
   * `catchUpSpacingMs` apart); they are delivered through `onFire`, never inside `start()`.
   * Throws when called twice.
   */
  start(): Fire[];
  /** Stops: clears the timer and drops queued catch-up fires. Idempotent. */
  stop(): void;
  /** The next `n` fires (default 10) over all enabled tasks, in the order they go out; none once stopped. */
  upcoming(n?: number): UpcomingFire[];
  /**
   * Swaps the entries (a config reload). A task whose schedule is unchanged keeps its next
   * fire; a changed schedule starts after now and after its last fire; a new task starts
   * from now (no catch-up); a removed task's queued catch-ups are dropped.
   */
  replace(entries: readonly ScheduleEntry[]): void;
  /** A snapshot of the counters. */
  stats(): SchedulerStats;
}

/** Wall and monotonic clocks differing by more than this between two wakes is a clock jump, ms. */
export const CLOCK_JUMP_MS = 1000;
/** A wake later than asked by more than this (monotonic) is a stall, ms. */
export const STALL_MS = 1000;
/** On-time fires later than this are counted and reported ("late-fire" event), ms. */
export const LATE_FIRE_MS = 100;

interface Entry {
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

interface LaneItem {
  entry: Entry;
  scheduledAt: number;
  /** Monotonic time it goes out: catch-up spacing is not disturbed by clock jumps. */
  atMono: number;
}

const SKIP: ResolvedCatchUp = { mode: "skip" };

/** Makes a scheduler for `options.entries`; call `start()` to run it. */
export function createScheduler(options: SchedulerOptions): Scheduler {
  if (typeof options?.onFire !== "function") throw new TypeError("createScheduler: onFire must be a function");
  const onFire = options.onFire;
  const isEnabledOption = options.isEnabled;
  const onEvent = options.onEvent;
  const maxSleepMs = numberOption("maxSleepMs", options.maxSleepMs, 1000, 1);
  const toleranceMs = numberOption("lateToleranceMs", options.lateToleranceMs, 1000, 0);
  const spacingMs = numberOption("catchUpSpacingMs", options.catchUpSpacingMs, 100, 0);
  const spinMs = numberOption("spinMs", options.spinMs, 2, 0);
  const now = options.now ?? (() => Date.now());
  const monotonic = options.monotonic ?? (() => performance.now());
  const random = options.random ?? (() => Math.random());

  let entries = makeEntries(options.entries);
  const heap = new MinHeap<Entry>((a, b) => a.fireAt < b.fireAt || (a.fireAt === b.fireAt && a.seq < b.seq));
  let lane: LaneItem[] = [];
  let laneHead = 0;
  let laneTailMono = -Infinity;
  let state: SchedulerStats["state"] = "new";
  // Bumped by stop() and replace(): a pass that sees it change (a callback called them) ends.
  let generation = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let immediate: ReturnType<typeof setImmediate> | undefined;
  let seenWall = 0;
  let seenMono = 0;
  let armMono = 0;
  let plannedMs = 0;
  let sleepUntil = 0;
  let lastSpinMono = -Infinity;
  // Calendar entries fired in the current pass, whose following instant is computed after it.
  const refill: Entry[] = [];
  // The entries due at the next fire time, taken off the heap while the timer sleeps, so the
  // pass that fires them only calls out: heap upkeep for a thousand schedules due at the same
  // instant would otherwise delay the last of them by milliseconds. Not advanced yet.
  const ready: Entry[] = [];
  // Lateness of the on-time fires of the current pass, for the "late-fire" event.
  let lateCount = 0;
  let lateTask = "";
  let lateScheduledAt = 0;
  let lateMs = 0;
  const stats: Omit<SchedulerStats, "state" | "entries" | "pendingCatchUps" | "nextFireAt"> = {
    fires: { onTime: 0, catchUp: 0 },
    skippedDisabled: 0,
    missedDropped: 0,
    lateFires: 0,
    maxLateMs: 0,
    wakes: 0,
    spins: 0,
    earlyWakes: 0,
    clockJumps: { forward: 0, backward: 0 },
    stalls: 0,
  };

  const emit = (event: SchedulerEvent): void => {
    if (!onEvent) return;
    try {
      onEvent(event);
    } catch {
      // A failing logger must not stop the schedules.
    }
  };

  const enabled = (task: string): boolean => {
    if (!isEnabledOption) return true;
    try {
      return isEnabledOption(task) !== false;
    } catch (error) {
      emit({ type: "error", where: "isEnabled", task, error, at: now() });
      return true;
    }
  };

  /** The first instant of `e` after `t`; Infinity when it has ended or its schedule throws. */
  const nextAfter = (e: Entry, t: number): number => {
    try {
      return nextFireAfter(e.schedule, t) ?? Infinity;
    } catch (error) {
      emit({ type: "error", where: "schedule", task: e.task, error, at: now() });
      return Infinity;
    }
  };

  const setDue = (e: Entry, due: number): void => {
    e.due = due;
    e.following = Number.NaN;
    if (e.step === 0 && due !== Infinity) refill.push(e);
    e.fireAt = due + (e.jitterMs > 0 && due !== Infinity ? Math.min(e.jitterMs - 1, Math.floor(random() * e.jitterMs)) : 0);
  };

  /** The instant after `e.due`. */
  const following = (e: Entry): number =>
    e.step > 0 ? e.due + e.step : Number.isNaN(e.following) ? nextAfter(e, e.due) : e.following;

  /** Takes the entries due at the earliest fire time off the heap (see `ready`). */
  const prepare = (): void => {
    if (ready.length > 0) return;
    const at = heap.peek()?.fireAt;
    if (at === undefined || at === Infinity) return;
    while (heap.peek()?.fireAt === at) ready.push(heap.pop()!);
  };

  /** Puts the ready entries back on the heap, advancing the ones already fired. */
  const settle = (): void => {
    for (const e of ready) {
      if (e.cursor >= e.due) setDue(e, following(e));
      heap.push(e);
    }
    ready.length = 0;
  };

  const noteLateness = (task: string, scheduledAt: number, late: number): void => {
    if (late > stats.maxLateMs) stats.maxLateMs = late;
    if (late <= LATE_FIRE_MS) return;
    lateCount++;
    if (late > lateMs) {
      lateTask = task;
      lateScheduledAt = scheduledAt;
      lateMs = late;
    }
  };

  /** Computes the instant after the next one of the calendar entries whose next one moved. */
  const fillFollowing = (): void => {
    for (const e of refill) if (Number.isNaN(e.following) && e.due !== Infinity) e.following = nextAfter(e, e.due);
    refill.length = 0;
  };

  /** Hands one fire to onFire; returns its firedAt, or undefined when the task is disabled. */
  const deliver = (e: Entry, scheduledAt: number, kind: Fire["kind"]): number | undefined => {
    if (!enabled(e.task)) {
      stats.skippedDisabled++;
      return undefined;
    }
    const firedAt = now();
    if (kind === "on-time") stats.fires.onTime++;
    else stats.fires.catchUp++;
    try {
      onFire({ task: e.task, scheduledAt, firedAt, kind });
    } catch (error) {
      emit({ type: "error", where: "onFire", task: e.task, error, at: firedAt });
    }
    return firedAt;
  };

  /** Queues planned catch-up fires on the lane, oldest instant first, `spacingMs` apart. */
  const enqueue = (batch: Array<{ entry: Entry; scheduledAt: number }>, mono: number): void => {
    batch.sort((a, b) => a.scheduledAt - b.scheduledAt || a.entry.seq - b.entry.seq);
    for (const { entry, scheduledAt } of batch) {
      const atMono = Math.max(mono, laneTailMono + spacingMs);
      laneTailMono = atMono;
      lane.push({ entry, scheduledAt, atMono });
    }
  };

  /** Applies the catch-up policy of `e` to its instants in (cursor, upTo]. */
  const planMissed = (
    e: Entry,
    upTo: number,
    wall: number,
    batch: Array<{ entry: Entry; scheduledAt: number }>,
    summaries: CatchUpSummary[],
    policy: ResolvedCatchUp,
  ): void => {
    const from = e.cursor;
    let missed;
    try {
      missed = missedFires(e.schedule, policy, from, upTo, wall);
    } catch (error) {
      emit({ type: "error", where: "schedule", task: e.task, error, at: wall });
      missed = { fires: [], missed: 0, missedCapped: false };
    }
    if (missed.missed === 0) return;
    const planned = missed.fires.length > 0 && enabled(e.task) ? missed.fires.length : 0;
    for (let i = 0; i < planned; i++) batch.push({ entry: e, scheduledAt: missed.fires[i]! });
    stats.missedDropped += Math.max(0, missed.missed - planned);
    summaries.push({ task: e.task, from, to: upTo, missed: missed.missed, missedCapped: missed.missedCapped, planned, policy: e.catchUp.mode });
  };

  const reportCatchUp = (reason: Extract<SchedulerEvent, { type: "catch-up" }>["reason"], summaries: CatchUpSummary[], at: number): void => {
    if (summaries.length === 0) return;
    let missed = 0;
    let planned = 0;
    for (const s of summaries) {
      missed += s.missed;
      planned += s.planned;
    }
    emit({ type: "catch-up", reason, tasks: summaries, missed, planned, at });
  };

  /**
   * After a backward jump: an interval schedule whose cursor is ahead of the wall clock starts
   * again from the wall clock (its next fire is one interval away at most, not the length of
   * the jump). Fixed-time calendar schedules keep their cursor: a slot already fired is not
   * fired again.
   */
  const rewindIntervals = (wall: number): void => {
    settle();
    let moved = false;
    for (const e of entries) {
      if (e.rewinds && e.cursor > wall) {
        e.cursor = wall;
        setDue(e, nextAfter(e, wall));
        moved = true;
      }
    }
    if (moved) heap.reset(entries);
  };

  /** Notes clock jumps, stalls and early wakes since the last wake; returns what made fires late. */
  const observe = (wall: number, mono: number, viaTimer: boolean): "clock-jump" | "stall" | "late" => {
    const skew = wall - seenWall - (mono - seenMono);
    seenWall = wall;
    seenMono = mono;
    let cause: "clock-jump" | "stall" | "late" = "late";
    if (skew > CLOCK_JUMP_MS || skew < -CLOCK_JUMP_MS) {
      const direction = skew > 0 ? "forward" : "backward";
      stats.clockJumps[direction]++;
      cause = "clock-jump";
      if (direction === "backward") rewindIntervals(wall);
      emit({ type: "clock-jump", direction, deltaMs: skew, at: wall });
    } else if (viaTimer && wall < sleepUntil - 1) {
      stats.earlyWakes++;
    }
    const slept = mono - armMono;
    if (slept - plannedMs > STALL_MS) {
      stats.stalls++;
      if (cause === "late") cause = "stall";
      emit({ type: "stall", sleptMs: slept, plannedMs, at: wall });
    }
    return cause;
  };

  /** Handles everything due at `wall`: missed instants first, then fires in due order. */
  const pass = (wall: number, mono: number, cause: "clock-jump" | "stall" | "late", gen: number): void => {
    // Instants more than the tolerance behind go through catch-up, not out late.
    const cutoff = wall - toleranceMs;
    if (ready.length > 0 && ready[0]!.fireAt < cutoff) settle();
    let top = heap.peek();
    if (top !== undefined && top.fireAt < cutoff) {
      const batch: Array<{ entry: Entry; scheduledAt: number }> = [];
      const summaries: CatchUpSummary[] = [];
      while (top !== undefined && top.fireAt < cutoff) {
        const next = nextAfter(top, cutoff);
        // "latest" needs no catch-up fire when a newer instant goes out on time in this pass.
        const policy = top.catchUp.mode === "latest" && next <= wall ? SKIP : top.catchUp;
        planMissed(top, cutoff, wall, batch, summaries, policy);
        top.cursor = cutoff;
        setDue(top, next);
        heap.updateTop();
        top = heap.peek();
      }
      enqueue(batch, mono);
      reportCatchUp(cause, summaries, wall);
      if (gen !== generation) return;
    }
    lateCount = 0;
    lateMs = 0;
    if (ready.length > 0 && ready[0]!.fireAt <= wall) {
      const fireAt = ready[0]!.fireAt;
      const item = laneHead < lane.length ? lane[laneHead] : undefined;
      if (item !== undefined && item.atMono <= mono && wall - (mono - item.atMono) < fireAt) {
        settle(); // a catch-up comes first: the general loop below keeps the order
      } else {
        // The hot path: fire the prepared batch, then advance it. `cursor = due` marks an
        // entry fired, should a callback call replace() (which settles) before the end.
        for (const e of ready) {
          const scheduledAt = e.due;
          e.cursor = scheduledAt;
          const firedAt = deliver(e, scheduledAt, "on-time");
          if (firedAt !== undefined) noteLateness(e.task, scheduledAt, firedAt - fireAt);
          if (gen !== generation) return;
        }
        settle();
      }
    }
    for (;;) {
      const e = heap.peek();
      const item = laneHead < lane.length ? lane[laneHead] : undefined;
      const entryDue = e !== undefined && e.fireAt <= wall;
      const itemDue = item !== undefined && item.atMono <= mono;
      if (!entryDue && !itemDue) break;
      if (itemDue && (!entryDue || wall - (mono - item.atMono) < e.fireAt)) {
        laneHead++;
        deliver(item.entry, item.scheduledAt, "catch-up");
      } else {
        const scheduledAt = e!.due;
        const fireAt = e!.fireAt;
        // Advance before calling out, so a callback that throws, stops or replaces finds a
        // consistent heap.
        e!.cursor = scheduledAt;
        setDue(e!, following(e!));
        heap.updateTop();
        const firedAt = deliver(e!, scheduledAt, "on-time");
        if (firedAt !== undefined) noteLateness(e!.task, scheduledAt, firedAt - fireAt);
      }
      if (gen !== generation) return;
    }
    if (laneHead > 0 && laneHead === lane.length) {
      lane = [];
      laneHead = 0;
    }
    // Every due fire is out: now the slow part.
    fillFollowing();
    if (lateCount > 0) {
      stats.lateFires += lateCount;
      emit({ type: "late-fire", task: lateTask, scheduledAt: lateScheduledAt, lateMs, count: lateCount, at: wall });
    }
  };

  const wake = (viaTimer: boolean): void => {
    timer = undefined;
    immediate = undefined;
    if (viaTimer) stats.wakes++;
    else stats.spins++;
    const gen = generation;
    const wall = now();
    const mono = monotonic();
    const cause = observe(wall, mono, viaTimer);
    if (gen !== generation) return;
    pass(wall, mono, cause, gen);
    if (gen !== generation) return;
    arm();
  };
  const onTimer = (): void => wake(true);
  const onImmediate = (): void => wake(false);

  const clearTimers = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    if (immediate !== undefined) clearImmediate(immediate);
    timer = undefined;
    immediate = undefined;
  };

  /** Sets the one timer for the earliest fire: a capped sleep, then polling until it is due. */
  const arm = (): void => {
    clearTimers();
    if (state !== "running") return;
    prepare();
    const wall = now();
    const mono = monotonic();
    let target = ready[0]?.fireAt ?? heap.peek()?.fireAt ?? Infinity;
    if (laneHead < lane.length) target = Math.min(target, wall + (lane[laneHead]!.atMono - mono));
    // Nothing will ever fire (no entries, every schedule ended): no timer until replace().
    if (target === Infinity) return;
    armMono = mono;
    const wait = target - wall;
    // Poll while the monotonic clock moves; a frozen one (fake timers) falls back to a timeout.
    if (wait <= 0 || (wait <= spinMs && mono > lastSpinMono)) {
      lastSpinMono = mono;
      plannedMs = 0;
      immediate = setImmediate(onImmediate);
      return;
    }
    const delay = Math.min(maxSleepMs, wait > spinMs ? Math.max(1, Math.floor(wait - spinMs)) : Math.ceil(wait));
    plannedMs = delay;
    sleepUntil = wall + delay;
    timer = setTimeout(onTimer, delay);
  };

  const start = (): Fire[] => {
    if (state !== "new") throw new Error(`scheduler: start() called on a ${state} scheduler; make a new one`);
    state = "running";
    const gen = generation;
    const wall = now();
    const mono = monotonic();
    seenWall = wall;
    seenMono = mono;
    armMono = mono;
    const batch: Array<{ entry: Entry; scheduledAt: number }> = [];
    const summaries: CatchUpSummary[] = [];
    for (const e of entries) {
      const last = options.lastFires?.get(e.task);
      if (typeof last === "number" && Number.isFinite(last) && last < wall) {
        // At start every instant in (last, now] was missed: no tolerance applies.
        e.cursor = last;
        planMissed(e, wall, wall, batch, summaries, e.catchUp);
        e.cursor = wall;
      } else {
        // A last fire after now means the clock went back since: a fixed-time slot already
        // fired is not fired again; an interval schedule keeps its interval from now.
        e.cursor = typeof last === "number" && last > wall && !e.rewinds ? last : wall;
      }
      setDue(e, nextAfter(e, e.cursor));
    }
    heap.reset(entries);
    const first = lane.length;
    enqueue(batch, mono);
    const planned = lane.slice(first).map((item): Fire => ({
      task: item.entry.task,
      scheduledAt: item.scheduledAt,
      firedAt: wall + (item.atMono - mono),
      kind: "catch-up",
    }));
    fillFollowing();
    reportCatchUp("start", summaries, wall);
    if (gen === generation) arm();
    return planned;
  };

  const stop = (): void => {
    if (state === "running") state = "stopped";
    generation++;
    clearTimers();
    lane = [];
    laneHead = 0;
    refill.length = 0;
    ready.length = 0;
  };

  const replace = (list: readonly ScheduleEntry[]): void => {
    const fresh = makeEntries(list);
    if (state !== "running") {
      entries = fresh;
      return;
    }
    generation++;
    settle();
    const wall = now();
    const old = new Map(entries.map((e) => [e.task, e]));
    const byTask = new Map<string, Entry>();
    for (const e of fresh) {
      byTask.set(e.task, e);
      const before = old.get(e.task);
      if (before && sameSchedule(before.schedule, e.schedule)) {
        e.cursor = before.cursor;
        e.due = before.due;
        e.fireAt = before.fireAt;
        e.following = before.following;
      } else {
        e.cursor = before ? Math.max(before.cursor, wall) : wall;
        setDue(e, nextAfter(e, e.cursor));
      }
    }
    const kept: LaneItem[] = [];
    for (let i = laneHead; i < lane.length; i++) {
      const item = lane[i]!;
      const entry = byTask.get(item.entry.task);
      if (entry) kept.push({ ...item, entry });
    }
    lane = kept;
    laneHead = 0;
    entries = fresh;
    heap.reset(entries);
    fillFollowing();
    arm();
  };

  const upcoming = (n = 10): UpcomingFire[] => {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`upcoming: n must be a whole number >= 0, got ${n}`);
    if (state === "stopped") return [];
    const wall = now();
    const mono = monotonic();
    const out: UpcomingFire[] = [];
    for (let i = laneHead; i < lane.length && out.length < n; i++) {
      const item = lane[i]!;
      if (!enabled(item.entry.task)) continue;
      out.push({ task: item.entry.task, at: wall + (item.atMono - mono), scheduledAt: item.scheduledAt, kind: "catch-up" });
    }
    interface Cursor {
      entry: Entry;
      at: number;
      scheduledAt: number;
    }
    const cursors = new MinHeap<Cursor>((a, b) => a.at < b.at || (a.at === b.at && a.entry.seq < b.entry.seq));
    const list: Cursor[] = [];
    for (const e of entries) {
      if (!enabled(e.task)) continue;
      const scheduledAt = state === "new" ? nextAfter(e, wall) : e.due;
      const at = state === "new" ? scheduledAt : e.fireAt;
      if (scheduledAt !== Infinity) list.push({ entry: e, at, scheduledAt });
    }
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
  };

  const nextFireAt = (): number | null => {
    const at = Math.min(ready[0]?.fireAt ?? Infinity, heap.peek()?.fireAt ?? Infinity);
    return at === Infinity ? null : at;
  };

  const snapshot = (): SchedulerStats => ({
    state,
    entries: entries.length,
    pendingCatchUps: lane.length - laneHead,
    nextFireAt: state === "running" ? nextFireAt() : null,
    ...stats,
    fires: { ...stats.fires },
    clockJumps: { ...stats.clockJumps },
  });

  return { start, stop, upcoming, replace, stats: snapshot };
}

function makeEntries(list: readonly ScheduleEntry[]): Entry[] {
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
    };
  });
}

/** Same fire times: the same object, or the same source text in the same zone. */
function sameSchedule(a: Schedule, b: Schedule): boolean {
  return a === b || (a.kind === b.kind && String(a) === String(b) && a.timezone === b.timezone);
}

function numberOption(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new RangeError(`createScheduler: ${name} must be a number >= ${min}, got ${String(value)}`);
  }
  return value;
}
