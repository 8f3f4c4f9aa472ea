import { Cron } from "croner";
const mk = (p) => { try { const c = new Cron(p, { utcOffset: 0, paused: true, mode: "5-or-6-parts", domAndDow: false }); return c.nextRuns(6, new Date("2026-01-01T00:00:00Z")).map(d=>d.toISOString().slice(0,16)).join(" "); } catch (e) { return "ERR " + e.message; } };
for (const p of ["0 0 */2 * +1", "0 0 */2 * 1", "0 0 1 * +*/2", "0 0 * * 5-7", "0 0 * * fri-sun", "0 0 * * 1-7/2", "*/90 * * * *", "0 0 * * 7", "0 0 * * sat-sun", "5/15 * * * *", "0 0 * jan-mar/2 *", "0 0 L * *", "0 0 * * MON-FRI", "0 0 * * mon"]) console.log(p.padEnd(20), mk(p));
