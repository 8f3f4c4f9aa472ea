import { CronPattern } from "croner";
import { describe, expect, it } from "vitest";
import { crontab, isSchedule, nextRuns, withDefaultTimezone } from "../../src/schedule/index.js";
import { at, isoOf, thrown } from "./helpers.js";



describe("crontab: the seed's field sets", () => {
  it("expands lists, ranges and steps", () => {
    expect(crontab({ month: "1,4,*/6,8-9" }).values.month).toEqual([1, 4, 7, 8, 9]);
    expect(crontab({ day: "*/10" }).values.day).toEqual([1, 11, 21, 31]);
    expect(crontab({ hour: "8-9,*/6,1,4" }).values.hour).toEqual([0, 1, 4, 6, 8, 9, 12, 18]);
    expect(crontab({ minute: "*/16" }).values.minute).toEqual([0, 16, 32, 48]);
    expect(crontab({ minute: "10-30/10" }).values.minute).toEqual([10, 20, 30]);
    expect(crontab({ dayOfWeek: "0,2" }).values.dayOfWeek).toEqual([0, 2]);
  });

  it("reads 0 and 7 as Sunday, and 5-7 as Fri, Sat, Sun", () => {
    expect(crontab({ dayOfWeek: 7 }).values.dayOfWeek).toEqual([0]);
    expect(crontab({ dayOfWeek: "0,7" }).values.dayOfWeek).toEqual([0]);
    expect(crontab({ dayOfWeek: "5-7" }).values.dayOfWeek).toEqual([0, 5, 6]);
  });

  it("takes month and day names, short or in full, in any case", () => {
    expect(crontab({ dayOfWeek: "mon-fri" }).values.dayOfWeek).toEqual([1, 2, 3, 4, 5]);
    expect(crontab({ dayOfWeek: "Sunday,SAT" }).values.dayOfWeek).toEqual([0, 6]);
    expect(crontab({ month: "jan,Dec" }).values.month).toEqual([1, 12]);
    expect(crontab({ month: "jun-aug" }).fields.month).toBe("6-8");
  });

  it("defaults omitted fields finer than the finest given to their minimum, coarser ones to *", () => {
    expect(crontab({ hour: "*/2" }).pattern).toBe("0 0 */2 * * *");
    expect(crontab({ minute: 30 }).pattern).toBe("0 30 * * * *");
    expect(crontab({ dayOfWeek: "mon" }).pattern).toBe("0 0 0 * * 1");
    expect(crontab({ month: 1 }).pattern).toBe("0 0 0 1 1 *");
    expect(crontab({ day: 15, hour: 6 }).pattern).toBe("0 0 6 15 * *");
    expect(crontab({ second: 30 }).pattern).toBe("30 * * * * *");
    expect(crontab({}).pattern).toBe("0 * * * * *");
  });
});

describe("crontab: field sets agree with croner's own parse", () => {
  it("expands random valid fields exactly as croner does", () => {
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const ranges = { second: [0, 59], minute: [0, 59], hour: [0, 23], day: [1, 31], month: [1, 12], dayOfWeek: [0, 7] } as const;
    const piece = (min: number, max: number): string => {
      const a = min + rand(max - min + 1);
      const b = a + rand(max - a + 1);
      const step = 1 + rand(Math.min(max - min, 12));
      return [`${a}`, `${a}-${b}`, `*/${step}`, `${a}-${b}/${step}`][rand(4)]!;
    };
    let checked = 0;
    for (let i = 0; i < 300; i++) {
      const fields = Object.fromEntries(
        Object.entries(ranges).map(([name, [min, max]]) => [name, Array.from({ length: 1 + rand(3) }, () => piece(min, max)).join(",")]),
      );
      const s = crontab(fields);
      const croner = new CronPattern(s.pattern, "UTC");
      const set = (bits: number[], offset: number): number[] => bits.flatMap((bit, i) => (bit ? [i + offset] : []));
      expect(s.values.second).toEqual(set(croner.second, 0));
      expect(s.values.minute).toEqual(set(croner.minute, 0));
      expect(s.values.hour).toEqual(set(croner.hour, 0));
      expect(s.values.day).toEqual(set(croner.day, 1));
      expect(s.values.month).toEqual(set(croner.month, 1));
      expect(s.values.dayOfWeek).toEqual(set(croner.dayOfWeek, 0));
      checked++;
    }
    expect(checked).toBe(300);
  });
});

