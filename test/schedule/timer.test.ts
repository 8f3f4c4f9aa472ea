import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { COUNT_CAP } from "../../src/schedule/catch-up.js";
import { cron, crontab, every } from "../../src/schedule/index.js";
import {
  createScheduler,
  type Fire,
  type Scheduler,
  type ScheduleEntry,
  type SchedulerEvent,
  type SchedulerOptions,
} from "../../src/schedule/timer.js";
import type { ResolvedCatchUp } from "../../src/task/task.js";
import type { Schedule } from "../../src/core/types.js";

const T0 = Date.parse("2026-03-01T00:00:00.000Z");
const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const skip: ResolvedCatchUp = { mode: "skip" };
const latest: ResolvedCatchUp = { mode: "latest" };
const some = (max: number, withinMs: number): ResolvedCatchUp => ({ mode: "some", max, withinMs });
const entry = (task: string, schedule: Schedule, catchUp: ResolvedCatchUp = skip): ScheduleEntry => ({ task, schedule, catchUp });

let made: Scheduler[] = [];

/** A scheduler that records its fires and events; stopped after each test. */
function make(options: Partial<SchedulerOptions> & Pick<SchedulerOptions, "entries">) {
  const fires: Fire[] = [];
  const events: SchedulerEvent[] = [];
  const scheduler = createScheduler({ onFire: (f) => fires.push(f), onEvent: (e) => events.push(e), ...options });
  made.push(scheduler);
  const ofType = <T extends SchedulerEvent["type"]>(type: T) =>
    events.filter((e): e is Extract<SchedulerEvent, { type: T }> => e.type === type);
  return { scheduler, fires, events, ofType };
}

const scheduledOf = (fires: Fire[], task?: string): number[] =>
  fires.filter((f) => task === undefined || f.task === task).map((f) => f.scheduledAt);

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0 + 500);
});

