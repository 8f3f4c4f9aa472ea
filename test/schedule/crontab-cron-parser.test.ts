/**
 * The next 20 fire times of every line of the crontab fixtures, as fluid fires them, equal
 * those of cron-parser (a cron library fluid does not schedule with) for the line as written,
 * in the same zone. Beside crontab-parity.test.ts (cron's rule itself, every zone), in its own
 * file because cron-parser is slow (it walks day by day through luxon: 0.1-0.3 s a line).
 */
import parser from "cron-parser";
import { describe, expect, it } from "vitest";
import { parseCrontab } from "../../src/schedule/crontab-file.js";
import { crontabToCommandSpecs, type CommandSpec } from "../../src/schedule/crontab-commands.js";
import { specSchedule } from "../../src/config/crontabs.js";
import { nextRuns } from "../../src/schedule/next-runs.js";
import { FROM, N, NICKNAMES, ZONES, files, iso } from "./crontab-fixtures.js";

/**
 * Lines where cron-parser's day rule is not cron's: cron-parser ORs the two day fields unless
 * one holds every value, while cron ANDs them when either *starts with* "*". For these the
 * reference (cron's rule) is the truth, and cron-parser is shown to differ.
 */
const CRON_PARSER_DAY_RULE = new Set(["0 0 */2 * 1", "0 12 1-7 * */2"]);

function cronParserTimes(line: string, tz: string, n: number): number[] {
  const it = parser.parseExpression(NICKNAMES[line] ?? line, { currentDate: FROM, ...(tz === "UTC" ? { utc: true } : { tz }) });
  return Array.from({ length: n }, () => it.next().toDate().getTime());
}

describe("crontab round trip against cron-parser", () => {
  const all = files().map(({ name, text }) => ({ name, specs: crontabToCommandSpecs(parseCrontab(text, { system: name !== "real-world.cron" })) }));
  const cronSpecs = (specs: CommandSpec[]) => specs.filter((s) => s.schedule.kind === "cron") as Array<CommandSpec & { schedule: { kind: "cron" } }>;

  // cron-parser walks day by day through luxon (0.1-0.3 s per line, seconds for a leap day):
  // every line is compared in one of the zones in turn (its CRON_TZ when it has one), so each
  // zone sees a quarter of the lines.
  it("equals cron-parser: every line, in the zones in turn", () => {
    let compared = 0;
    let i = 0;
    for (const { name, specs } of all) {
      for (const spec of cronSpecs(specs)) {
        const zones = [spec.schedule.tz ?? (spec.schedule.source === "0 0 29 2 *" ? "UTC" : ZONES[i++ % ZONES.length]!)];
        for (const tz of zones) {
          const ours = nextRuns(specSchedule(spec, tz), N, FROM).map((d) => d.getTime());
          const theirs = cronParserTimes(spec.schedule.source, tz, N);
          const where = `${name}:${spec.source.line} "${spec.schedule.source}" in ${tz}`;
          if (CRON_PARSER_DAY_RULE.has(spec.schedule.source)) expect(ours, where).not.toEqual(theirs);
          else expect(ours.map(iso), where).toEqual(theirs.map(iso));
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThanOrEqual(60);
  });

});