describe("crontab: next()", () => {
  it("fires every 2 hours on the hour for { hour: '*/2' }", () => {
    const s = crontab({ hour: "*/2" });
    expect(isoOf(nextRuns(s, 3, at("2026-01-01T01:30:00Z")))).toEqual([
      "2026-01-01T02:00:00.000Z",
      "2026-01-01T04:00:00.000Z",
      "2026-01-01T06:00:00.000Z",
    ]);
    expect(crontab({ hour: "*/2", minute: "*" }).next(at("2026-01-01T02:00:00Z"))?.toISOString()).toBe("2026-01-01T02:01:00.000Z");
  });

  it("fires at 08:00 daily for { hour: 8, minute: 0 }", () => {
    expect(isoOf(nextRuns(crontab({ hour: 8, minute: 0 }), 2, at("2026-01-01T08:00:00Z")))).toEqual([
      "2026-01-02T08:00:00.000Z",
      "2026-01-03T08:00:00.000Z",
    ]);
  });

  it("agrees with the expanded sets: minutes, hours, days, months", () => {
    expect(isoOf(nextRuns(crontab({ hour: 8, minute: "*/16" }), 5, at("2026-01-01T07:59:00Z")))).toEqual([
      "2026-01-01T08:00:00.000Z",
      "2026-01-01T08:16:00.000Z",
      "2026-01-01T08:32:00.000Z",
      "2026-01-01T08:48:00.000Z",
      "2026-01-02T08:00:00.000Z",
    ]);
    const hours = nextRuns(crontab({ hour: "8-9,*/6,1,4", minute: 0 }), 8, at("2025-12-31T23:30:00Z"));
    expect(hours.map((d) => d.getUTCHours())).toEqual([0, 1, 4, 6, 8, 9, 12, 18]);
    expect(isoOf(nextRuns(crontab({ day: "*/10", hour: 0, minute: 0 }), 5, at("2025-12-31T12:00:00Z")))).toEqual([
      "2026-01-01T00:00:00.000Z",
      "2026-01-11T00:00:00.000Z",
      "2026-01-21T00:00:00.000Z",
      "2026-01-31T00:00:00.000Z",
      "2026-02-01T00:00:00.000Z",
    ]);
    const months = nextRuns(crontab({ month: "1,4,*/6,8-9", day: 1, hour: 0, minute: 0 }), 6, at("2025-12-31T12:00:00Z"));
    expect(isoOf(months)).toEqual([
      "2026-01-01T00:00:00.000Z",
      "2026-04-01T00:00:00.000Z",
      "2026-07-01T00:00:00.000Z",
      "2026-08-01T00:00:00.000Z",
      "2026-09-01T00:00:00.000Z",
      "2027-01-01T00:00:00.000Z",
    ]);
  });

  it("fires on Sunday for 7 and on Fri, Sat, Sun for 5-7", () => {
    // 2026-01-01 is a Thursday.
    expect(isoOf(nextRuns(crontab({ dayOfWeek: 7, hour: 12, minute: 0 }), 2, at("2026-01-01T00:00:00Z")))).toEqual([
      "2026-01-04T12:00:00.000Z",
      "2026-01-11T12:00:00.000Z",
    ]);
    expect(isoOf(nextRuns(crontab({ dayOfWeek: "5-7", hour: 0, minute: 0 }), 4, at("2026-01-01T00:00:00Z")))).toEqual([
      "2026-01-02T00:00:00.000Z",
      "2026-01-03T00:00:00.000Z",
      "2026-01-04T00:00:00.000Z",
      "2026-01-09T00:00:00.000Z",
    ]);
    expect(isoOf(nextRuns(crontab({ dayOfWeek: "0,2", hour: 0, minute: 0 }), 3, at("2026-01-01T00:00:00Z")))).toEqual([
      "2026-01-04T00:00:00.000Z",
      "2026-01-06T00:00:00.000Z",
      "2026-01-11T00:00:00.000Z",
    ]);
  });

  it("fires when either day or dayOfWeek matches if both are given (cron's OR rule)", () => {
    // 2026-02-01 is a Sunday, 2026-02-02 a Monday.
    const s = crontab({ day: 1, dayOfWeek: "mon", hour: 8, minute: 0 });
    expect(isoOf(nextRuns(s, 4, at("2026-01-31T00:00:00Z")))).toEqual([
      "2026-02-01T08:00:00.000Z",
      "2026-02-02T08:00:00.000Z",
      "2026-02-09T08:00:00.000Z",
      "2026-02-16T08:00:00.000Z",
    ]);
  });

  it("fires on seconds when second is given", () => {
    expect(isoOf(nextRuns(crontab({ second: "*/20" }), 3, at("2026-01-01T00:00:00Z")))).toEqual([
      "2026-01-01T00:00:20.000Z",
      "2026-01-01T00:00:40.000Z",
      "2026-01-01T00:01:00.000Z",
    ]);
  });

  it("reads the fields in tz, by default UTC", () => {
    const rome = crontab({ hour: 8, minute: 0, tz: "Europe/Rome" });
    expect(rome.timezone).toBe("Europe/Rome");
    expect(rome.next(at("2026-01-10T00:00:00Z"))?.toISOString()).toBe("2026-01-10T07:00:00.000Z");
    expect(rome.next(at("2026-07-10T00:00:00Z"))?.toISOString()).toBe("2026-07-10T06:00:00.000Z");
    expect(crontab({ hour: 8 }).timezone).toBe("UTC");
  });

  it("copes with month ends: day 31 only in long months", () => {
    expect(isoOf(nextRuns(crontab({ day: 31, hour: 0, minute: 0 }), 3, at("2026-01-31T12:00:00Z")))).toEqual([
      "2026-03-31T00:00:00.000Z",
      "2026-05-31T00:00:00.000Z",
      "2026-07-31T00:00:00.000Z",
    ]);
  });
});

