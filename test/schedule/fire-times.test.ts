import { describe, expect, it } from "vitest";
import { ScheduleError } from "../../src/core/errors.js";
import { fireTimes } from "../../src/schedule/fire-times.js";
import { cron, crontab, every } from "../../src/schedule/index.js";

const at = (iso: string): Date => new Date(iso);

describe("fireTimes", () => {
  it("writes each fire in the schedule's zone and marks the spring-forward change (America/New_York)", () => {
    const fires = fireTimes(cron("0 3 * * *", { tz: "America/New_York" }), 3, at("2026-03-06T12:00:00Z"));
    expect(fires).toEqual([
      { at: at("2026-03-07T08:00:00Z"), iso: "2026-03-07T03:00:00-05:00", local: "2026-03-07 03:00:00 EST", utc: "2026-03-07T08:00:00Z" },
      {
        at: at("2026-03-08T07:00:00Z"),
        iso: "2026-03-08T03:00:00-04:00",
        local: "2026-03-08 03:00:00 EDT",
        utc: "2026-03-08T07:00:00Z",
        dstChange: "spring-forward",
      },
      { at: at("2026-03-09T07:00:00Z"), iso: "2026-03-09T03:00:00-04:00", local: "2026-03-09 03:00:00 EDT", utc: "2026-03-09T07:00:00Z" },
    ]);
  });

  it("shows the skipped hour of an hourly grid in a display zone", () => {
    const fires = fireTimes(every("1h"), 3, at("2026-03-08T05:30:00Z"), "America/New_York");
    expect(fires.map((f) => [f.local, f.dstChange])).toEqual([
      ["2026-03-08 01:00:00 EST", undefined],
      ["2026-03-08 03:00:00 EDT", "spring-forward"],
      ["2026-03-08 04:00:00 EDT", undefined],
    ]);
  });

  it("marks the fall-back change; an hourly pattern fires in both passes of the repeated hour", () => {
    const fires = fireTimes(cron("30 * * * *", { tz: "America/New_York" }), 4, at("2026-11-01T04:00:00Z"));
    expect(fires.map((f) => [f.iso, f.local, f.dstChange])).toEqual([
      ["2026-11-01T00:30:00-04:00", "2026-11-01 00:30:00 EDT", undefined],
      ["2026-11-01T01:30:00-04:00", "2026-11-01 01:30:00 EDT", undefined],
      ["2026-11-01T01:30:00-05:00", "2026-11-01 01:30:00 EST", "fall-back"],
      ["2026-11-01T02:30:00-05:00", "2026-11-01 02:30:00 EST", undefined],
    ]);
  });

  it("compares the first fire with the offset at `from`", () => {
    const [first] = fireTimes(crontab({ hour: 12 }, {}), 1, at("2026-03-08T05:00:00Z"), "America/New_York");
    expect(first).toMatchObject({ iso: "2026-03-08T08:00:00-04:00", dstChange: "spring-forward" });
  });

  it("defaults to UTC, shows milliseconds only when set, and half-hour offsets", () => {
    expect(fireTimes(crontab({ minute: 30 }), 1, at("2026-03-08T05:30:00Z"))[0]).toEqual({
      at: at("2026-03-08T06:30:00Z"),
      iso: "2026-03-08T06:30:00+00:00",
      local: "2026-03-08 06:30:00 UTC",
      utc: "2026-03-08T06:30:00Z",
    });
    const [f] = fireTimes(every("250ms"), 1, at("2026-03-08T05:30:00Z"), "Asia/Kolkata");
    expect(f!.iso).toBe("2026-03-08T11:00:00.250+05:30");
    expect(f!.utc).toBe("2026-03-08T05:30:00.250Z");
  });

  it("returns n fires and rejects an unknown zone", () => {
    expect(fireTimes(every("1m"), 0, at("2026-03-08T05:30:00Z"))).toEqual([]);
    expect(fireTimes(every("1m"), 20, at("2026-03-08T05:30:00Z"))).toHaveLength(20);
    expect(() => fireTimes(every("1m"), 1, at("2026-03-08T05:30:00Z"), "Mars/Olympus")).toThrow(ScheduleError);
  });
});
