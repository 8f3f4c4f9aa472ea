const zones = Intl.supportedValuesOf("timeZone");
function offset(tz, ms) {
  const f = new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map(x => [x.type, x.value]));
  return (Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - ms);
}
const start = Date.UTC(2024,0,1), end = Date.UTC(2031,0,1);
const hits = [];
for (const tz of zones) {
  let prev = offset(tz, start);
  for (let t = start + 1800e3; t < end; t += 1800e3) {
    const o = offset(tz, t);
    if (o > prev) {
      // find exact
      let lo = t - 1800e3, hi = t;
      while (hi - lo > 1000) { const mid = Math.floor((lo+hi)/2000)*1000; if (offset(tz, mid) === prev) lo = mid; else hi = mid; }
      const gapStartLocal = new Date(hi + prev), gapEndLocal = new Date(hi + o);
      if (gapStartLocal.getUTCDate() !== gapEndLocal.getUTCDate() && !(gapEndLocal.getUTCHours()===0 && gapEndLocal.getUTCMinutes()===0 && false))
        hits.push([tz, gapStartLocal.toISOString(), gapEndLocal.toISOString()]);
    }
    prev = o;
  }
}
console.log(hits.length, hits.slice(0, 20));