describe("crontab: DST", () => {
  it("America/New_York spring forward: 02:30 runs at 03:00 EDT; hourly keeps every real hour", () => {
    const daily = crontab({ hour: 2, minute: 30, tz: "America/New_York" });
    expect(isoOf(nextRuns(daily, 3, at("2026-03-07T00:00:00Z")))).toEqual([
      "2026-03-07T07:30:00.000Z", // 02:30 EST
      "2026-03-08T07:00:00.000Z", // 02:30 does not exist: 03:00 EDT, the change
      "2026-03-09T06:30:00.000Z", // 02:30 EDT
    ]);
    const hourly = crontab({ minute: 0, tz: "America/New_York" });
    expect(isoOf(nextRuns(hourly, 3, at("2026-03-08T05:30:00Z")))).toEqual([
      "2026-03-08T06:00:00.000Z", // 01:00 EST
      "2026-03-08T07:00:00.000Z", // 03:00 EDT
      "2026-03-08T08:00:00.000Z", // 04:00 EDT
    ]);
  });

  it("America/New_York fall back: 01:30 runs once; hourly fires in both 01:00 hours", () => {
    const daily = crontab({ hour: 1, minute: 30, tz: "America/New_York" });
    expect(isoOf(nextRuns(daily, 2, at("2026-10-31T12:00:00Z")))).toEqual([
      "2026-11-01T05:30:00.000Z", // 01:30 EDT
      "2026-11-02T06:30:00.000Z", // 01:30 EST the next day; not 01:30 EST on Nov 1
    ]);
    const hourly = crontab({ minute: 0, tz: "America/New_York" });
    expect(isoOf(nextRuns(hourly, 4, at("2026-11-01T03:30:00Z")))).toEqual([
      "2026-11-01T04:00:00.000Z", // 00:00 EDT
      "2026-11-01T05:00:00.000Z", // 01:00 EDT
      "2026-11-01T06:00:00.000Z", // 01:00 EST
      "2026-11-01T07:00:00.000Z", // 02:00 EST
    ]);
  });

  it("treats a minute step inside a fixed hour as an interval: skipped in the gap, both passes in autumn", () => {
    const spring = crontab({ hour: 2, minute: "*/15", tz: "America/New_York" });
    expect(spring.next(at("2026-03-08T06:00:00Z"))?.toISOString()).toBe("2026-03-09T06:00:00.000Z");
    const autumn = crontab({ hour: 1, minute: "*/30", tz: "America/New_York" });
    expect(isoOf(nextRuns(autumn, 5, at("2026-11-01T04:30:00Z")))).toEqual([
      "2026-11-01T05:00:00.000Z",
      "2026-11-01T05:30:00.000Z",
      "2026-11-01T06:00:00.000Z",
      "2026-11-01T06:30:00.000Z",
      "2026-11-02T06:00:00.000Z",
    ]);
  });
});

