import parser from "cron-parser";
for (const p of ["@daily","@midnight","@annually","0 5 * * 1-7/2","00 08 * JAN,Jul *","0 10 * * sat,sun","*/90 * * * *","0 0 * * 7", "5 4 * * sun"]) {
  try { const it = parser.parseExpression(p, { currentDate: new Date("2026-05-10T12:34:00Z"), tz: "Europe/London" }); console.log(p, it.next().toDate().toISOString(), it.next().toDate().toISOString()); } catch (e) { console.log(p, "ERR", e.message); }
}
