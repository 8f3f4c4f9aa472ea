import { describe, expect, it } from "vitest";
import { COUNT_CAP, countFires, lastFireAtOrBefore, missedFires, nextFireAfter } from "../../src/schedule/catch-up.js";
import { cron, every } from "../../src/schedule/index.js";
import type { Schedule } from "../../src/core/types.js";

const T = Date.parse("2026-03-01T00:00:00Z");
const SEC = 1000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Every fire in (after, upTo], walked one by one: the reference the fast paths must match. */
function walk(schedule: Schedule, after: number, upTo: number): number[] {
  const out: number[] = [];
  for (let t = nextFireAfter(schedule, after); t !== null && t <= upTo; t = nextFireAfter(schedule, t)) out.push(t);
  return out;
}

describe("catch-up arithmetic", () => {
  const schedules: Array<[string, Schedule]> = [
    ["every 7s + 3s", every("7s", { delay: "3s" })],
    ["every 90m", every("90m")],
    ["cron */13 seconds", cron("*/13 * * * * *")],
    ["cron 9-17 weekdays NY", cron("*/20 9-17 * * MON-FRI", { tz: "America/New_York" })],
    ["cron 02:30 NY (DST)", cron("30 2 * * *", { tz: "America/New_York" })],
  ];

  it.each(schedules)("lastFireAtOrBefore matches a forward walk: %s", (_, schedule) => {
    // Two days around the New York spring-forward change (2026-03-08 07:00 UTC).
    const after = Date.parse("2026-03-07T12:00:00Z");
    const fires = walk(schedule, after, after + 2 * DAY);
    let seed = 7;
    for (let i = 0; i < 40; i++) {
      seed = (seed * 48271) % 2147483647;
      const t = after + (seed % (2 * DAY));
      const expected = fires.filter((f) => f <= t).at(-1) ?? null;
      expect(lastFireAtOrBefore(schedule, t, after)).toBe(expected);
    }
    expect(lastFireAtOrBefore(schedule, after, after)).toBeNull();
  });

  it.each(schedules)("missedFires keeps what each policy asks for: %s", (_, schedule) => {
    const after = Date.parse("2026-03-07T00:00:00Z");
    const upTo = after + 2 * DAY + 12_345;
    const all = walk(schedule, after, upTo);
    const skip = missedFires(schedule, { mode: "skip" }, after, upTo);
    expect(skip.fires).toEqual([]);
    expect(skip.missed).toBe(Math.min(all.length, skip.missedCapped ? COUNT_CAP : Infinity));
    expect(missedFires(schedule, { mode: "latest" }, after, upTo).fires).toEqual(all.slice(-1));
    expect(missedFires(schedule, { mode: "some", max: 4, withinMs: 3 * DAY }, after, upTo).fires).toEqual(all.slice(-4));
    const window = 20 * 60_000;
    const inWindow = all.filter((t) => t >= upTo - window);
    expect(missedFires(schedule, { mode: "some", max: 5000, withinMs: window }, after, upTo).fires).toEqual(inWindow);
  });

  it("counts a grid exactly and a dense calendar up to COUNT_CAP", () => {
    expect(countFires(every("1s"), T - 30 * DAY, T)).toEqual({ count: 30 * 86_400, capped: false });
    expect(countFires(every("1s"), T, T)).toEqual({ count: 0, capped: false });
    expect(countFires(cron("* * * * * *"), T - DAY, T, 50)).toEqual({ count: 50, capped: true });
    expect(countFires(cron("0 * * * *"), T - DAY, T)).toEqual({ count: 24, capped: false });
  });

  it("an instant exactly `within` before now is inside the window", () => {
    const r = missedFires(every("1m"), { mode: "some", max: 10, withinMs: 5 * 60_000 }, T - HOUR, T);
    expect(r.fires).toEqual([5, 4, 3, 2, 1, 0].map((m) => T - m * 60_000));
  });

  it("handles a month of every-second instants without walking them", () => {
    const cpu = process.cpuUsage();
    const r = missedFires(cron("* * * * * *"), { mode: "some", max: 3, withinMs: DAY }, T - 30 * DAY, T);
    const used = process.cpuUsage(cpu);
    expect(r).toEqual({ fires: [T - 2 * SEC, T - SEC, T], missed: COUNT_CAP, missedCapped: true });
    expect((used.user + used.system) / 1000).toBeLessThan(2000);
  });
});
