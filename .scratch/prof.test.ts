import { it } from "vitest";
import parser from "cron-parser";
import { cron } from "../src/schedule/cron.js";
import { nextRuns } from "../src/schedule/next-runs.js";
const FROM = new Date("2026-05-10T12:34:00Z");
it("prof", () => {
  for (const p of ["0 0 29 2 *", "0 0 1 1 *", "* * * * *", "0 0 */2 * +1", "0 12 1-7 * +*/2", "45 23 28-31 * *", "0 0 13 * 5"]) {
    let t = performance.now();
    nextRuns(cron(p, { tz: "Europe/London" }), 20, FROM);
    const ours = performance.now() - t;
    t = performance.now();
    try { const it2 = parser.parseExpression(p.replace(/\+/g, ""), { currentDate: FROM, tz: "Europe/London" }); for (let i = 0; i < 20; i++) it2.next(); } catch {}
    console.log(p, ours.toFixed(1), (performance.now() - t).toFixed(1));
  }
});
