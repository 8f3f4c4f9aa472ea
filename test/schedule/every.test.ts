import { describe, expect, it } from "vitest";
import { every, isSchedule, MIN_INTERVAL_MS, nextRuns, withDefaultTimezone } from "../../src/schedule/index.js";
import { at, isoOf, thrown } from "./helpers.js";



describe("every: grid", () => {
  it("fires at the top of each UTC hour, strictly after the given time", () => {
    const s = every("1h");
    expect(s.next(at("2026-03-08T10:17:05.123Z")).toISOString()).toBe("2026-03-08T11:00:00.000Z");
    expect(s.next(at("2026-03-08T11:00:00.000Z")).toISOString()).toBe("2026-03-08T12:00:00.000Z");
    expect(s.next(at("2026-03-08T10:59:59.999Z")).toISOString()).toBe("2026-03-08T11:00:00.000Z");
  });

  it("anchors to the Unix epoch, so a new schedule (a restart) keeps the same grid", () => {
    const from = at("2026-05-17T13:41:27.500Z");
    const first = every("90m").next(from);
    const again = every(5_400_000).next(from);
    expect(first.toISOString()).toBe("2026-05-17T15:00:00.000Z");
    expect(again.getTime()).toBe(first.getTime());
    expect(first.getTime() % 5_400_000).toBe(0);
  });

  it("fires daily at 00:00 UTC and weekly on Thursdays (the epoch was a Thursday)", () => {
    expect(every("1d").next(at("2026-03-08T23:59:59Z")).toISOString()).toBe("2026-03-09T00:00:00.000Z");
    const weekly = every("1w").next(at("2026-01-01T00:00:00Z"));
    expect(weekly.toISOString()).toBe("2026-01-08T00:00:00.000Z");
    expect(weekly.getUTCDay()).toBe(4);
  });

  it("shifts the phase by delay", () => {
    const s = every("1h", { delay: "15m" });
    expect(s.next(at("2026-03-08T10:05:00Z")).toISOString()).toBe("2026-03-08T10:15:00.000Z");
    expect(s.next(at("2026-03-08T10:15:00Z")).toISOString()).toBe("2026-03-08T11:15:00.000Z");
    expect(s.delayMs).toBe(900_000);
  });

  it("does not drift over many steps, also for intervals that do not divide a second", () => {
    for (const [interval, ms] of [["7s", 7000], ["333ms", 333], [86_400_017, 86_400_017]] as const) {
      const s = every(interval);
      let t = at("2026-01-01T00:00:00.001Z");
      const first = s.next(t).getTime();
      const gaps = new Set<number>();
      for (let i = 0; i < 20_000; i++) {
        const next = s.next(t);
        if (i > 0) gaps.add(next.getTime() - t.getTime());
        t = next;
      }
      expect([...gaps]).toEqual([ms]);
      expect(t.getTime()).toBe(first + 19_999 * ms);
      expect(t.getTime() % ms).toBe(0);
    }
  });

  it("works before 1970 (negative instants)", () => {
    expect(every("1s").next(at("1969-12-31T23:59:58.500Z")).toISOString()).toBe("1969-12-31T23:59:59.000Z");
    expect(every("1s").next(new Date(-1)).getTime()).toBe(0);
  });

  it("leaves jitter to the scheduler: next() ignores it", () => {
    const s = every("1m", { jitter: "10s" });
    expect(s.jitterMs).toBe(10_000);
    expect(s.intervalMs).toBe(60_000);
    expect(s.next(at("2026-03-08T10:00:30Z")).toISOString()).toBe("2026-03-08T10:01:00.000Z");
  });

  it("lists the next runs with nextRuns()", () => {
    expect(isoOf(nextRuns(every("2h30m", { delay: "15m" }), 3, at("2026-01-01T00:00:00Z")))).toEqual([
      "2026-01-01T01:45:00.000Z",
      "2026-01-01T04:15:00.000Z",
      "2026-01-01T06:45:00.000Z",
    ]);
    expect(nextRuns(every("1s"), 0, at("2026-01-01T00:00:00Z"))).toEqual([]);
    expect(() => nextRuns(every("1s"), -1)).toThrow(RangeError);
  });
});

