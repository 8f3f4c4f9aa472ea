/**
 * The scheduler's timer: turns schedules into fires at the right time. It never runs task
 * code; each fire is handed to `onFire` (the daemon queues a run for it).
 *
 * This file holds the state and the effects (the one timer, the callbacks); the parts, each
 * with one job:
 * - timer-core.ts: the decisions, pure functions: what is due now, when to wake next, where a
 *   cursor stands at start and after a backward clock jump;
 * - clock-watch.ts: clock jumps (both ways), stalls and early wakes, from two clocks;
 * - catch-up-lane.ts: missed instants a policy runs, queued on one spaced lane (which instants
 *   were missed, and which a policy keeps, is catch-up.ts);
 * - preview.ts: `upcoming()`; reload.ts: `replace()`; timer-entry.ts: a schedule's record;
 * - timer-types.ts: the public types.
 *
 * How it keeps time (house style: never trust one long setTimeout):
 * - One timer for all schedules. Every schedule has an entry in a min-heap keyed by its next
 *   fire time; the timer sleeps until the earliest, at most `maxSleepMs` at a time, and on
 *   each wake everything is recomputed from the wall clock.
 * - atStart() schedules (cron's @reboot) have no calendar time: each fires once, on time, in
 *   the turn after start(); never after replace() (a reload), never caught up.
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
import { callListener } from "../core/call-listener.js";
import { Heap } from "../core/heap.js";
import type { ResolvedCatchUp } from "../task/task.js";
import { type MissedFires, missedFires, nextFireAfter } from "./catch-up.js";
import { CatchUpLane, CatchUpPlan } from "./catch-up-lane.js";
import { type ClockWatch, type LateCause, noteArmed, noteReading, readClock, startWatch } from "./clock-watch.js";
import { upcomingFires } from "./preview.js";
import { firesAtStart } from "./at-start.js";
import { byTask, carryOver } from "./reload.js";
import { isMissed, missedPolicy, nextStep, type Phase, planWake, rewindsTo, startCursor, wakeTarget } from "./timer-core.js";
import { type Entry, entryBefore, makeEntries } from "./timer-entry.js";
import type { Fire, ScheduleEntry, Scheduler, SchedulerEvent, SchedulerOptions, SchedulerStats, UpcomingFire } from "./timer-types.js";

export type {
  CatchUpSummary,
  Fire,
  ScheduleEntry,
  Scheduler,
  SchedulerEvent,
  SchedulerOptions,
  SchedulerStats,
  UpcomingFire,
} from "./timer-types.js";
export { CLOCK_JUMP_MS, STALL_MS } from "./clock-watch.js";

/** On-time fires later than this are counted and reported ("late-fire" event), ms. */
export const LATE_FIRE_MS = 100;

