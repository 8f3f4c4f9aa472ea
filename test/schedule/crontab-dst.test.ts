/**
 * Imported crontab lines on DST change days, checked by hand against Vixie cron's rule
 * (cronie cron.c: the daemon keeps a virtual clock in local time; when the clock jumps forward
 * by less than 3 hours it runs the "wildcard" jobs (minute or hour field starting with "*")
 * for the current minute only, and the fixed-time jobs of every skipped minute right after the
 * jump; when it goes back it runs the wildcard jobs as the minutes come (so twice in the
 * repeated hour) and the fixed-time jobs not again until the clock passes where it was).
 *
 * 2026 changes: Europe/London 29 March 01:00 GMT -> 02:00 BST (01:00Z) and 25 October
 * 02:00 BST -> 01:00 GMT (01:00Z); America/New_York 8 March 02:00 EST -> 03:00 EDT (07:00Z)
 * and 1 November 02:00 EDT -> 01:00 EST (06:00Z).
 */
import { describe, expect, it } from "vitest";
import { parseCrontab } from "../../src/schedule/crontab-file.js";
import { crontabToCommandSpecs } from "../../src/schedule/crontab-commands.js";
import { specSchedule } from "../../src/config/crontabs.js";
import { nextRuns } from "../../src/schedule/next-runs.js";

/** The next `n` fires (UTC, to the minute) of a crontab line read in `tz` (as CRON_TZ). */
function fires(line: string, tz: string, from: string, n: number): string[] {
  const [spec] = crontabToCommandSpecs(parseCrontab(`CRON_TZ=${tz}\n${line} job\n`, { system: false }));
  return nextRuns(specSchedule(spec!, "UTC"), n, new Date(from)).map((d) => d.toISOString().slice(0, 16));
}

describe("Europe/London, spring forward (29 March 2026, 01:00 GMT -> 02:00 BST)", () => {
  const from = "2026-03-28T12:00:00Z";
  it("a fixed-time job in the skipped hour runs once, right after the jump (02:00 BST), as cron runs it", () => {
    expect(fires("30 1 * * *", "Europe/London", from, 2)).toEqual(["2026-03-29T01:00", "2026-03-30T00:30"]);
    expect(fires("0 1 * * *", "Europe/London", from, 2)).toEqual(["2026-03-29T01:00", "2026-03-30T00:00"]);
  });
  it("a wildcard job skips the minutes that do not exist and is not doubled after the jump", () => {
    expect(fires("30 * * * *", "Europe/London", "2026-03-29T00:00:00Z", 2)).toEqual(["2026-03-29T00:30", "2026-03-29T01:30"]);
    expect(fires("*/20 * * * *", "Europe/London", "2026-03-29T00:30:00Z", 3)).toEqual(["2026-03-29T00:40", "2026-03-29T01:00", "2026-03-29T01:20"]);
  });
  it("differs from cron for a step on a range in the hour field ('0 1-23/2'): cron calls it fixed-time, fluid an interval", () => {
    // cron (no "*" in minute or hour) runs the 01:00 fire at 02:00 BST (01:00Z); fluid's
    // cron() treats any step as an interval pattern and skips it (docs/crontab.md).
    expect(fires("0 1-23/2 * * *", "Europe/London", "2026-03-28T23:30:00Z", 2)).toEqual(["2026-03-29T02:00", "2026-03-29T04:00"]);
  });
});

describe("Europe/London, fall back (25 October 2026, 02:00 BST -> 01:00 GMT)", () => {
  const from = "2026-10-24T12:00:00Z";
  it("a fixed-time job in the repeated hour runs once, in its first pass", () => {
    expect(fires("30 1 * * *", "Europe/London", from, 2)).toEqual(["2026-10-25T00:30", "2026-10-26T01:30"]);
    expect(fires("0 2 * * *", "Europe/London", from, 2)).toEqual(["2026-10-25T02:00", "2026-10-26T02:00"]);
  });
  it("a wildcard job runs in both passes of the repeated hour, as cron runs it", () => {
    expect(fires("*/30 * * * *", "Europe/London", "2026-10-24T23:50:00Z", 5)).toEqual([
      "2026-10-25T00:00", "2026-10-25T00:30", "2026-10-25T01:00", "2026-10-25T01:30", "2026-10-25T02:00",
    ]);
  });
});

describe("America/New_York, spring forward (8 March 2026, 02:00 EST -> 03:00 EDT)", () => {
  const from = "2026-03-07T12:00:00Z";
  it("a fixed-time job in the skipped hour runs at 03:00 EDT, the next day at its time", () => {
    expect(fires("30 2 * * *", "America/New_York", from, 2)).toEqual(["2026-03-08T07:00", "2026-03-09T06:30"]);
    expect(fires("0 2 * * *", "America/New_York", from, 2)).toEqual(["2026-03-08T07:00", "2026-03-09T06:00"]);
  });
  it("an hourly wildcard job has no 02:15 that day and no extra run", () => {
    expect(fires("15 * * * *", "America/New_York", "2026-03-08T06:00:00Z", 2)).toEqual(["2026-03-08T06:15", "2026-03-08T07:15"]);
  });
  it("a weekday job on the change day is not lost (Sunday fixed-time at 02:30)", () => {
    expect(fires("30 2 * * 0", "America/New_York", from, 2)).toEqual(["2026-03-08T07:00", "2026-03-15T06:30"]);
  });
});

describe("America/New_York, fall back (1 November 2026, 02:00 EDT -> 01:00 EST)", () => {
  it("a fixed-time job in the repeated hour runs once (01:30 EDT)", () => {
    expect(fires("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2)).toEqual(["2026-11-01T05:30", "2026-11-02T06:30"]);
  });
  it("a wildcard job runs in both passes", () => {
    expect(fires("*/30 * * * *", "America/New_York", "2026-11-01T04:50:00Z", 5)).toEqual([
      "2026-11-01T05:00", "2026-11-01T05:30", "2026-11-01T06:00", "2026-11-01T06:30", "2026-11-01T07:00",
    ]);
  });
});