describe("every: text", () => {
  it("describes the interval and shows the source form", () => {
    expect(every("1s").describe()).toBe("every 1s");
    expect(String(every("1s"))).toBe('every("1s")');
    expect(every(9_000_000).describe()).toBe("every 2h 30m");
    expect(String(every(9_000_000))).toBe('every("2h30m")');
    expect(every("1.5s").describe()).toBe("every 1s 500ms");
    const s = every("1h", { delay: "15m", jitter: "30s" });
    expect(s.describe()).toBe("every 1h (offset 15m, jitter up to 30s)");
    expect(s.toString()).toBe('every("1h", { delay: "15m", jitter: "30s" })');
  });

  it("is a branded schedule without a time zone; a default zone leaves it alone", () => {
    const s = every("5m", { params: { name: "bob" } });
    expect(s.kind).toBe("every");
    expect(s.timezone).toBeUndefined();
    expect(s.params).toEqual({ name: "bob" });
    expect(isSchedule(s)).toBe(true);
    expect(withDefaultTimezone(s, "Europe/Rome")).toBe(s);
  });

  it("recognises a schedule of another copy of the package by the global symbol", () => {
    const foreign = { [Symbol.for("fluid-tasks.schedule")]: true, next: () => null };
    expect(isSchedule(foreign)).toBe(true);
    expect(isSchedule({ next: () => null })).toBe(false);
    expect(isSchedule(null)).toBe(false);
    expect(isSchedule("every 1s")).toBe(false);
  });
});

describe("every: invalid input", () => {
  it("rejects an interval below the minimum, suggesting seconds for a small number", () => {
    expect(MIN_INTERVAL_MS).toBe(10);
    const e = thrown(() => every(5));
    expect(e.message).toBe('every: interval 5 is shorter than the minimum 10ms; if you meant 5 seconds, write every("5s")');
    expect(thrown(() => every("5ms")).message).toBe('every: interval "5ms" is shorter than the minimum 10ms');
    expect(thrown(() => every(0)).message).toBe("every: interval 0 is shorter than the minimum 10ms");
    expect(every(10).intervalMs).toBe(10);
  });

  it("rejects text that is not a duration, with the duration hint", () => {
    const e = thrown(() => every("abc"));
    expect(e.message).toBe('invalid every interval "abc"');
    expect(e.hint).toContain('"30s"');
    expect(thrown(() => every(-1)).message).toBe("every interval must be a non-negative number of milliseconds, got -1");
  });

  it("rejects a fractional number of milliseconds", () => {
    expect(thrown(() => every(1500.5)).message).toBe("every: interval 1500.5 is not a whole number of milliseconds");
  });

  it("rejects a delay or jitter that is not shorter than the interval", () => {
    expect(thrown(() => every("1h", { delay: "90m" })).message).toBe(
      'every: delay 1h30m is not shorter than the interval 1h; the grid repeats every interval, so write delay: "30m"',
    );
    expect(thrown(() => every("1h", { jitter: "1h" })).message).toMatch(/^every: jitter 1h is not shorter than the interval 1h; /);
  });

  it("rejects unknown options and params that are not an object", () => {
    expect(thrown(() => every("1s", { offset: "5s" } as never)).message).toBe('every: unknown option "offset"; use delay, jitter or params');
    expect(thrown(() => every("1s", { params: [1] as never })).message).toBe("every: params must be an object of task params, got an array");
  });

  it("throws a TypeError for an invalid Date passed to next()", () => {
    expect(() => every("1s").next(new Date(Number.NaN))).toThrow(TypeError);
  });
});