describe("crontab: text", () => {
  it("describes the fields readably", () => {
    expect(crontab({ hour: "*/2", minute: "*" }).describe()).toBe("every minute of every 2nd hour (UTC)");
    expect(crontab({ hour: "*/2" }).describe()).toBe("at minute 0 past every 2nd hour (UTC)");
    expect(crontab({ hour: "*/2", minute: 0 }).describe()).toBe("at minute 0 past every 2nd hour (UTC)");
    expect(crontab({ hour: 8, minute: 0, tz: "Europe/Rome" }).describe()).toBe("at 08:00 (Europe/Rome)");
    expect(crontab({ minute: "*/15", hour: "8-17", dayOfWeek: "mon-fri" }).describe()).toBe(
      "every 15th minute of hours 8-17 on Mon-Fri (UTC)",
    );
    expect(crontab({ day: 1, dayOfWeek: "mon", hour: 8, minute: 0 }).describe()).toBe("at 08:00 on day 1 of the month or on Mon (UTC)");
    expect(crontab({ month: "1,4,*/6,8-9", day: "*/10", hour: 0, minute: 0 }).describe()).toBe(
      "at 00:00 on day 1, 11, 21 and 31 of the month in Jan, Apr and Jul-Sep (UTC)",
    );
    expect(crontab({ second: 30 }).describe()).toBe("at second 30 of every minute (UTC)");
    expect(crontab({}).describe()).toBe("every minute (UTC)");
  });

  it("shows the source form, fields in the order written", () => {
    expect(String(crontab({ hour: "*/2" }))).toBe('crontab({ hour: "*/2" })');
    expect(String(crontab({ hour: 8, minute: 0 }))).toBe("crontab({ hour: 8, minute: 0 })");
    expect(String(crontab({ tz: "europe/london", minute: 5 }))).toBe('crontab({ minute: 5, tz: "Europe/London" })');
    expect(String(crontab())).toBe("crontab({})");
  });

  it("is a branded calendar schedule carrying its params", () => {
    const s = crontab({ minute: 0 }, { params: { full: true } });
    expect(isSchedule(s)).toBe(true);
    expect(s.kind).toBe("crontab");
    expect(s.params).toEqual({ full: true });
  });
});

describe("crontab: default time zone", () => {
  it("applies a default zone when tz was not given, and keeps an explicit tz", () => {
    const plain = crontab({ hour: 8, minute: 0 });
    const rome = withDefaultTimezone(plain, "Europe/Rome");
    expect(rome).not.toBe(plain);
    expect(rome.timezone).toBe("Europe/Rome");
    expect(rome.timezoneExplicit).toBe(false);
    expect(rome.next(at("2026-01-10T00:00:00Z"))?.toISOString()).toBe("2026-01-10T07:00:00.000Z");
    expect(String(rome)).toBe("crontab({ hour: 8, minute: 0 })");
    expect(withDefaultTimezone(rome, "Asia/Tokyo").timezone).toBe("Asia/Tokyo");
    const london = crontab({ hour: 8, tz: "Europe/London" });
    expect(withDefaultTimezone(london, "Europe/Rome")).toBe(london);
  });

  it("rejects an unknown default zone", () => {
    expect(thrown(() => withDefaultTimezone(crontab({}), "Nowhere/Land")).message).toBe(
      'default time zone: unknown time zone "Nowhere/Land"; use an IANA name such as "Europe/London"',
    );
  });
});

