/** The timer's decisions and parts, without timers: plain numbers in, decisions out. */
import { describe, expect, it } from "vitest";
import { CatchUpLane, CatchUpPlan } from "../../src/schedule/catch-up-lane.js";
import { CLOCK_JUMP_MS, noteArmed, noteReading, readClock, STALL_MS, startWatch } from "../../src/schedule/clock-watch.js";
import { cron, every } from "../../src/schedule/index.js";
import { upcomingFires } from "../../src/schedule/preview.js";
import { carryOver } from "../../src/schedule/reload.js";
import { isMissed, missedPolicy, nextStep, planWake, rewindsTo, startCursor, wakeTarget } from "../../src/schedule/timer-core.js";
import { type Entry, makeEntries } from "../../src/schedule/timer-entry.js";
import { nextFireAfter } from "../../src/schedule/catch-up.js";

const T0 = Date.parse("2026-03-01T00:00:00.000Z");

describe("nextStep: what is due now", () => {
  const wall = T0 + 10_000;
  const mono = 5000;
  it("nothing when neither the earliest schedule nor the first catch-up is due", () => {
    expect(nextStep(wall, mono, wall + 1, mono + 1)).toBe("none");
    expect(nextStep(wall, mono, Infinity, Infinity)).toBe("none");
  });
  it("the one that is due", () => {
    expect(nextStep(wall, mono, wall, Infinity)).toBe("on-time");
    expect(nextStep(wall, mono, wall + 1, mono)).toBe("catch-up");
  });
  it("both due: the one whose time came first; a tie goes to the schedule", () => {
    // The catch-up was due 50 ms ago (wall - 50), the schedule 10 ms ago.
    expect(nextStep(wall, mono, wall - 10, mono - 50)).toBe("catch-up");
    expect(nextStep(wall, mono, wall - 50, mono - 10)).toBe("on-time");
    expect(nextStep(wall, mono, wall - 10, mono - 10)).toBe("on-time");
  });
  it("missed: more than the tolerance behind", () => {
    expect(isMissed(wall - 1000, wall, 1000)).toBe(false);
    expect(isMissed(wall - 1001, wall, 1000)).toBe(true);
    expect(isMissed(wall - 1, wall, 0)).toBe(true);
  });
  it('"latest" adds no catch-up when a newer instant goes out on time in this pass', () => {
    expect(missedPolicy({ mode: "latest" }, wall, wall)).toEqual({ mode: "skip" });
    expect(missedPolicy({ mode: "latest" }, wall + 1, wall)).toEqual({ mode: "latest" });
    const some = { mode: "some", max: 2, withinMs: 1000 } as const;
    expect(missedPolicy(some, wall, wall)).toBe(some);
  });
});

describe("planWake: when to wake next", () => {
  const wall = T0;
  it("no wake when nothing will fire; the lane counts through the monotonic clock", () => {
    expect(planWake(Infinity, wall, 0, -Infinity, 2, 1000)).toEqual({ kind: "none" });
    expect(wakeTarget(Infinity, Infinity, wall, 100)).toBe(Infinity);
    expect(wakeTarget(wall + 500, 150, wall, 100)).toBe(wall + 50);
    expect(wakeTarget(wall + 20, 150, wall, 100)).toBe(wall + 20);
  });
  it("polls when due or within spinMs, while the monotonic clock moves", () => {
    expect(planWake(wall, wall, 10, 9, 2, 1000)).toEqual({ kind: "poll" });
    expect(planWake(wall - 5, wall, 10, 10, 2, 1000)).toEqual({ kind: "poll" });
    expect(planWake(wall + 2, wall, 10, 9, 2, 1000)).toEqual({ kind: "poll" });
    // A frozen monotonic clock (fake timers): a timeout instead, rounded up.
    expect(planWake(wall + 1.5, wall, 10, 10, 2, 1000)).toEqual({ kind: "sleep", delayMs: 2 });
  });
  it("sleeps until spinMs before the target, at least 1 ms, at most maxSleepMs", () => {
    expect(planWake(wall + 100, wall, 0, -Infinity, 2, 1000)).toEqual({ kind: "sleep", delayMs: 98 });
    expect(planWake(wall + 2.5, wall, 0, -Infinity, 2, 1000)).toEqual({ kind: "sleep", delayMs: 1 });
    expect(planWake(wall + 86_400_000, wall, 0, -Infinity, 2, 1000)).toEqual({ kind: "sleep", delayMs: 1000 });
    expect(planWake(wall + 10.7, wall, 0, -Infinity, 0, 1000)).toEqual({ kind: "sleep", delayMs: 10 });
  });
});