afterEach(() => {
  for (const s of made) s.stop();
  made = [];
  // A test that leaves a timer alive fails.
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

describe("scheduler: on-time fires", () => {
  it('fires every("1s") exactly once per simulated second, at the grid instants', () => {
    const { scheduler, fires } = make({ entries: [entry("tick", every("1s"))] });
    expect(scheduler.start()).toEqual([]);
    vi.advanceTimersByTime(10 * SEC);
    expect(scheduledOf(fires)).toEqual(Array.from({ length: 10 }, (_, i) => T0 + (i + 1) * SEC));
    expect(fires.every((f) => f.firedAt === f.scheduledAt && f.kind === "on-time" && f.task === "tick")).toBe(true);
    vi.advanceTimersByTime(50 * SEC);
    expect(fires).toHaveLength(60);
    expect(new Set(scheduledOf(fires)).size).toBe(60);
  });

  it("uses one timer for many schedules and fires them in due order", () => {
    const { scheduler, fires } = make({
      entries: [entry("slow", every("3s")), entry("fast", every("1s")), entry("half", every("500ms"))],
    });
    scheduler.start();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(6 * SEC);
    expect(scheduledOf(fires, "fast")).toHaveLength(6);
    expect(scheduledOf(fires, "slow")).toEqual([T0 + 3 * SEC, T0 + 6 * SEC]);
    expect(scheduledOf(fires, "half")).toHaveLength(12);
    const times = scheduledOf(fires);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    // Same instant: entry order.
    const at3 = fires.filter((f) => f.scheduledAt === T0 + 3 * SEC).map((f) => f.task);
    expect(at3).toEqual(["slow", "fast", "half"]);
  });

  it("never fires early, also when the wall clock runs slower than the timers", () => {
    // The wall clock advances 1% slower than setTimeout's clock, so every timer wakes early
    // by the wall clock; the scheduler must notice and sleep again.
    const slowWall = (): number => T0 + Math.floor((Date.now() - T0) * 0.99);
    const { scheduler, fires } = make({ entries: [entry("tick", every("1s")), entry("quarter", every("250ms"))], now: slowWall });
    scheduler.start();
    let early = 0;
    vi.advanceTimersByTime(20 * SEC);
    for (const f of fires) if (f.firedAt < f.scheduledAt) early++;
    expect(early).toBe(0);
    // 20.5 s of timer time since T0 is 20.295 s of wall time: 20 whole seconds.
    expect(scheduledOf(fires, "tick")).toEqual(Array.from({ length: 20 }, (_, i) => T0 + (i + 1) * SEC));
    expect(scheduler.stats().earlyWakes).toBeGreaterThan(0);
  });

  it("sleeps at most maxSleepMs, even when the next fire is a day away", () => {
    const { scheduler, fires } = make({ entries: [entry("daily", every("1d"))], maxSleepMs: 5 * SEC });
    scheduler.start();
    vi.advanceTimersByTime(MIN);
    expect(scheduler.stats().wakes).toBe(12);
    expect(fires).toEqual([]);
  });

  it("adds jitter in [0, jitter) to each fire but keeps scheduledAt on the grid", () => {
    const draws = [0, 0.5, 0.999999, 0.25, 0.1];
    let i = 0;
    const { scheduler, fires } = make({
      entries: [entry("j", every("1s", { jitter: "300ms" }))],
      random: () => draws[i++ % draws.length]!,
    });
    scheduler.start();
    vi.advanceTimersByTime(10 * SEC + 300);
    expect(scheduledOf(fires)).toEqual(Array.from({ length: 10 }, (_, k) => T0 + (k + 1) * SEC));
    const offsets = fires.map((f) => f.firedAt - f.scheduledAt);
    expect(offsets.slice(0, 5)).toEqual([0, 150, 299, 75, 30]);
    expect(offsets.every((o) => o >= 0 && o < 300)).toBe(true);
  });

  it("keeps jitter within bounds with a real random source", () => {
    const { scheduler, fires } = make({ entries: [entry("j", every("100ms", { jitter: "90ms" }))] });
    scheduler.start();
    vi.advanceTimersByTime(60 * SEC);
    expect(fires.length).toBeGreaterThanOrEqual(599);
    for (const f of fires) {
      expect(f.scheduledAt % 100).toBe(0);
      expect(f.firedAt - f.scheduledAt).toBeGreaterThanOrEqual(0);
      expect(f.firedAt - f.scheduledAt).toBeLessThan(90);
    }
    const times = scheduledOf(fires);
    const gaps = new Set(times.slice(1).map((t, k) => t - times[k]!));
    expect([...gaps]).toEqual([100]);
  });

  it("fires cron and crontab schedules at their calendar instants", () => {
    const seconds = make({ entries: [entry("quarter", cron("*/15 * * * * *"))] });
    seconds.scheduler.start();
    vi.advanceTimersByTime(MIN);
    expect(scheduledOf(seconds.fires)).toEqual([15, 30, 45, 60].map((s) => T0 + s * SEC));
    seconds.scheduler.stop();
    const { scheduler, fires } = make({
      entries: [entry("fiveMin", crontab({ minute: "*/5" })), entry("ny9am", cron("0 9 * * *", { tz: "America/New_York" }))],
      maxSleepMs: 60 * SEC,
    });
    scheduler.start(); // T0 + 60.5 s
    vi.advanceTimersByTime(2 * DAY);
    const fiveMin = scheduledOf(fires, "fiveMin");
    expect(fiveMin.slice(0, 3)).toEqual([5, 10, 15].map((m) => T0 + m * MIN));
    expect(fiveMin).toHaveLength((2 * DAY) / (5 * MIN));
    // 09:00 EST is 14:00 UTC.
    expect(scheduledOf(fires, "ny9am").map((t) => new Date(t).toISOString())).toEqual([
      "2026-03-01T14:00:00.000Z",
      "2026-03-02T14:00:00.000Z",
    ]);
    expect(fires.every((f) => f.firedAt === f.scheduledAt)).toBe(true);
  });

  it("computes a calendar schedule's following instant after the pass, not between fires", () => {
    let nextCalls = 0;
    const base = cron("* * * * * *");
    const counted: Schedule = { ...base, next: (after: Date) => (nextCalls++, base.next(after)) };
    const inPass: number[] = [];
    const { scheduler } = make({
      entries: Array.from({ length: 5 }, (_, i) => entry(`c${i}`, counted)),
      onFire: () => inPass.push(nextCalls),
    });
    scheduler.start();
    const atStart = nextCalls;
    vi.advanceTimersByTime(SEC);
    // The 5 fires of the pass made no next() call between them.
    expect(inPass).toEqual([atStart, atStart, atStart, atStart, atStart]);
    expect(nextCalls).toBe(atStart + 5);
  });

  it("fires an America/New_York cron across the spring-forward change at the right instants", () => {
    vi.setSystemTime(Date.parse("2026-03-07T00:00:00Z"));
    const { scheduler, fires } = make({ entries: [entry("am", cron("30 2 * * *", { tz: "America/New_York" }))], maxSleepMs: HOUR });
    scheduler.start();
    vi.advanceTimersByTime(3 * DAY);
    // 02:30 does not exist on 2026-03-08: it runs at the change (03:00 EDT = 07:00 UTC).
    expect(scheduledOf(fires).map((t) => new Date(t).toISOString())).toEqual([
      "2026-03-07T07:30:00.000Z",
      "2026-03-08T07:00:00.000Z",
      "2026-03-09T06:30:00.000Z",
    ]);
  });
});

describe("scheduler: catch-up at start", () => {
  const start = T0 + 500;

  it("makes no catch-up fire without a last fire, or with policy skip", () => {
    const { scheduler, fires, ofType } = make({
      entries: [entry("never", every("1s"), latest), entry("skipper", every("1s"), skip)],
      lastFires: new Map([["skipper", T0 - MIN]]),
    });
    expect(scheduler.start()).toEqual([]);
    vi.advanceTimersByTime(400);
    expect(fires).toEqual([]);
    const [summary] = ofType("catch-up");
    expect(summary).toMatchObject({ reason: "start", missed: 60, planned: 0 });
    expect(summary!.tasks).toEqual([
      { task: "skipper", from: T0 - MIN, to: start, missed: 60, missedCapped: false, planned: 0, policy: "skip" },
    ]);
    expect(scheduler.stats().missedDropped).toBe(60);
  });

  it("latest: runs the last missed instant once, then the schedule goes on", () => {
    const { scheduler, fires } = make({ entries: [entry("t", every("1m"), latest)], lastFires: new Map([["t", T0 - HOUR]]) });
    const planned = scheduler.start();
    expect(planned).toEqual([{ task: "t", scheduledAt: T0, firedAt: start, kind: "catch-up" }]);
    expect(fires).toEqual([]); // never inside start()
    vi.advanceTimersByTime(0);
    expect(fires).toEqual([{ task: "t", scheduledAt: T0, firedAt: start, kind: "catch-up" }]);
    vi.advanceTimersByTime(MIN);
    expect(fires.map((f) => [f.scheduledAt, f.kind])).toEqual([
      [T0, "catch-up"],
      [T0 + MIN, "on-time"],
    ]);
  });

  it("{ max, within }: the most recent max instants inside the window, staggered 100 ms apart", () => {
    const { scheduler, fires } = make({
      entries: [entry("a", every("1s"), some(3, 10 * SEC)), entry("b", every("1s"), some(10, 5 * SEC))],
      lastFires: new Map([
        ["a", T0 - HOUR],
        ["b", T0 - HOUR],
      ]),
    });
    const planned = scheduler.start();
    // a: the last 3 instants; b: only the 5 instants within 5 s of now (T0-4s .. T0), not 10.
    expect(planned.filter((f) => f.task === "a").map((f) => f.scheduledAt)).toEqual([T0 - 2 * SEC, T0 - SEC, T0]);
    expect(planned.filter((f) => f.task === "b").map((f) => f.scheduledAt)).toEqual([-4, -3, -2, -1, 0].map((s) => T0 + s * SEC));
    // One lane, oldest instant first (ties in entry order), 100 ms apart, the first at once.
    expect(planned.map((f) => f.firedAt)).toEqual(planned.map((_, i) => start + i * 100));
    expect(planned.map((f) => f.scheduledAt)).toEqual([...planned.map((f) => f.scheduledAt)].sort((x, y) => x - y));
    vi.advanceTimersByTime(2 * SEC);
    expect(fires.filter((f) => f.kind === "catch-up")).toEqual(planned);
    // On-time fires are not held up by the lane.
    expect(fires.filter((f) => f.kind === "on-time").slice(0, 2)).toEqual([
      { task: "a", scheduledAt: T0 + SEC, firedAt: T0 + SEC, kind: "on-time" },
      { task: "b", scheduledAt: T0 + SEC, firedAt: T0 + SEC, kind: "on-time" },
    ]);
  });

  it("spreads catch-up fires across tasks: never a stampede", () => {
    const entries = Array.from({ length: 50 }, (_, i) => entry(`t${i}`, every("1m"), latest));
    const { scheduler, fires } = make({ entries, lastFires: new Map(entries.map((e) => [e.task, T0 - DAY])) });
    const planned = scheduler.start();
    expect(planned).toHaveLength(50);
    vi.advanceTimersByTime(4999);
    const times = fires.map((f) => f.firedAt);
    expect(times).toEqual(Array.from({ length: 50 }, (_, i) => start + i * 100));
  });

  it("computes a month-long downtime fast, for every and for cron schedules", () => {
    const month = 30 * DAY;
    const entries = [
      entry("everyLatest", every("1s"), latest),
      entry("everySome", every("1s"), some(5, DAY)),
      entry("cronLatest", cron("* * * * * *"), latest),
      entry("cronSome", cron("* * * * * *"), some(5, DAY)),
      entry("nySome", cron("*/10 9-17 * * MON-FRI", { tz: "America/New_York" }), some(3, month)),
    ];
    const { scheduler, ofType } = make({ entries, lastFires: new Map(entries.map((e) => [e.task, T0 - month])) });
    // Clocks are fake here; CPU time is real.
    const cpu = process.cpuUsage();
    const planned = scheduler.start();
    const used = process.cpuUsage(cpu);
    const ms = (used.user + used.system) / 1000;
    const of = (task: string): number[] => planned.filter((f) => f.task === task).map((f) => f.scheduledAt);
    expect(of("everyLatest")).toEqual([T0]);
    expect(of("everySome")).toEqual([-4, -3, -2, -1, 0].map((s) => T0 + s * SEC));
    expect(of("cronLatest")).toEqual([T0]);
    expect(of("cronSome")).toEqual([-4, -3, -2, -1, 0].map((s) => T0 + s * SEC));
    // T0 is Saturday 2026-02-28 19:00 EST; the last weekday slots were Friday 17:30-17:50 EST.
    expect(of("nySome").map((x) => new Date(x).toISOString())).toEqual([
      "2026-02-27T22:30:00.000Z",
      "2026-02-27T22:40:00.000Z",
      "2026-02-27T22:50:00.000Z",
    ]);
    const tasks = ofType("catch-up")[0]!.tasks;
    expect(tasks.find((s) => s.task === "everyLatest")).toMatchObject({ missed: month / SEC, missedCapped: false, planned: 1 });
    expect(tasks.find((s) => s.task === "cronLatest")).toMatchObject({ missed: COUNT_CAP, missedCapped: true, planned: 1 });
    // Generous: the real figure is a few ms; walking 2.6 million instants would take seconds.
    expect(ms).toBeLessThan(1000);
  });

  it("plans no catch-up for a disabled task", () => {
    const { scheduler, ofType } = make({
      entries: [entry("off", every("1s"), latest)],
      lastFires: new Map([["off", T0 - MIN]]),
      isEnabled: () => false,
    });
    expect(scheduler.start()).toEqual([]);
    expect(ofType("catch-up")[0]!.tasks[0]).toMatchObject({ task: "off", planned: 0, missed: 60 });
  });
});

describe("scheduler: clock jumps, suspend and stalls", () => {
  const jumpForward = (ms: number): void => {
    vi.setSystemTime(Date.now() + ms); // wall only, like a suspend
  };

  it("forward jump: missed fires follow each task's catch-up policy, and an event says so", () => {
    const { scheduler, fires, ofType } = make({
      entries: [entry("skip", every("1m"), skip), entry("latest", every("1m"), latest), entry("some", every("1m"), some(3, HOUR))],
      maxSleepMs: SEC, // wakes on a 1 s grid, which the arithmetic below follows
    });
    scheduler.start();
    vi.advanceTimersByTime(30 * SEC); // wall T0 + 30.5 s
    jumpForward(HOUR);
    vi.advanceTimersByTime(SEC);
    const [jump] = ofType("clock-jump");
    expect(jump).toMatchObject({ direction: "forward" });
    expect(jump!.deltaMs).toBeGreaterThan(HOUR - 10);
    expect(jump!.deltaMs).toBeLessThan(HOUR + 10);
    vi.advanceTimersByTime(SEC); // let the catch-up lane drain
    expect(scheduledOf(fires, "skip")).toEqual([]);
    expect(fires.filter((f) => f.task === "latest").map((f) => [f.scheduledAt, f.kind])).toEqual([[T0 + HOUR, "catch-up"]]);
    expect(scheduledOf(fires, "some")).toEqual([58, 59, 60].map((m) => T0 + m * MIN));
    const [catchUp] = ofType("catch-up");
    expect(catchUp).toMatchObject({ reason: "clock-jump", missed: 180, planned: 4 });
    // Then on-time again, on the grid.
    vi.advanceTimersByTime(MIN);
    expect(fires.at(-1)).toMatchObject({ scheduledAt: T0 + 61 * MIN, kind: "on-time" });
  });

  it("a fire less than lateToleranceMs behind still goes out on time; latest adds nothing", () => {
    const { scheduler, fires, ofType } = make({ entries: [entry("skip", every("1m"), skip), entry("latest", every("1m"), latest)], maxSleepMs: SEC });
    scheduler.start(); // wall T0 + 0.5 s
    vi.advanceTimersByTime(58 * SEC); // T0 + 58.5 s; the next wake is at T0 + 59.5 s by the timers
    jumpForward(1200); // that wake sees the wall at T0 + 60.7 s: T0 + 1m is 0.7 s behind
    vi.advanceTimersByTime(SEC);
    expect(ofType("clock-jump")).toHaveLength(1);
    expect(fires.map((f) => [f.task, f.scheduledAt, f.kind, f.firedAt - f.scheduledAt])).toEqual([
      ["skip", T0 + MIN, "on-time", 700],
      ["latest", T0 + MIN, "on-time", 700],
    ]);
    expect(ofType("late-fire")[0]).toMatchObject({ count: 2, lateMs: 700 });
  });

  it("suspend: timers and the monotonic clock stop, the wall clock goes on; handled as a forward jump", () => {
    const { scheduler, fires, ofType } = make({ entries: [entry("t", every("10s"), latest)] });
    scheduler.start();
    vi.advanceTimersByTime(15 * SEC); // T0 + 15.5 s
    // vi.setSystemTime moves the wall clock only: performance.now and pending timers stay.
    vi.setSystemTime(Date.now() + 8 * HOUR);
    vi.advanceTimersByTime(SEC); // resume: the pending timer fires at T0 + 8h + 16.5 s by the wall clock
    expect(ofType("clock-jump")[0]).toMatchObject({ direction: "forward", deltaMs: 8 * HOUR });
    expect(ofType("catch-up")[0]).toMatchObject({ reason: "clock-jump", missed: 8 * 360, planned: 1 });
    vi.advanceTimersByTime(100);
    expect(fires.filter((f) => f.kind === "catch-up").map((f) => f.scheduledAt)).toEqual([T0 + 8 * HOUR + 10 * SEC]);
    vi.advanceTimersByTime(4 * SEC);
    expect(fires.at(-1)).toMatchObject({ kind: "on-time", scheduledAt: T0 + 8 * HOUR + 20 * SEC });
  });

  it("stall: a blocked event loop does not release a burst of stale fires", () => {
    let blocked = 0;
    const { scheduler, fires, ofType } = make({
      entries: [entry("t", every("100ms"), skip), entry("l", every("100ms"), latest)],
      now: () => Date.now() + blocked,
      monotonic: () => performance.now() + blocked,
    });
    scheduler.start();
    vi.advanceTimersByTime(SEC);
    const before = fires.length;
    blocked = 5 * SEC; // both clocks move 5 s while no timer could run
    vi.advanceTimersByTime(100);
    const after = fires.slice(before);
    expect(ofType("stall")).toHaveLength(1);
    expect(ofType("catch-up")[0]).toMatchObject({ reason: "stall" });
    // The wake came at T0 + 6.598 s by the wall clock. Skip: the 40 instants more than the
    // tolerance (1 s) behind are dropped; the ones within it go out, late. Latest adds nothing
    // since a newer instant went out on time. Never a burst of 50 stale fires each.
    const expected = Array.from({ length: 11 }, (_, i) => T0 + 5600 + i * 100);
    expect(scheduledOf(after, "t")).toEqual(expected);
    expect(scheduledOf(after, "l")).toEqual(expected);
    expect(after.filter((f) => f.kind === "catch-up")).toEqual([]);
    expect(ofType("catch-up")[0]!.tasks.map((t) => [t.task, t.missed, t.planned])).toEqual([
      ["t", 40, 0],
      ["l", 40, 0],
    ]);
    // 18 fires over 100 ms late (5.6 s .. 6.4 s, two tasks); the most late: 998 ms.
    expect(ofType("late-fire")[0]).toMatchObject({ count: 18, task: "t", scheduledAt: T0 + 5600, lateMs: 998 });
    expect(new Set(after.map((f) => `${f.task}@${f.scheduledAt}`)).size).toBe(after.length);
  });

  it("backward jump: a fixed-time slot already fired is not fired twice; an hourly-or-finer pattern keeps ticking", () => {
    const { scheduler, fires, ofType } = make({
      entries: [
        entry("fixed", cron("5 0 0 * * *"), latest), // 00:00:05 daily
        entry("fields", crontab({ second: 8, minute: 0, hour: 0 }), latest), // 00:00:08 daily
        entry("wild", cron("* * * * * *"), latest),
      ],
    });
    scheduler.start(); // wall T0 + 0.5 s
    vi.advanceTimersByTime(10 * SEC); // fixed fired T0+5s, fields T0+8s, wild T0+1s .. T0+10s
    expect(scheduledOf(fires, "fixed")).toEqual([T0 + 5 * SEC]);
    expect(scheduledOf(fires, "fields")).toEqual([T0 + 8 * SEC]);
    vi.setSystemTime(Date.now() - 8 * SEC - 300); // wall back to T0 + 2.2 s
    vi.advanceTimersByTime(SEC);
    expect(ofType("clock-jump")[0]).toMatchObject({ direction: "backward" });
    expect(ofType("clock-jump")[0]!.deltaMs).toBeLessThan(-8000);
    vi.advanceTimersByTime(20 * SEC); // the wall clock passes T0 + 5 s and T0 + 8 s again
    expect(scheduledOf(fires, "fixed")).toEqual([T0 + 5 * SEC]);
    expect(scheduledOf(fires, "fields")).toEqual([T0 + 8 * SEC]);
    // Cron's "wildcard job": every second on the new clock, the seconds 4..10 a second time.
    const wild = scheduledOf(fires, "wild");
    expect(wild.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => T0 + (i + 1) * SEC));
    expect(wild.slice(10)).toEqual(Array.from({ length: 21 }, (_, i) => T0 + (i + 3) * SEC));
    expect(fires.some((f) => f.kind === "catch-up")).toBe(false);
  });

  it("backward jump of an hour: every() keeps its interval, a fixed-time cron waits for the clock to pass its last fire", () => {
    const { scheduler, fires, ofType } = make({
      entries: [
        entry("beat", every("1s")),
        entry("min", every("1m"), latest),
        entry("cal", cron("20 0 0 * * *"), latest), // 00:00:20 daily
        entry("tick", cron("*/10 * * * * *"), latest),
      ],
    });
    scheduler.start(); // wall T0 + 0.5 s
    vi.advanceTimersByTime(20 * SEC); // beat fired T0+1s .. T0+20s, cal T0+20s, tick T0+10s and T0+20s
    expect(scheduledOf(fires, "cal")).toEqual([T0 + 20 * SEC]);
    expect(scheduledOf(fires, "tick")).toEqual([T0 + 10 * SEC, T0 + 20 * SEC]);
    const before = fires.length;
    vi.setSystemTime(Date.now() - HOUR); // wall T0 - 1h + 20.5 s: an NTP step, a VM snapshot restored
    vi.advanceTimersByTime(6 * SEC);
    expect(ofType("clock-jump")).toMatchObject([{ direction: "backward" }]);
    const after = fires.slice(before);
    // Every second of the 6 s on the new clock's grid, none late, none a catch-up.
    expect(scheduledOf(after, "beat")).toEqual([21, 22, 23, 24, 25, 26].map((s) => T0 - HOUR + s * SEC));
    expect(after.every((f) => f.kind === "on-time" && f.firedAt - f.scheduledAt <= 1)).toBe(true);
    expect(scheduler.upcoming(100).find((u) => u.task === "min")).toMatchObject({ scheduledAt: T0 - HOUR + MIN });
    vi.advanceTimersByTime(40 * SEC); // wall T0 - 1h + 66.5 s
    expect(scheduledOf(fires, "min").filter((t) => t < T0)).toEqual([T0 - HOUR + MIN]);
    expect(scheduledOf(fires.slice(before), "beat")).toHaveLength(46);
    expect(scheduledOf(fires.slice(before), "tick")).toEqual([30, 40, 50, 60].map((s) => T0 - HOUR + s * SEC));
    // The fixed-time slot stays fired: not again when the clock passes 00:00:20 in an hour.
    expect(scheduledOf(fires, "cal")).toEqual([T0 + 20 * SEC]);
  });

  it("a last fire after now at start (the clock went back while stopped): every() fires on time, a fixed-time cron does not repeat it", () => {
    const { scheduler, fires } = make({
      entries: [entry("beat", every("1s"), latest)],
      lastFires: new Map([["beat", T0 + HOUR]]),
    });
    expect(scheduler.start()).toEqual([]);
    vi.advanceTimersByTime(3 * SEC);
    expect(scheduledOf(fires, "beat")).toEqual([T0 + SEC, T0 + 2 * SEC, T0 + 3 * SEC]);
    const fixed = make({ entries: [entry("cal", cron("10 0 1 * * *"), latest)], lastFires: new Map([["cal", T0 + HOUR + 10 * SEC]]) });
    fixed.scheduler.start();
    // Its 01:00:10 today already fired (by the clock before it went back): next is tomorrow's.
    expect(fixed.scheduler.stats().nextFireAt).toBe(T0 + DAY + HOUR + 10 * SEC);
    const wild = make({ entries: [entry("tick", cron("*/10 * * * * *"), latest)], lastFires: new Map([["tick", T0 + HOUR]]) });
    wild.scheduler.start();
    expect(wild.scheduler.stats().nextFireAt).toBe(T0 + 10 * SEC);
  });
});

describe("scheduler: disabled tasks, errors, stop", () => {
  it("does not fire disabled tasks; their schedule advances, so re-enabling brings no burst", () => {
    const off = new Set(["b"]);
    const { scheduler, fires } = make({
      entries: [entry("a", every("1s")), entry("b", every("1s"), latest)],
      isEnabled: (task) => !off.has(task),
    });
    scheduler.start();
    vi.advanceTimersByTime(5 * SEC);
    expect(scheduledOf(fires, "a")).toHaveLength(5);
    expect(scheduledOf(fires, "b")).toEqual([]);
    expect(scheduler.stats().skippedDisabled).toBe(5);
    expect(scheduler.upcoming(3).map((u) => u.task)).toEqual(["a", "a", "a"]);
    off.delete("b");
    vi.advanceTimersByTime(2 * SEC);
    expect(scheduledOf(fires, "b")).toEqual([T0 + 6 * SEC, T0 + 7 * SEC]);
  });

  it("reports an onFire exception as an event and goes on firing", () => {
    const events: SchedulerEvent[] = [];
    let calls = 0;
    const scheduler = createScheduler({
      entries: [entry("boom", every("1s"))],
      onFire: () => {
        calls++;
        throw new Error("queue full");
      },
      onEvent: (e) => events.push(e),
    });
    made.push(scheduler);
    scheduler.start();
    vi.advanceTimersByTime(3 * SEC);
    expect(calls).toBe(3);
    expect(events.filter((e) => e.type === "error")).toHaveLength(3);
    expect(events[0]).toMatchObject({ type: "error", where: "onFire", task: "boom" });
  });

  it("stop() leaves no timer, also with catch-up fires queued and when called from onFire", () => {
    const { scheduler } = make({ entries: [entry("t", every("1m"), some(10, DAY))], lastFires: new Map([["t", T0 - HOUR]]) });
    expect(scheduler.start()).toHaveLength(10);
    vi.advanceTimersByTime(250);
    expect(vi.getTimerCount()).toBe(1);
    scheduler.stop();
    expect(vi.getTimerCount()).toBe(0);
    expect(scheduler.stats()).toMatchObject({ state: "stopped", pendingCatchUps: 0 });
    expect(scheduler.upcoming()).toEqual([]);
    scheduler.stop();
    expect(() => scheduler.start()).toThrow(/stopped/);

    const fired: number[] = [];
    const self: Scheduler = createScheduler({
      entries: [entry("a", every("1s")), entry("b", every("1s"))],
      onFire: (f) => {
        fired.push(f.scheduledAt);
        self.stop();
      },
    });
    made.push(self);
    self.start();
    vi.advanceTimersByTime(5 * SEC);
    expect(fired).toEqual([T0 + SEC]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("rejects duplicate tasks and bad options", () => {
    expect(() => createScheduler({ entries: [entry("a", every("1s")), entry("a", every("2s"))], onFire: () => {} })).toThrow(
      'scheduler: task "a" has two schedule entries',
    );
    expect(() => createScheduler({ entries: [], onFire: () => {}, maxSleepMs: 0 })).toThrow(/maxSleepMs/);
  });
});

describe("scheduler: replace and upcoming", () => {
  it("replace(): keeps unchanged schedules, moves changed ones without refiring, adds and removes tasks", () => {
    const { scheduler, fires } = make({
      entries: [entry("keep", every("1s")), entry("change", every("1s")), entry("drop", every("1s"))],
    });
    scheduler.start();
    vi.advanceTimersByTime(3 * SEC); // each fired T0+1s..T0+3s; wall T0 + 3.5 s
    scheduler.replace([entry("keep", every("1s")), entry("change", every("2s")), entry("add", every("1s"))]);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(3 * SEC); // wall T0 + 6.5 s
    expect(scheduledOf(fires, "keep")).toEqual([1, 2, 3, 4, 5, 6].map((s) => T0 + s * SEC));
    expect(scheduledOf(fires, "change")).toEqual([1, 2, 3, 4, 6].map((s) => T0 + s * SEC));
    expect(scheduledOf(fires, "drop")).toEqual([1, 2, 3].map((s) => T0 + s * SEC));
    expect(scheduledOf(fires, "add")).toEqual([4, 5, 6].map((s) => T0 + s * SEC));
    expect(scheduler.stats().entries).toBe(3);
  });

  it("replace(): a changed schedule never repeats an instant already fired, and removed tasks lose queued catch-ups", () => {
    const { scheduler, fires } = make({
      entries: [entry("a", every("1m"), some(5, DAY)), entry("b", every("1m"), some(5, DAY))],
      lastFires: new Map([
        ["a", T0 - HOUR],
        ["b", T0 - HOUR],
      ]),
    });
    expect(scheduler.start()).toHaveLength(10);
    vi.advanceTimersByTime(250); // three catch-ups out
    scheduler.replace([entry("a", every("1m"), some(5, DAY))]);
    vi.advanceTimersByTime(2 * SEC);
    const caught = fires.filter((f) => f.kind === "catch-up");
    expect(caught.filter((f) => f.task === "b")).toHaveLength(1);
    expect(caught.filter((f) => f.task === "a")).toHaveLength(5);
    // Fire once more then switch to a schedule containing the same instants.
    vi.advanceTimersByTime(MIN);
    const lastA = scheduledOf(fires, "a").at(-1)!;
    scheduler.replace([entry("a", cron("*/30 * * * * *"))]);
    vi.advanceTimersByTime(MIN);
    const a = scheduledOf(fires, "a");
    expect(new Set(a).size).toBe(a.length);
    expect(a.filter((t) => t > lastA)).toEqual([lastA + 30 * SEC, lastA + MIN]);
  });

  it("replace() from inside onFire, in the middle of a batch due at one instant, loses and repeats nothing", () => {
    const tasks = ["a", "b", "c", "d"];
    const list = (): ScheduleEntry[] => tasks.map((t) => entry(t, every("1s")));
    const fired: string[] = [];
    const self: Scheduler = createScheduler({
      entries: list(),
      onFire: (f) => {
        fired.push(`${f.task}@${(f.scheduledAt - T0) / SEC}`);
        if (f.task === "b") self.replace(list()); // a SIGHUP handled synchronously
      },
    });
    made.push(self);
    self.start();
    vi.advanceTimersByTime(3 * SEC);
    expect(fired).toEqual([1, 2, 3].flatMap((s) => tasks.map((t) => `${t}@${s}`)));
  });

  it("upcoming(): the next fires over all tasks in order, jitter included in `at`", () => {
    const { scheduler } = make({
      entries: [entry("min", every("1m")), entry("sec20", every("20s", { jitter: "5s" }))],
      random: () => 0.5,
    });
    // Before start: computed from now.
    expect(scheduler.upcoming(2).map((u) => [u.task, u.scheduledAt])).toEqual([
      ["sec20", T0 + 20 * SEC],
      ["sec20", T0 + 40 * SEC],
    ]);
    scheduler.start();
    const next = scheduler.upcoming(5);
    expect(next.map((u) => [u.task, u.scheduledAt, u.at])).toEqual([
      ["sec20", T0 + 20 * SEC, T0 + 22_500],
      ["sec20", T0 + 40 * SEC, T0 + 40 * SEC],
      ["min", T0 + MIN, T0 + MIN],
      ["sec20", T0 + MIN, T0 + MIN],
      ["sec20", T0 + 80 * SEC, T0 + 80 * SEC],
    ]);
    expect(scheduler.upcoming(0)).toEqual([]);
    expect(scheduler.upcoming()).toHaveLength(10);
    expect(scheduler.stats().nextFireAt).toBe(T0 + 22_500);
  });

  it("upcoming(): lists queued catch-up fires first when they go out first", () => {
    const { scheduler } = make({ entries: [entry("t", every("1h"), some(2, DAY))], lastFires: new Map([["t", T0 - DAY]]) });
    scheduler.start();
    expect(scheduler.upcoming(3)).toEqual([
      { task: "t", at: T0 + 500, scheduledAt: T0 - HOUR, kind: "catch-up" },
      { task: "t", at: T0 + 600, scheduledAt: T0, kind: "catch-up" },
      { task: "t", at: T0 + HOUR, scheduledAt: T0 + HOUR, kind: "on-time" },
    ]);
  });
});

describe("scheduler: real timers", () => {
  it('fires every("100ms") on time and never early (short sanity check)', async () => {
    vi.useRealTimers();
    const fires: Fire[] = [];
    const scheduler = createScheduler({ entries: [entry("t", every("100ms"))], onFire: (f) => fires.push(f) });
    scheduler.start();
    await new Promise((resolve) => setTimeout(resolve, 1050));
    scheduler.stop();
    expect(fires.length).toBeGreaterThanOrEqual(9);
    expect(fires.length).toBeLessThanOrEqual(11);
    for (const f of fires) {
      expect(f.firedAt).toBeGreaterThanOrEqual(f.scheduledAt);
      expect(f.firedAt - f.scheduledAt).toBeLessThan(100); // generous: a busy CI machine
    }
    vi.useFakeTimers(); // afterEach counts fake timers
  });
});