describe("crontab: invalid fields name the field, the piece and the range", () => {
  it.each([
    [{ minute: "61" }, 'crontab: minute "61" is out of range 0-59'],
    [{ minute: 61 }, 'crontab: minute "61" is out of range 0-59'],
    [{ minute: "0-61" }, 'crontab: minute "0-61" is out of range 0-59'],
    [{ minute: "1,61" }, 'crontab: minute "61" (in "1,61") is out of range 0-59'],
    [{ hour: "25" }, 'crontab: hour "25" is out of range 0-23'],
    [{ day: 0 }, 'crontab: day "0" is out of range 1-31'],
    [{ month: 13 }, 'crontab: month "13" is out of range 1-12'],
    [{ dayOfWeek: 8 }, 'crontab: dayOfWeek "8" is out of range 0-7'],
    [{ minute: "*/0" }, 'crontab: minute "*/0" has step 0; the step must be 1 or more, e.g. "*/5"'],
    [{ minute: "*/61" }, 'crontab: minute "*/61" has step 61, larger than the range 0-59'],
    [{ minute: "5/15" }, 'crontab: minute "5/15" needs a range before the step; write "5-59/15" (from 5 on) or "*/15"'],
    [{ minute: 1.5 }, 'crontab: minute "1.5" is not a whole number; write a whole minute from 0 to 59'],
    [{ minute: "" }, 'crontab: minute is empty; write "*" for every minute, or leave it out'],
    [{ minute: "1,,2" }, 'crontab: minute "1,,2" has an empty list item; remove the extra comma'],
    [{ dayOfWeek: "fri-mon" }, 'crontab: dayOfWeek "fri-mon" runs backwards (5 > 1); write the smaller value first, or a list such as "5-6,0-1"'],
  ])("%j", (fields, message) => {
    expect(thrown(() => crontab(fields)).message).toBe(message);
  });

  it("rejects garbage and says what a field takes", () => {
    const e = thrown(() => crontab({ minute: "abc" }));
    expect(e.message).toBe(
      'crontab: minute "abc" is not a number; write a number 0-59, "*", "a-b", "*/n" or "a-b/n", or a comma-separated list of them',
    );
    expect(e.hint).toContain("cron()");
    expect(thrown(() => crontab({ month: "foo" })).message).toMatch(/^crontab: month "foo" is not a number or a name \(jan-dec\); /);
    expect(thrown(() => crontab({ day: "L" })).message).toMatch(/^crontab: day "L" is not a number; /);
    expect(thrown(() => crontab({ hour: "1-x" })).message).toMatch(/^crontab: hour "1-x" has "x", which is not a number; /);
    expect(thrown(() => crontab({ hour: "?" })).message).toMatch(/^crontab: hour "\?" is not valid; /);
    expect(thrown(() => crontab({ hour: true as never })).message).toBe("crontab: hour must be a number or a string, got boolean true");
  });

  it("rejects unknown field names, suggesting the right one", () => {
    expect(thrown(() => crontab({ hours: 2 } as never)).message).toBe('crontab: unknown field "hours"; write hour instead');
    expect(thrown(() => crontab({ day_of_week: 1 } as never)).message).toBe('crontab: unknown field "day_of_week"; write dayOfWeek instead');
    expect(thrown(() => crontab({ often: 1 } as never)).message).toBe(
      'crontab: unknown field "often"; the fields are second, minute, hour, day, month, dayOfWeek or tz',
    );
    expect(thrown(() => crontab("0 8 * * *" as never)).message).toMatch(/^crontab: expected an object of fields/);
  });

  it("rejects a schedule that never fires", () => {
    expect(thrown(() => crontab({ day: 30, month: 2 })).message).toBe(
      "crontab({ day: 30, month: 2 }) never fires: no date matches its day and month fields",
    );
  });

  it("rejects an unknown time zone with a hint", () => {
    const e = thrown(() => crontab({ hour: 8, tz: "Mars/Olympus" }));
    expect(e.message).toBe('crontab: unknown time zone "Mars/Olympus"; use an IANA name such as "Europe/London"');
    expect(e.hint).toContain("IANA");
    expect(e.cause).toBeInstanceOf(RangeError);
  });
});