describe("cursors: start and backward jumps", () => {
  const wall = T0;
  it("start: missed instants since the last fire are caught up; none without one", () => {
    expect(startCursor(undefined, wall, false)).toEqual({ cursor: wall, catchUpFrom: undefined });
    expect(startCursor(wall - 5000, wall, false)).toEqual({ cursor: wall, catchUpFrom: wall - 5000 });
    expect(startCursor(wall, wall, true)).toEqual({ cursor: wall, catchUpFrom: undefined });
    expect(startCursor(Number.NaN, wall, false)).toEqual({ cursor: wall, catchUpFrom: undefined });
  });
  it("start with a last fire after now: a fixed-time slot stays fired; an interval starts from now", () => {
    expect(startCursor(wall + 3600_000, wall, false)).toEqual({ cursor: wall + 3600_000, catchUpFrom: undefined });
    expect(startCursor(wall + 3600_000, wall, true)).toEqual({ cursor: wall, catchUpFrom: undefined });
  });
  it("backward jump: only interval schedules ahead of the clock start again from it", () => {
    expect(rewindsTo(true, wall + 1, wall)).toBe(true);
    expect(rewindsTo(true, wall, wall)).toBe(false);
    expect(rewindsTo(false, wall + 3600_000, wall)).toBe(false);
  });
});

describe("readClock: what a clock jump means", () => {
  const wall = T0;
  it("quiet when both clocks moved alike and the wake came when asked", () => {
    const watch = startWatch(wall, 0);
    noteArmed(watch, 0, 1000, wall + 1000);
    const r = readClock(watch, wall + 1000, 1000, true);
    expect(r).toMatchObject({ jump: undefined, stall: undefined, earlyWake: false, cause: "late" });
  });
  it("forward and backward jumps, beyond CLOCK_JUMP_MS only", () => {
    const watch = startWatch(wall, 0);
    noteArmed(watch, 0, 1000, wall + 1000);
    expect(readClock(watch, wall + 1000 + CLOCK_JUMP_MS, 1000, true).jump).toBeUndefined();
    const fwd = readClock(watch, wall + 1000 + 3600_000, 1000, true);
    expect(fwd).toMatchObject({ jump: { direction: "forward", deltaMs: 3600_000 }, cause: "clock-jump", earlyWake: false });
    const back = readClock(watch, wall + 1000 - 5000, 1000, true);
    expect(back).toMatchObject({ jump: { direction: "backward", deltaMs: -5000 }, cause: "clock-jump", earlyWake: false });
  });
  it("a stall: both clocks moved alike, later than asked; with a jump too, the jump is the cause", () => {
    const watch = startWatch(wall, 0);
    noteArmed(watch, 0, 1000, wall + 1000);
    const late = 1000 + STALL_MS + 1;
    expect(readClock(watch, wall + late, late, true)).toMatchObject({ stall: { sleptMs: late, plannedMs: 1000 }, cause: "stall" });
    expect(readClock(watch, wall + late + 5000, late, true)).toMatchObject({ stall: { sleptMs: late }, cause: "clock-jump" });
  });
  it("an early timer wake by the wall clock; a poll is never early", () => {
    const watch = startWatch(wall, 0);
    noteArmed(watch, 0, 1000, wall + 1000);
    expect(readClock(watch, wall + 990, 1000, true).earlyWake).toBe(true);
    expect(readClock(watch, wall + 999, 1000, true).earlyWake).toBe(false);
    expect(readClock(watch, wall + 990, 1000, false).earlyWake).toBe(false);
  });
  it("compares against the last reading, not the start", () => {
    const watch = startWatch(wall, 0);
    noteReading(watch, wall + 10_000, 5000); // a 5 s jump already seen
    noteArmed(watch, 5000, 1000, wall + 11_000);
    expect(readClock(watch, wall + 11_000, 6000, true).jump).toBeUndefined();
  });
});

const entriesOf = (...specs: Array<[string, Parameters<typeof makeEntries>[0][number]["schedule"]]>): Entry[] =>
  makeEntries(specs.map(([task, schedule]) => ({ task, schedule, catchUp: { mode: "skip" } })));