/** Makes a scheduler for `options.entries`; call `start()` to run it. */
export function createScheduler(options: SchedulerOptions): Scheduler {
  if (typeof options?.onFire !== "function") throw new TypeError("createScheduler: onFire must be a function");
  const onFire = options.onFire;
  const isEnabledOption = options.isEnabled;
  const onEvent = options.onEvent;
  const maxSleepMs = numberOption("maxSleepMs", options.maxSleepMs, 2000, 1);
  const toleranceMs = numberOption("lateToleranceMs", options.lateToleranceMs, 1000, 0);
  const spacingMs = numberOption("catchUpSpacingMs", options.catchUpSpacingMs, 100, 0);
  const spinMs = numberOption("spinMs", options.spinMs, 2, 0);
  const now = options.now ?? (() => Date.now());
  const monotonic = options.monotonic ?? (() => performance.now());
  const random = options.random ?? (() => Math.random());

  // The state the decisions of timer-core.ts are taken over.
  let phase: Phase = "new";
  let entries = makeEntries(options.entries);
  const heap = new Heap<Entry>(entryBefore);
  const lane = new CatchUpLane(spacingMs);
  let clock: ClockWatch = startWatch(0, 0);
  // Monotonic time of the last poll: polls only while the monotonic clock moves.
  let lastPollMono = -Infinity;
  // Bumped by stop() and replace(): a pass that sees it change (a callback called them) ends.
  let generation = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let immediate: ReturnType<typeof setImmediate> | undefined;
  // The one fire of each atStart() schedule, right after start() (never after a replace()).
  let startFires: ReturnType<typeof setImmediate> | undefined;
  // Calendar entries fired in the current pass, whose following instant is computed after it.
  const refill: Entry[] = [];
  // The entries due at the next fire time, taken off the heap while the timer sleeps, so the
  // pass that fires them only calls out: heap upkeep for a thousand schedules due at the same
  // instant would otherwise delay the last of them by milliseconds. Not advanced yet.
  const ready: Entry[] = [];
  // Lateness of the on-time fires of the current pass, for the "late-fire" event.
  const late = { count: 0, task: "", scheduledAt: 0, ms: 0 };
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
    callListener(onEvent, event); // a failing logger must not stop the schedules
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

  const noteLateness = (task: string, scheduledAt: number, lateMs: number): void => {
    if (lateMs > stats.maxLateMs) stats.maxLateMs = lateMs;
    if (lateMs <= LATE_FIRE_MS) return;
    late.count++;
    if (lateMs > late.ms) {
      late.task = task;
      late.scheduledAt = scheduledAt;
      late.ms = lateMs;
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

  /** Adds to `plan` what the catch-up policy `policy` makes of `e`'s instants in (cursor, upTo]. */
  const planMissed = (plan: CatchUpPlan, e: Entry, upTo: number, wall: number, policy: ResolvedCatchUp): void => {
    let missed: MissedFires;
    try {
      missed = missedFires(e.schedule, policy, e.cursor, upTo, wall);
    } catch (error) {
      emit({ type: "error", where: "schedule", task: e.task, error, at: wall });
      return;
    }
    if (missed.missed === 0) return;
    stats.missedDropped += plan.add(e, e.cursor, upTo, missed, missed.fires.length > 0 && enabled(e.task));
  };

  /** After a backward jump to `wall`: interval schedules start again from the wall clock (see `rewindsTo`). */
  const rewindIntervals = (wall: number): void => {
    settle();
    let moved = false;
    for (const e of entries) {
      if (rewindsTo(e.rewinds, e.cursor, wall)) {
        e.cursor = wall;
        setDue(e, nextAfter(e, wall));
        moved = true;
      }
    }
    if (moved) heap.reset(entries);
  };

  /** Reads the clocks at a wake: counts and reports jumps, stalls and early wakes; returns what made fires late. */
  const observe = (wall: number, mono: number, viaTimer: boolean): LateCause => {
    const reading = readClock(clock, wall, mono, viaTimer);
    noteReading(clock, wall, mono);
    if (reading.jump !== undefined) {
      const { direction, deltaMs } = reading.jump;
      stats.clockJumps[direction]++;
      if (direction === "backward") rewindIntervals(wall);
      emit({ type: "clock-jump", direction, deltaMs, at: wall });
    } else if (reading.earlyWake) {
      stats.earlyWakes++;
    }
    if (reading.stall !== undefined) {
      stats.stalls++;
      emit({ type: "stall", sleptMs: reading.stall.sleptMs, plannedMs: reading.stall.plannedMs, at: wall });
    }
    return reading.cause;
  };

  /** Handles everything due at `wall`: missed instants first, then fires in due order. */
  const pass = (wall: number, mono: number, cause: LateCause, gen: number): void => {
    // Instants more than the tolerance behind go through catch-up, not out late.
    if (ready.length > 0 && isMissed(ready[0]!.fireAt, wall, toleranceMs)) settle();
    let top = heap.peek();
    if (top !== undefined && isMissed(top.fireAt, wall, toleranceMs)) {
      const cutoff = wall - toleranceMs;
      const plan = new CatchUpPlan();
      while (top !== undefined && isMissed(top.fireAt, wall, toleranceMs)) {
        const next = nextAfter(top, cutoff);
        planMissed(plan, top, cutoff, wall, missedPolicy(top.catchUp, next, wall));
        top.cursor = cutoff;
        setDue(top, next);
        heap.updateTop();
        top = heap.peek();
      }
      lane.enqueue(plan.planned, mono);
      const event = plan.event(cause, wall);
      if (event) emit(event);
      if (gen !== generation) return;
    }
    late.count = 0;
    late.ms = 0;
    if (ready.length > 0 && ready[0]!.fireAt <= wall) {
      const fireAt = ready[0]!.fireAt;
      if (nextStep(wall, mono, fireAt, lane.headAtMono()) === "catch-up") {
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
      const step = nextStep(wall, mono, e?.fireAt ?? Infinity, lane.headAtMono());
      if (step === "none") break;
      if (step === "catch-up") {
        const item = lane.shift()!;
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
    lane.compact();
    // Every due fire is out: now the slow part.
    fillFollowing();
    if (late.count > 0) {
      stats.lateFires += late.count;
      emit({ type: "late-fire", task: late.task, scheduledAt: late.scheduledAt, lateMs: late.ms, count: late.count, at: wall });
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
    if (phase !== "running") return;
    prepare();
    const wall = now();
    const mono = monotonic();
    const target = wakeTarget(ready[0]?.fireAt ?? heap.peek()?.fireAt ?? Infinity, lane.headAtMono(), wall, mono);
    const plan = planWake(target, wall, mono, lastPollMono, spinMs, maxSleepMs);
    // Nothing will ever fire (no entries, every schedule ended): no timer until replace().
    if (plan.kind === "none") return;
    if (plan.kind === "poll") {
      lastPollMono = mono;
      noteArmed(clock, mono, 0);
      immediate = setImmediate(onImmediate);
      return;
    }
    noteArmed(clock, mono, plan.delayMs, wall + plan.delayMs);
    timer = setTimeout(onTimer, plan.delayMs);
  };

  const start = (): Fire[] => {
    if (phase !== "new") throw new Error(`scheduler: start() called on a ${phase} scheduler; make a new one`);
    phase = "running";
    const gen = generation;
    const wall = now();
    const mono = monotonic();
    clock = startWatch(wall, mono);
    const plan = new CatchUpPlan();
    for (const e of entries) {
      const { cursor, catchUpFrom } = startCursor(options.lastFires?.get(e.task), wall, e.rewinds);
      if (catchUpFrom !== undefined) {
        // At start every instant in (last, now] was missed: no tolerance applies.
        e.cursor = catchUpFrom;
        planMissed(plan, e, wall, wall, e.catchUp);
      }
      e.cursor = cursor;
      setDue(e, nextAfter(e, e.cursor));
    }
    heap.reset(entries);
    const planned = lane.enqueue(plan.planned, mono).map((item): Fire => ({
      task: item.entry.task,
      scheduledAt: item.scheduledAt,
      firedAt: wall + (item.atMono - mono),
      kind: "catch-up",
    }));
    fillFollowing();
    const event = plan.event("start", wall);
    if (event) emit(event);
    if (gen === generation) arm();
    if (entries.some((e) => firesAtStart(e.schedule))) startFires = setImmediate(() => fireAtStart(wall));
    return planned;
  };

  /** atStart() schedules (cron's @reboot): one on-time fire each, due at the start time `at`. */
  const fireAtStart = (at: number): void => {
    startFires = undefined;
    const gen = generation;
    for (const e of entries) {
      if (phase !== "running" || gen !== generation) return;
      if (firesAtStart(e.schedule)) deliver(e, at, "on-time");
    }
  };

  const stop = (): void => {
    if (phase === "running") phase = "stopped";
    generation++;
    clearTimers();
    if (startFires !== undefined) clearImmediate(startFires);
    startFires = undefined;
    lane.clear();
    refill.length = 0;
    ready.length = 0;
  };

  const replace = (list: readonly ScheduleEntry[]): void => {
    const fresh = makeEntries(list);
    if (phase !== "running") {
      entries = fresh;
      return;
    }
    generation++;
    settle();
    for (const e of carryOver(entries, fresh, now())) setDue(e, nextAfter(e, e.cursor));
    lane.retain(byTask(fresh));
    entries = fresh;
    heap.reset(entries);
    fillFollowing();
    arm();
  };

  const upcoming = (n = 10): UpcomingFire[] => {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`upcoming: n must be a whole number >= 0, got ${n}`);
    if (phase === "stopped") return [];
    return upcomingFires(n, { phase, entries, lane: lane.pending(), wall: now(), mono: monotonic(), enabled, nextAfter });
  };

  const nextFireAt = (): number | null => {
    const at = Math.min(ready[0]?.fireAt ?? Infinity, heap.peek()?.fireAt ?? Infinity);
    return at === Infinity ? null : at;
  };

  const snapshot = (): SchedulerStats => ({
    state: phase,
    entries: entries.length,
    pendingCatchUps: lane.size,
    nextFireAt: phase === "running" ? nextFireAt() : null,
    ...stats,
    fires: { ...stats.fires },
    clockJumps: { ...stats.clockJumps },
  });

  return { start, stop, upcoming, replace, stats: snapshot };
}

function numberOption(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new RangeError(`createScheduler: ${name} must be a number >= ${min}, got ${String(value)}`);
  }
  return value;
}
