import { Cron } from "croner";
import { describe, expect, it } from "vitest";
import { cron, crontab, isSchedule, nextRuns, withDefaultTimezone } from "../../src/schedule/index.js";
import { at, isoOf, thrown } from "./helpers.js";

const runs = (pattern: string, n: number, from: string, tz?: string): string[] =>
  isoOf(nextRuns(cron(pattern, tz === undefined ? {} : { tz }), n, at(from)));


describe("cron: patterns", () => {
  it("reads 5 fields, and 6 with seconds first", () => {
    expect(runs("0 */2 * * *", 3, "2026-01-01T00:00:00Z")).toEqual([
      "2026-01-01T02:00:00.000Z",
      "2026-01-01T04:00:00.000Z",
      "2026-01-01T06:00:00.000Z",
    ]);
    expect(runs("*/15 * * * * *", 3, "2026-01-01T00:00:00.500Z")).toEqual([
      "2026-01-01T00:00:15.000Z",
      "2026-01-01T00:00:30.000Z",
      "2026-01-01T00:00:45.000Z",
    ]);
  });

  it("reads month and day names", () => {
    // 2026-03-31 is a Tuesday.
    expect(runs("0 9 * MAR-APR MON,FRI", 3, "2026-03-28T00:00:00Z")).toEqual([
      "2026-03-30T09:00:00.000Z",
      "2026-04-03T09:00:00.000Z",
      "2026-04-06T09:00:00.000Z",
    ]);
  });

  it("reads L (last day, last weekday of the month), W (nearest weekday) and # (nth weekday)", () => {
    expect(runs("0 0 L * *", 3, "2024-01-15T00:00:00Z")).toEqual([
      "2024-01-31T00:00:00.000Z",
      "2024-02-29T00:00:00.000Z",
      "2024-03-31T00:00:00.000Z",
    ]);
    // 2026-02-27 is the last Friday of February 2026.
    expect(runs("0 0 * * 5L", 2, "2026-02-01T00:00:00Z")).toEqual(["2026-02-27T00:00:00.000Z", "2026-03-27T00:00:00.000Z"]);
    // 2026-02-15 is a Sunday: the nearest weekday is Monday 16th. 2026-04-15 is a Wednesday.
    expect(runs("0 0 15W * *", 3, "2026-02-01T00:00:00Z")).toEqual([
      "2026-02-16T00:00:00.000Z",
      "2026-03-16T00:00:00.000Z",
      "2026-04-15T00:00:00.000Z",
    ]);
    expect(runs("0 0 * * MON#2", 2, "2026-02-01T00:00:00Z")).toEqual(["2026-02-09T00:00:00.000Z", "2026-03-09T00:00:00.000Z"]);
  });

  it("reads nicknames", () => {
    expect(runs("@daily", 2, "2026-02-01T00:00:00Z")).toEqual(["2026-02-02T00:00:00.000Z", "2026-02-03T00:00:00.000Z"]);
    expect(runs("@hourly", 2, "2026-02-01T00:30:00Z")).toEqual(["2026-02-01T01:00:00.000Z", "2026-02-01T02:00:00.000Z"]);
    // 2026-02-01 is a Sunday; @weekly is Sunday 00:00.
    expect(runs("@weekly", 1, "2026-02-01T00:00:00Z")).toEqual(["2026-02-08T00:00:00.000Z"]);
    expect(runs("@monthly", 1, "2026-02-01T00:00:00Z")).toEqual(["2026-03-01T00:00:00.000Z"]);
  });

  it("handles month ends and Feb 29", () => {
    expect(runs("0 0 31 * *", 3, "2026-01-31T00:00:00Z")).toEqual([
      "2026-03-31T00:00:00.000Z",
      "2026-05-31T00:00:00.000Z",
      "2026-07-31T00:00:00.000Z",
    ]);
    expect(runs("0 0 29 2 *", 2, "2024-01-01T00:00:00Z")).toEqual(["2024-02-29T00:00:00.000Z", "2028-02-29T00:00:00.000Z"]);
    expect(runs("0 0 L 2 *", 2, "2026-01-01T00:00:00Z")).toEqual(["2026-02-28T00:00:00.000Z", "2027-02-28T00:00:00.000Z"]);
  });

  it("fires when either day or dayOfWeek matches if both are restricted (OR rule)", () => {
    // 2026-02-01 is a Sunday.
    expect(runs("0 0 1 * MON", 3, "2026-01-31T00:00:00Z")).toEqual([
      "2026-02-01T00:00:00.000Z",
      "2026-02-02T00:00:00.000Z",
      "2026-02-09T00:00:00.000Z",
    ]);
  });

  it("reads 0 and 7 as Sunday", () => {
    expect(runs("0 0 * * 7", 1, "2026-01-01T00:00:00Z")).toEqual(["2026-01-04T00:00:00.000Z"]);
    expect(runs("0 0 * * 5-7", 3, "2026-01-01T00:00:00Z")).toEqual([
      "2026-01-02T00:00:00.000Z",
      "2026-01-03T00:00:00.000Z",
      "2026-01-04T00:00:00.000Z",
    ]);
  });
});

