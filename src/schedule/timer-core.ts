/**
 * The decisions of the scheduler's timer, as pure functions of plain numbers: what is due
 * now, when to wake next, where a schedule's cursor stands at start and after a backward
 * clock jump. `timer.ts` holds the state and the effects (timers, callbacks) around them;
 * these are tested without timers (test/schedule/timer-core.test.ts).
 *
 * The state they decide over, kept by `timer.ts`:
 * - the phase: "new" (made, not started), "running", "stopped" (for good);
 * - the schedules, each with a cursor (every instant up to it was fired, dropped or queued
 *   for catch-up), its next instant `due` and `fireAt` (due + jitter), in a heap by fireAt;
 * - the catch-up lane: missed instants to run, each at a monotonic time `atMono`;
 * - the clock watch (clock-watch.ts) and the last poll time, for arming.
 */
import type { ResolvedCatchUp } from "../task/task.js";

/** The phases of a scheduler: new -> running -> stopped. */
export type Phase = "new" | "running" | "stopped";

/** What a pass does next: fire the first queued catch-up, fire the earliest schedule, or nothing. */
export type Step = "catch-up" | "on-time" | "none";

/**
 * What is due at wall time `wall` (monotonic `mono`): the earliest schedule goes out at wall
 * time `fireAt`, the first queued catch-up at monotonic time `laneAtMono` (Infinity: none).
 * When both are due, the one whose time came first goes first; a tie goes to the schedule.
 */
export function nextStep(wall: number, mono: number, fireAt: number, laneAtMono: number): Step {
  const entryDue = fireAt <= wall;
  const itemDue = laneAtMono <= mono;
  if (!entryDue && !itemDue) return "none";
  if (itemDue && (!entryDue || wall - (mono - laneAtMono) < fireAt)) return "catch-up";
  return "on-time";
}

/**
 * True when a fire at `fireAt` is too late to go out on time at `wall`: more than
 * `toleranceMs` behind. Its instants go through the task's catch-up policy instead.
 */
export function isMissed(fireAt: number, wall: number, toleranceMs: number): boolean {
  return fireAt < wall - toleranceMs;
}

const SKIP: ResolvedCatchUp = { mode: "skip" };

/**
 * The policy for a schedule's missed instants when its next instant after the missed span
 * is `next`: "latest" needs no catch-up fire when a newer instant goes out on time in this
 * pass (`next <= wall`); otherwise the task's own policy.
 */
export function missedPolicy(policy: ResolvedCatchUp, next: number, wall: number): ResolvedCatchUp {
  return policy.mode === "latest" && next <= wall ? SKIP : policy;
}

/** The wall time the timer must wake at for a schedule at `fireAt` and a catch-up at monotonic `laneAtMono` (Infinity: never). */
export function wakeTarget(fireAt: number, laneAtMono: number, wall: number, mono: number): number {
  return laneAtMono === Infinity ? fireAt : Math.min(fireAt, wall + (laneAtMono - mono));
}

/** How to wait: not at all (nothing will fire), poll with setImmediate, or a timeout of `delayMs`. */
export type WakePlan = { kind: "none" } | { kind: "poll" } | { kind: "sleep"; delayMs: number };

const NONE: WakePlan = { kind: "none" };
const POLL: WakePlan = { kind: "poll" };

/**
 * How to wait for wall time `target` at `wall` (monotonic `mono`): a sleep of at most
 * `maxSleepMs` that ends `spinMs` before the target, then polls until it is reached. Polls
 * only while the monotonic clock moves (`mono > lastPollMono`): a frozen one (fake timers)
 * falls back to a timeout.
 */
export function planWake(target: number, wall: number, mono: number, lastPollMono: number, spinMs: number, maxSleepMs: number): WakePlan {
  if (target === Infinity) return NONE;
  const wait = target - wall;
  if (wait <= 0 || (wait <= spinMs && mono > lastPollMono)) return POLL;
  return { kind: "sleep", delayMs: Math.min(maxSleepMs, wait > spinMs ? Math.max(1, Math.floor(wait - spinMs)) : Math.ceil(wait)) };
}

/**
 * Where a schedule starts at `wall`, given its last fire `last` (from the store; undefined:
 * none): with a last fire before now, every instant in (last, wall] was missed
 * (`catchUpFrom`: last) and the cursor is `wall`. A last fire after now means the clock went
 * back while stopped: a fixed-time slot already fired is not fired again (the cursor stays at
 * `last`); an interval schedule (`rewinds`) keeps its interval from now.
 */
export function startCursor(last: number | undefined, wall: number, rewinds: boolean): { cursor: number; catchUpFrom: number | undefined } {
  if (typeof last === "number" && Number.isFinite(last) && last < wall) return { cursor: wall, catchUpFrom: last };
  return { cursor: typeof last === "number" && last > wall && !rewinds ? last : wall, catchUpFrom: undefined };
}

/**
 * True when a schedule starts again from the wall clock after a backward clock jump to
 * `wall`: an interval schedule (`rewinds`: every, hourly or finer calendar patterns) whose
 * cursor is ahead of the clock (its next fire is then one interval away at most, not the
 * length of the jump). A fixed-time calendar schedule keeps its cursor: a slot already fired
 * is not fired again.
 */
export function rewindsTo(rewinds: boolean, cursor: number, wall: number): boolean {
  return rewinds && cursor > wall;
}
