/**
 * The scheduler's public types: what goes in (`SchedulerOptions`, `ScheduleEntry`), what comes
 * out (`Fire`, `SchedulerEvent`, `UpcomingFire`, `SchedulerStats`) and the `Scheduler` itself.
 * `timer.ts` re-exports them; its parts (clock watch, catch-up lane, preview, reload) share them.
 */
import type { ResolvedCatchUp } from "../task/task.js";
import type { Schedule } from "../core/types.js";

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
  /** Longest single sleep, ms: clock jumps and suspend are noticed within about this. Default 2000 (an idle daemon wakes at most every 2 s for it). */
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