describe("cron: text, zone and brand", () => {
  it("describes and shows the source form", () => {
    expect(cron("0 */2 * * *").describe()).toBe("cron 0 */2 * * * (UTC)");
    expect(String(cron("0 */2 * * *"))).toBe('cron("0 */2 * * *")');
    expect(String(cron("@daily", { tz: "Europe/Rome" }))).toBe('cron("@daily", { tz: "Europe/Rome" })');
    expect(cron("@daily", { tz: "Europe/Rome" }).describe()).toBe("cron @daily (Europe/Rome)");
  });

  it("is a branded schedule; a default zone applies only without an explicit tz", () => {
    const s = cron("0 8 * * *", { params: { n: 1 } });
    expect(isSchedule(s)).toBe(true);
    expect(s.kind).toBe("cron");
    expect(s.params).toEqual({ n: 1 });
    const tokyo = withDefaultTimezone(s, "Asia/Tokyo");
    expect(tokyo.timezone).toBe("Asia/Tokyo");
    expect(tokyo.next(at("2026-01-01T00:00:00Z"))?.toISOString()).toBe("2026-01-01T23:00:00.000Z");
    expect(tokyo.params).toEqual({ n: 1 });
    const explicit = cron("0 8 * * *", { tz: "UTC" });
    expect(withDefaultTimezone(explicit, "Asia/Tokyo")).toBe(explicit);
  });
});

describe("cron: invalid patterns name the pattern and croner's reason", () => {
  it.each([
    ["61 * * * *", 'cron("61 * * * *") is not a valid cron pattern: Invalid value for minute: 61'],
    ["*/0 * * * *", 'cron("*/0 * * * *") is not a valid cron pattern: Syntax error, illegal stepping: 0'],
    ["* * * *", "cron(\"* * * *\") is not a valid cron pattern: invalid configuration format ('* * * *'), exactly five, six, or seven space separated parts are required."],
    ["0 0 0 1 1 * 2030", "cron(\"0 0 0 1 1 * 2030\") is not a valid cron pattern: mode '5-or-6-parts' requires exactly 5 or 6 parts, but pattern '0 0 0 1 1 * 2030' has 7 parts."],
  ])("%s", (pattern, message) => {
    const e = thrown(() => cron(pattern));
    expect(e.message).toBe(message);
    expect(e.hint).toContain("5 fields");
    expect(e.cause).toBeInstanceOf(Error);
  });

  it("rejects @reboot, garbage and a pattern that never fires", () => {
    expect(thrown(() => cron("@reboot")).message).toMatch(/^cron\("@reboot"\): @reboot is not a time of the calendar/); // atStart() is (at-start.test.ts)
    expect(thrown(() => cron("abc")).message).toMatch(/^cron\("abc"\) is not a valid cron pattern: /);
    expect(thrown(() => cron("0 0 30 2 *")).message).toBe('cron("0 0 30 2 *") never fires: no date matches its day and month fields');
    expect(thrown(() => cron(42 as never)).message).toBe("cron: the pattern must be a string, got number 42");
  });

  it("rejects an unknown time zone and unknown options", () => {
    expect(thrown(() => cron("* * * * *", { tz: "America/Gotham" })).message).toBe(
      'cron("* * * * *"): unknown time zone "America/Gotham"; use an IANA name such as "Europe/London"',
    );
    expect(thrown(() => cron("* * * * *", { timezone: "UTC" } as never)).message).toBe(
      'cron("* * * * *"): unknown option "timezone"; use tz or params',
    );
  });
});