describe("catch-up lane", () => {
  it("queues oldest instant first (ties in entry order), spacingMs apart across plans; keeps spacing after clear", () => {
    const [a, b] = entriesOf(["a", every("1s")], ["b", every("1s")]);
    const lane = new CatchUpLane(100);
    const added = lane.enqueue(
      [
        { entry: b!, scheduledAt: T0 + 2000 },
        { entry: b!, scheduledAt: T0 + 1000 },
        { entry: a!, scheduledAt: T0 + 1000 },
      ],
      50,
    );
    expect(added.map((i) => [i.entry.task, i.scheduledAt - T0, i.atMono])).toEqual([
      ["a", 1000, 50],
      ["b", 1000, 150],
      ["b", 2000, 250],
    ]);
    expect(lane.size).toBe(3);
    expect(lane.headAtMono()).toBe(50);
    expect(lane.shift()!.entry.task).toBe("a");
    lane.clear();
    expect(lane.size).toBe(0);
    expect(lane.headAtMono()).toBe(Infinity);
    expect(lane.enqueue([{ entry: a!, scheduledAt: T0 }], 60)[0]!.atMono).toBe(350);
    expect(lane.enqueue([{ entry: a!, scheduledAt: T0 }], 10_000)[0]!.atMono).toBe(10_000);
  });

  it("a reload keeps the queued fires of tasks still there, on their new entries", () => {
    const [a, b] = entriesOf(["a", every("1s")], ["b", every("1s")]);
    const lane = new CatchUpLane(0);
    lane.enqueue([{ entry: a!, scheduledAt: T0 }, { entry: b!, scheduledAt: T0 + 1 }], 0);
    const [a2] = entriesOf(["a", every("2s")]);
    lane.retain(new Map([["a", a2!]]));
    expect([...lane.pending()].map((i) => i.entry)).toEqual([a2]);
  });

  it("a plan sums up what was missed and what runs", () => {
    const [a, b] = entriesOf(["a", every("1s")], ["b", every("1s")]);
    const plan = new CatchUpPlan();
    expect(plan.add(a!, T0, T0 + 5000, { fires: [T0 + 4000, T0 + 5000], missed: 5, missedCapped: false }, true)).toBe(3);
    expect(plan.add(b!, T0, T0 + 5000, { fires: [T0 + 5000], missed: 5, missedCapped: false }, false)).toBe(5);
    expect(plan.add(b!, T0, T0 + 5000, { fires: [], missed: 0, missedCapped: false }, true)).toBe(0);
    expect(plan.planned.map((p) => p.scheduledAt - T0)).toEqual([4000, 5000]);
    expect(plan.event("clock-jump", T0 + 6000)).toMatchObject({ type: "catch-up", reason: "clock-jump", missed: 10, planned: 2, at: T0 + 6000 });
    expect(new CatchUpPlan().event("start", T0)).toBeUndefined();
  });
});

describe("reload and preview", () => {
  it("carryOver: same schedule keeps its place; a changed one starts after now and its last fire; a new one from now", () => {
    const old = entriesOf(["same", every("1s")], ["changed", every("1s")]);
    for (const e of old) {
      e.cursor = T0 + 9000;
      e.due = T0 + 10_000;
      e.fireAt = T0 + 10_042;
    }
    const fresh = entriesOf(["same", every("1s")], ["changed", every("5s")], ["new", every("1s")]);
    const toPlace = carryOver(old, fresh, T0 + 5000);
    expect(toPlace.map((e) => e.task)).toEqual(["changed", "new"]);
    expect(fresh.map((e) => e.cursor - T0)).toEqual([9000, 9000, 5000]);
    expect(fresh[0]!.fireAt).toBe(T0 + 10_042);
  });

  it("upcomingFires: catch-ups and schedules in the order they go out; disabled tasks left out", () => {
    const entries = entriesOf(["sec", every("1s")], ["min", cron("* * * * *")], ["off", every("1s")]);
    const nextAfter = (e: Entry, t: number): number => nextFireAfter(e.schedule, t) ?? Infinity;
    const lane = new CatchUpLane(100);
    lane.enqueue([{ entry: entries[1]!, scheduledAt: T0 - 60_000 }], 0);
    const fires = upcomingFires(4, { phase: "new", entries, lane: lane.pending(), wall: T0 + 500, mono: 0, enabled: (t) => t !== "off", nextAfter });
    expect(fires.map((f) => [f.task, f.kind, f.at - T0])).toEqual([
      ["min", "catch-up", 500],
      ["sec", "on-time", 1000],
      ["sec", "on-time", 2000],
      ["sec", "on-time", 3000],
    ]);
    expect(upcomingFires(4, { phase: "stopped", entries, lane: [], wall: T0, mono: 0, enabled: () => true, nextAfter })).toEqual([]);
  });
});
