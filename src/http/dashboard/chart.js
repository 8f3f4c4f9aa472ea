// Run durations as an inline SVG bar chart (no chart library): one bar per finished run, oldest
// on the left, coloured by state (the state is also in each bar's title), with the median as a
// dashed line. Each bar links to its run.
import { fmtDuration, h } from "./dom.js";

/** A round number >= `max` for the top of the axis (1, 2, 5 times a power of ten). */
function niceCeil(max) {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * power >= max) return m * power;
  return 10 * power;
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Summary figures of the runs that have a duration: count, median, p95 and max, in ms. */
export function durationStats(runs) {
  const values = runs.map((r) => r.durationMs).filter((d) => Number.isFinite(d)).sort((a, b) => a - b);
  if (values.length === 0) return { count: 0 };
  return { count: values.length, median: median(values), p95: values[Math.min(values.length - 1, Math.ceil(values.length * 0.95) - 1)], max: values[values.length - 1] };
}

/**
 * The chart of `runs` (run records, any order; those without `durationMs` are left out).
 * `title` names it for screen readers. `compact` draws a sparkline without axis labels.
 */
export function durationChart(runs, { title = "Run durations", width = 900, height = 200, compact = false } = {}) {
  const time = (r) => r.startedAt ?? r.queuedAt ?? r.endedAt ?? 0;
  const done = runs.filter((r) => Number.isFinite(r.durationMs)).sort((a, b) => time(a) - time(b));
  const stats = durationStats(done);
  if (done.length === 0) return h("p", { class: "muted chart-empty" }, "No finished runs yet.");
  const pad = compact ? { top: 4, right: 4, bottom: 4, left: 4 } : { top: 12, right: 12, bottom: 24, left: 64 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const top = compact ? stats.max || 1 : niceCeil(stats.max); // a sparkline uses its whole height
  const y = (ms) => pad.top + plotH - (ms / top) * plotH;
  const slot = plotW / done.length;
  const barW = Math.max(1, Math.min(24, slot * 0.7));
  const label = `${title}: ${stats.count} run(s), median ${fmtDuration(stats.median)}, p95 ${fmtDuration(stats.p95)}, max ${fmtDuration(stats.max)}`;
  const svg = h("svg:svg", { viewBox: `0 0 ${width} ${height}`, class: `chart${compact ? " compact" : ""}`, role: "img", "aria-label": label, preserveAspectRatio: compact ? "none" : null },
    h("svg:title", {}, label));
  if (!compact) {
    for (const frac of [0, 0.5, 1]) {
      const v = top * frac;
      svg.append(
        h("svg:line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: "grid" }),
        h("svg:text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, fmtDuration(v)));
    }
    const first = new Date(time(done[0])).toISOString().slice(0, 16).replace("T", " ");
    const last = new Date(time(done[done.length - 1])).toISOString().slice(0, 16).replace("T", " ");
    svg.append(
      h("svg:text", { x: pad.left, y: height - 6, class: "axis" }, first),
      h("svg:text", { x: width - pad.right, y: height - 6, "text-anchor": "end", class: "axis" }, `${last} UTC`));
  }
  done.forEach((r, i) => {
    const x = pad.left + i * slot + (slot - barW) / 2;
    const barTop = Math.min(y(r.durationMs), pad.top + plotH - 1);
    const when = new Date(time(r)).toISOString().replace("T", " ").slice(0, 19);
    // Out of the tab order: the same runs are links in the table beside every chart.
    svg.append(h("svg:a", { href: `#/runs/${encodeURIComponent(r.id)}`, tabindex: "-1" },
      h("svg:rect", { x, y: barTop, width: barW, height: pad.top + plotH - barTop, class: `bar state-${r.state}` },
        h("svg:title", {}, `${r.task} ${String(r.id).slice(0, 8)}: ${r.state}, ${fmtDuration(r.durationMs)} (${when} UTC)`))));
  });
  if (stats.count > 1) svg.append(h("svg:line", { x1: pad.left, x2: width - pad.right, y1: y(stats.median), y2: y(stats.median), class: "median" }));
  return svg;
}