describe("cron: DST, by hand from the rule", () => {
  const NY = "America/New_York"; // 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST
  const LONDON = "Europe/London"; // 2026-03-29 01:00 GMT -> 02:00 BST; 2026-10-25 02:00 BST -> 01:00 GMT
  const SYDNEY = "Australia/Sydney"; // 2026-10-04 02:00 AEST -> 03:00 AEDT; 2026-04-05 03:00 AEDT -> 02:00 AEST

  it("America/New_York spring forward", () => {
    expect(runs("30 2 * * *", 2, "2026-03-07T12:00:00Z", NY)).toEqual([
      "2026-03-08T07:00:00.000Z", // 02:30 is in the gap: 03:00 EDT
      "2026-03-09T06:30:00.000Z", // 02:30 EDT
    ]);
    expect(runs("0 * * * *", 3, "2026-03-08T05:30:00Z", NY)).toEqual([
      "2026-03-08T06:00:00.000Z", // 01:00 EST
      "2026-03-08T07:00:00.000Z", // 03:00 EDT
      "2026-03-08T08:00:00.000Z", // 04:00 EDT
    ]);
    expect(runs("*/30 * * * *", 3, "2026-03-08T06:10:00Z", NY)).toEqual([
      "2026-03-08T06:30:00.000Z", // 01:30 EST
      "2026-03-08T07:00:00.000Z", // 03:00 EDT
      "2026-03-08T07:30:00.000Z", // 03:30 EDT
    ]);
    // A seconds pattern runs at the change too, not at 03:00:15.
    expect(runs("15 30 2 * * *", 1, "2026-03-08T00:00:00Z", NY)).toEqual(["2026-03-08T07:00:00.000Z"]);
  });

  it("America/New_York spring forward: a list of fixed hours is fixed-time, and never fires twice", () => {
    expect(runs("30 2,14 * * *", 3, "2026-03-07T20:00:00Z", NY)).toEqual([
      "2026-03-08T07:00:00.000Z", // 02:30 -> 03:00 EDT
      "2026-03-08T18:30:00.000Z", // 14:30 EDT
      "2026-03-09T06:30:00.000Z",
    ]);
    // 02:00 (in the gap) and 03:00 are the same instant: one fire.
    expect(runs("0 2,3 * * *", 3, "2026-03-08T05:00:00Z", NY)).toEqual([
      "2026-03-08T07:00:00.000Z",
      "2026-03-09T06:00:00.000Z",
      "2026-03-09T07:00:00.000Z",
    ]);
  });

  it("America/New_York fall back", () => {
    expect(runs("30 1 * * *", 2, "2026-10-31T12:00:00Z", NY)).toEqual([
      "2026-11-01T05:30:00.000Z", // 01:30 EDT, once
      "2026-11-02T06:30:00.000Z", // 01:30 EST the next day
    ]);
    // From between the passes, and from inside the second pass: the next day.
    expect(cron("30 1 * * *", { tz: NY }).next(at("2026-11-01T05:45:00Z"))?.toISOString()).toBe("2026-11-02T06:30:00.000Z");
    expect(cron("30 1 * * *", { tz: NY }).next(at("2026-11-01T06:10:00Z"))?.toISOString()).toBe("2026-11-02T06:30:00.000Z");
    expect(runs("0 * * * *", 4, "2026-11-01T03:30:00Z", NY)).toEqual([
      "2026-11-01T04:00:00.000Z", // 00:00 EDT
      "2026-11-01T05:00:00.000Z", // 01:00 EDT
      "2026-11-01T06:00:00.000Z", // 01:00 EST
      "2026-11-01T07:00:00.000Z", // 02:00 EST
    ]);
    expect(cron("0 * * * *", { tz: NY }).next(at("2026-11-01T05:30:00Z"))?.toISOString()).toBe("2026-11-01T06:00:00.000Z");
  });

  it("Europe/London spring forward and fall back", () => {
    expect(runs("30 1 * * *", 2, "2026-03-28T12:00:00Z", LONDON)).toEqual([
      "2026-03-29T01:00:00.000Z", // 01:30 is in the gap: 02:00 BST
      "2026-03-30T00:30:00.000Z", // 01:30 BST
    ]);
    expect(runs("0 * * * *", 3, "2026-03-28T23:30:00Z", LONDON)).toEqual([
      "2026-03-29T00:00:00.000Z", // 00:00 GMT
      "2026-03-29T01:00:00.000Z", // 02:00 BST
      "2026-03-29T02:00:00.000Z", // 03:00 BST
    ]);
    expect(runs("30 1 * * *", 2, "2026-10-24T12:00:00Z", LONDON)).toEqual([
      "2026-10-25T00:30:00.000Z", // 01:30 BST, once
      "2026-10-26T01:30:00.000Z", // 01:30 GMT
    ]);
    expect(runs("0 * * * *", 4, "2026-10-24T22:30:00Z", LONDON)).toEqual([
      "2026-10-24T23:00:00.000Z", // 00:00 BST
      "2026-10-25T00:00:00.000Z", // 01:00 BST
      "2026-10-25T01:00:00.000Z", // 01:00 GMT
      "2026-10-25T02:00:00.000Z", // 02:00 GMT
    ]);
  });

  it("Australia/Sydney spring forward (October) and fall back (April)", () => {
    expect(runs("30 2 * * *", 2, "2026-10-03T00:00:00Z", SYDNEY)).toEqual([
      "2026-10-03T16:00:00.000Z", // Oct 4 02:30 is in the gap: 03:00 AEDT
      "2026-10-04T15:30:00.000Z", // Oct 5 02:30 AEDT
    ]);
    expect(runs("0 * * * *", 3, "2026-10-03T14:30:00Z", SYDNEY)).toEqual([
      "2026-10-03T15:00:00.000Z", // 01:00 AEST
      "2026-10-03T16:00:00.000Z", // 03:00 AEDT
      "2026-10-03T17:00:00.000Z", // 04:00 AEDT
    ]);
    expect(runs("30 2 * * *", 2, "2026-04-04T00:00:00Z", SYDNEY)).toEqual([
      "2026-04-04T15:30:00.000Z", // Apr 5 02:30 AEDT, once
      "2026-04-05T16:30:00.000Z", // Apr 6 02:30 AEST
    ]);
    expect(runs("0 * * * *", 4, "2026-04-04T13:30:00Z", SYDNEY)).toEqual([
      "2026-04-04T14:00:00.000Z", // 01:00 AEDT
      "2026-04-04T15:00:00.000Z", // 02:00 AEDT
      "2026-04-04T16:00:00.000Z", // 02:00 AEST
      "2026-04-04T17:00:00.000Z", // 03:00 AEST
    ]);
  });

  it("America/Nuuk: a gap across midnight (Sat 23:00 -02 -> Sun 00:00 -01) still runs at the change", () => {
    // croner 11 alone drops the 2026-03-28 fire (its gap rule stops at the end of the local day).
    expect(runs("30 23 * * *", 3, "2026-03-27T12:00:00Z", "America/Nuuk")).toEqual([
      "2026-03-28T01:30:00.000Z", // Mar 27 23:30 -02
      "2026-03-29T01:00:00.000Z", // Mar 28 23:30 is in the gap: the change (Mar 29 00:00 -01)
      "2026-03-30T00:30:00.000Z", // Mar 29 23:30 -01
    ]);
    const croner = new Cron("30 23 * * *", { timezone: "America/Nuuk", fixedTimeRule: "no-wildcard" });
    expect(croner.nextRun(at("2026-03-28T12:00:00Z"))?.toISOString()).toBe("2026-03-30T00:30:00.000Z");
    // 23:00 (in the gap) and 00:00 the next day are the same instant: one fire.
    expect(runs("0 0,23 * * *", 3, "2026-03-28T12:00:00Z", "America/Nuuk")).toEqual([
      "2026-03-29T01:00:00.000Z",
      "2026-03-30T00:00:00.000Z", // Mar 29 23:00 -01
      "2026-03-30T01:00:00.000Z", // Mar 30 00:00 -01
    ]);
    expect(isoOf(nextRuns(crontab({ hour: 23, minute: 30, tz: "America/Nuuk" }), 1, at("2026-03-28T12:00:00Z")))).toEqual([
      "2026-03-29T01:00:00.000Z",
    ]);
  });

  it("agrees with croner 11 on fixed-time patterns wherever the gap stays within the local day", () => {
    const zones = [NY, LONDON, SYDNEY, "America/Santiago", "Australia/Lord_Howe"];
    const patterns = ["30 2 * * *", "0 0 * * *", "30 1 * * *", "0 1-3 * * 0", "10 2 8-14 * 0"];
    const end = at("2027-01-01T00:00:00Z").getTime();
    const mismatches: string[] = [];
    let compared = 0;
    for (const tz of zones) {
      for (const pattern of patterns) {
        const ours = cron(pattern, { tz });
        const croner = new Cron(pattern, { timezone: tz, fixedTimeRule: "no-wildcard" });
        for (let t: Date | null = at("2026-01-01T00:00:00Z"); t && t.getTime() < end; compared++) {
          const a = ours.next(t);
          const b = croner.nextRun(t);
          if (a?.getTime() !== b?.getTime()) mismatches.push(`${tz} ${pattern} after ${t.toISOString()}`);
          t = a;
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(5000);
  });
});
