/**
 * The scheduler's clock watch: at each wake, compares how far the wall clock and the
 * monotonic clock moved since the last one. A pure function of the readings: no timer.
 *
 * - The two clocks differing by more than CLOCK_JUMP_MS is a clock jump. Forward: the clock
 *   was set forward, or the machine was suspended (monotonic time stops during suspend on
 *   Linux and macOS). Backward: an NTP step, a VM restored from a snapshot.
 * - A wake later than asked by the monotonic clock too, by more than STALL_MS, is a stall (a
 *   blocked event loop, or a suspend where monotonic time keeps running).
 * - A timer wake before the asked wall time is an early wake (the timer sleeps again).
 */

/** Wall and monotonic clocks differing by more than this between two wakes is a clock jump, ms. */
export const CLOCK_JUMP_MS = 1000;
/** A wake later than asked by more than this (monotonic) is a stall, ms. */
export const STALL_MS = 1000;

/** What the clock watch remembers between two wakes. */
export interface ClockWatch {
  /** Wall clock (epoch ms) and monotonic clock (ms) read at the last wake. */
  seenWall: number;
  seenMono: number;
  /** Monotonic time the timer was last set, and for how long (ms; 0 for a poll). */
  armMono: number;
  plannedMs: number;
  /** Wall time the last timeout was asked to wake at (epoch ms). */
  sleepUntil: number;
}

/** What made fires late, for the catch-up event: a clock jump, a stall, or just lateness. */
export type LateCause = "clock-jump" | "stall" | "late";

/** What one reading of the clocks means. */
export interface ClockReading {
  /** A clock jump: the wall clock moved `deltaMs` more (forward) or less (backward) than the monotonic one. */
  jump: { direction: "forward" | "backward"; deltaMs: number } | undefined;
  /** A stall: the wake came `sleptMs` after the timer was set for `plannedMs` (monotonic). */
  stall: { sleptMs: number; plannedMs: number } | undefined;
  /** A timer wake before its asked wall time (never with a jump). */
  earlyWake: boolean;
  /** What made any missed fire late: the jump, else the stall, else "late". */
  cause: LateCause;
}

const QUIET: ClockReading = { jump: undefined, stall: undefined, earlyWake: false, cause: "late" };
const EARLY: ClockReading = { jump: undefined, stall: undefined, earlyWake: true, cause: "late" };

/** A new watch whose last reading is `wall`, `mono`, and whose timer was set at `mono`. */
export function startWatch(wall: number, mono: number): ClockWatch {
  return { seenWall: wall, seenMono: mono, armMono: mono, plannedMs: 0, sleepUntil: 0 };
}

/**
 * What the clocks read at a wake (`viaTimer`: a timeout, not a poll) mean, against the watch's
 * last reading. Does not change the watch (see `noteReading`). The common case allocates nothing.
 */
export function readClock(watch: ClockWatch, wall: number, mono: number, viaTimer: boolean): ClockReading {
  const skew = wall - watch.seenWall - (mono - watch.seenMono);
  const jumped = skew > CLOCK_JUMP_MS || skew < -CLOCK_JUMP_MS;
  const slept = mono - watch.armMono;
  const stalled = slept - watch.plannedMs > STALL_MS;
  if (!jumped && !stalled) return viaTimer && wall < watch.sleepUntil - 1 ? EARLY : QUIET;
  return {
    jump: jumped ? { direction: skew > 0 ? "forward" : "backward", deltaMs: skew } : undefined,
    stall: stalled ? { sleptMs: slept, plannedMs: watch.plannedMs } : undefined,
    earlyWake: !jumped && viaTimer && wall < watch.sleepUntil - 1,
    cause: jumped ? "clock-jump" : "stall",
  };
}

/** Remembers a reading as the last one. */
export function noteReading(watch: ClockWatch, wall: number, mono: number): void {
  watch.seenWall = wall;
  watch.seenMono = mono;
}

/** Remembers that the timer was set at `mono` for `plannedMs` (0: a poll), to wake at wall time `until`. */
export function noteArmed(watch: ClockWatch, mono: number, plannedMs: number, until?: number): void {
  watch.armMono = mono;
  watch.plannedMs = plannedMs;
  if (until !== undefined) watch.sleepUntil = until;
}
