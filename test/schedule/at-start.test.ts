import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { atStart, cron, every, isSchedule } from "../../src/schedule/index.js";
import { createScheduler, type Fire, type Scheduler } from "../../src/schedule/timer.js";
import type { ResolvedCatchUp } from "../../src/task/task.js";
import type { Schedule } from "../../src/core/types.js";
import { thrown } from "./helpers.js";

const T0 = Date.parse("2026-03-01T00:00:00.000Z");
const skip: ResolvedCatchUp = { mode: "skip" };
const latest: ResolvedCatchUp = { mode: "latest" };
const entry = (task: string, schedule: Schedule, catchUp: ResolvedCatchUp = skip) => ({ task, schedule, catchUp });

let made: Scheduler[] = [];
function make(entries: ReturnType<typeof entry>[], lastFires?: Map<string, number>) {
  const fires: Fire[] = [];
  const scheduler = createScheduler({ entries, onFire: (f) => fires.push(f), ...(lastFires ? { lastFires } : {}) });
  made.push(scheduler);
  return { scheduler, fires };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0 + 500);
});

afterEach(() => {
  for (const s of made) s.stop();
  made = [];
  expect(vi.getTimerCount()).toBe(0); // a test that leaves a timer alive fails
  vi.useRealTimers();
});

describe("atStart(): cron's @reboot", () => {
  it("is a schedule with no calendar time", () => {
    const s = atStart();
    expect(isSchedule(s)).toBe(true);
    expect(s.kind).toBe("start");
    expect(s.next(new Date())).toBeNull();
    expect(String(s)).toBe("atStart()");
    expect(s.describe()).toBe("once when fluid serve starts");
    expect(atStart({ params: { warm: true } }).params).toEqual({ warm: true });
    expect(thrown(() => atStart({ when: "now" } as never)).message).toMatch(/unknown option "when"/);
  });

  it('cron("@reboot") says to write atStart()', () => {
    const error = thrown(() => cron("@reboot"));
    expect(error.message).toMatch(/@reboot is not a time of the calendar/);
    expect(error.hint).toMatch(/atStart\(\)/);
  });

  it("fires once, on time, right after the scheduler starts (not inside start())", () => {
    const { scheduler, fires } = make([entry("warm", atStart()), entry("tick", every("1s"))]);
    expect(scheduler.start()).toEqual([]);
    expect(fires).toEqual([]);
    vi.advanceTimersByTime(0);
    expect(fires).toEqual([{ task: "warm", scheduledAt: T0 + 500, firedAt: T0 + 500, kind: "on-time" }]);
    vi.advanceTimersByTime(3000);
    expect(fires.filter((f) => f.task === "warm")).toHaveLength(1);
    expect(fires.filter((f) => f.task === "tick")).toHaveLength(3);
    expect(scheduler.stats().fires.onTime).toBe(4);
  });

  it("does not fire again on a reload (replace), not even for a task the reload adds", () => {
    const { scheduler, fires } = make([entry("warm", atStart())]);
    scheduler.start();
    vi.advanceTimersByTime(10);
    scheduler.replace([entry("warm", atStart()), entry("added", atStart())]);
    vi.advanceTimersByTime(60_000);
    expect(fires.map((f) => f.task)).toEqual(["warm"]);
  });

  it("has nothing to catch up after downtime, and is skipped when the task is disabled", () => {
    const fires: Fire[] = [];
    const scheduler = createScheduler({
      entries: [entry("warm", atStart(), latest), entry("off", atStart())],
      lastFires: new Map([["warm", T0 - 86_400_000]]),
      isEnabled: (task) => task !== "off",
      onFire: (f) => fires.push(f),
    });
    made.push(scheduler);
    expect(scheduler.start()).toEqual([]);
    vi.advanceTimersByTime(0);
    expect(fires.map((f) => [f.task, f.kind])).toEqual([["warm", "on-time"]]);
    expect(scheduler.stats().skippedDisabled).toBe(1);
  });

  it("a scheduler stopped before its first turn fires nothing and leaves no timer", () => {
    const { scheduler, fires } = make([entry("warm", atStart())]);
    scheduler.start();
    scheduler.stop();
    vi.advanceTimersByTime(1000);
    expect(fires).toEqual([]);
  });
});
