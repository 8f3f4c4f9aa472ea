/**
 * Round trip on real crontab files: every line is read as `fluid import crontab` and the
 * config's `crontabs` read it, made into the schedule fluid fires (`cron(pattern, { tz })`),
 * and its next 20 fire times compared, in the same time zone, with
 * - cron-parser (a cron library fluid does not schedule with), given the line as written
 *   (crontab-cron-parser.test.ts);
 * - a reference written here from cron's own matching rule (cronie's entry.c and cron.c:
 *   the five bit sets, Sunday as 0 or 7, the day rule "a field starting with * makes both
 *   day fields required, else either day field fires"), independent of our reader.
 * Ordinary days only (from mid-May: no fire of these lines falls on a DST change within 20
 * fires); the DST days are checked by hand in crontab-dst.test.ts.
 */
import { describe, expect, it } from "vitest";
import { parseCrontab } from "../../src/schedule/crontab-file.js";
import { crontabToCommandSpecs, type CommandSpec } from "../../src/schedule/crontab-commands.js";
import { specSchedule } from "../../src/config/crontabs.js";
import { nextRuns } from "../../src/schedule/next-runs.js";
import { FROM, N, NICKNAMES, ZONES, files, iso } from "./crontab-fixtures.js";

// --- cron's rule, written from its source, independent of src/ ---------------------------

const RANGES = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]] as const;
const NAMES = [[], [], [], ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]];

function bits(text: string, field: number): Set<number> {
  const [low, high] = RANGES[field]!;
  const num = (t: string): number => (/^\d+$/.test(t) ? Number(t) : NAMES[field]!.indexOf(t.toLowerCase()) + (field === 3 ? 1 : 0));
  const out = new Set<number>();
  for (const piece of text.split(",")) {
    const [range, step = "1"] = piece.split("/");
    const [a, b] = range === "*" ? [low, high] : range!.includes("-") ? range!.split("-").map(num) : [num(range!), num(range!)];
    for (let v = a!; v <= b!; v += Number(step)) out.add(field === 4 && v === 7 ? 0 : v);
  }
  return out;
}

/** The next n wall times (local calendar written as UTC ms) after wall time `from`, by cron's rule. */
function cronReference(line: string, fromWall: number, n: number): number[] {
  const f = (NICKNAMES[line] ?? line).split(" ");
  const [min, hour, dom, mon, dow] = f.map(bits);
  const both = f[2]!.startsWith("*") || f[4]!.startsWith("*");
  const out: number[] = [];
  const day0 = Math.floor(fromWall / 86_400_000) * 86_400_000;
  for (let day = day0; out.length < n && day < day0 + 200 * 366 * 86_400_000; day += 86_400_000) {
    const d = new Date(day);
    if (!mon!.has(d.getUTCMonth() + 1)) continue;
    const domOk = dom!.has(d.getUTCDate());
    const dowOk = dow!.has(d.getUTCDay());
    if (!(both ? domOk && dowOk : domOk || dowOk)) continue;
    for (const h of [...hour!].sort((a, b) => a - b)) {
      for (const m of [...min!].sort((a, b) => a - b)) {
        const t = day + h * 3_600_000 + m * 60_000;
        if (t > fromWall && out.length < n) out.push(t);
      }
    }
  }
  return out;
}

/** The wall time of an instant in `tz`, written as UTC ms (Intl, not our wall-clock code). */
function wall(ms: number, tz: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric" })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, Number(p.value)]),
  );
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!);
}

// -------------------------------------------------------------------------------------------

describe("crontab round trip: the next 20 fire times of every imported line equal cron's", () => {
  const all = files().map(({ name, text }) => {
    const parsed = parseCrontab(text, { system: name !== "real-world.cron" });
    return { name, parsed, specs: crontabToCommandSpecs(parsed) };
  });
  const cronSpecs = (specs: CommandSpec[]) => specs.filter((s) => s.schedule.kind === "cron") as Array<CommandSpec & { schedule: { kind: "cron" } }>;

  it("reads the fixtures: 13 files, 60+ lines, every cron.d and /etc/crontab line carried over", () => {
    const lines = all.reduce((sum, f) => sum + f.specs.length + f.parsed.problems.length, 0);
    expect(all).toHaveLength(13);
    expect(lines).toBeGreaterThanOrEqual(60);
    for (const f of all.filter((f) => f.name !== "real-world.cron")) {
      expect(f.parsed.problems, f.name).toEqual([]);
      expect(f.parsed.system, f.name).toBe(true);
      expect(f.specs.length, f.name).toBeGreaterThan(0);
    }
    const real = all.find((f) => f.name === "real-world.cron")!;
    expect(real.specs.length).toBeGreaterThanOrEqual(30);
    expect(real.parsed.problems.map((p) => p.line)).toEqual([53, 54, 55, 56]);
  });

  for (const zone of ZONES) {
    it(`equals cron's rule in ${zone}`, () => {
      let compared = 0;
      for (const { name, specs } of all) {
        for (const spec of cronSpecs(specs)) {
          const tz = spec.schedule.tz ?? zone;
          const ours = nextRuns(specSchedule(spec, zone), N, FROM).map((d) => d.getTime());
          const where = `${name}:${spec.source.line} "${spec.schedule.source}" in ${tz}`;
          expect(ours.map((t) => iso(wall(t, tz))), where).toEqual(cronReference(spec.schedule.source, wall(FROM.getTime(), tz), N).map(iso));
          compared++;
        }
      }
      expect(compared).toBeGreaterThanOrEqual(60);
    });
  }

  it("cron's day rule, by hand: '0 0 */2 * 1' is odd days that are Mondays; '0 0 13 * 5' the 13th or Fridays", () => {
    const specs = crontabToCommandSpecs(parseCrontab("0 0 */2 * 1 a\n0 0 13 * 5 b\n0 0 * * 1 c\n", { system: false }));
    const days = (i: number) => nextRuns(specSchedule(specs[i]!, "UTC"), 4, new Date("2026-06-01T00:00:00Z")).map((d) => d.toISOString().slice(0, 10));
    expect(days(0)).toEqual(["2026-06-15", "2026-06-29", "2026-07-13", "2026-07-27"]); // Mondays on odd days
    expect(days(1)).toEqual(["2026-06-05", "2026-06-12", "2026-06-13", "2026-06-19"]); // Fridays and the 13th
    expect(days(2)).toEqual(["2026-06-08", "2026-06-15", "2026-06-22", "2026-06-29"]);
  });
});
