// One task (#/tasks/<name>): its facts, the run-now form, the chart of its run durations and its
// recent runs, all kept current from the live events.
import { api, query } from "./api.js";
import { durationChart, durationStats } from "./chart.js";
import { enableSwitch, mergeRuns, runLink, runsTable } from "./components.js";
import { fmtDuration, h, isFinal, replace, stateBadge, timeEl } from "./dom.js";
import { paramsForm } from "./form.js";

const CHART_RUNS = 100;

/** Renders the page of task `name` into `main`. */
export async function taskView(main, ctx, name) {
  const path = `/api/tasks/${encodeURIComponent(name)}`;
  const [task, list] = await Promise.all([api(path), api(`/api/runs${query({ task: name, limit: CHART_RUNS })}`)]);
  let runs = list.runs;
  const lastQueued = h("div", { class: "last-queued", "aria-live": "polite" });
  const form = paramsForm(task.paramsSchema, async (params) => {
    const { run } = await api(`${path}/runs`, { method: "POST", body: { params } });
    ctx.toast(`Queued ${run.task} ${run.id.slice(0, 8)}`);
    ctx.watchRun(run.id);
    showQueued(run);
  }, { idPrefix: `param-${name}` });
  let watched;
  const showQueued = (run) => {
    watched = run.id;
    replace(lastQueued, h("p", {}, "Queued from this form: ", runLink(run), " ", h("span", { class: "queued-state", "data-run": run.id }, stateBadge(run.state)),
      " ", h("a", { href: `#/runs/${encodeURIComponent(run.id)}` }, "open run and logs")));
  };
  const chartBox = h("div", { class: "chart-box" });
  const statsLine = h("p", { class: "muted" });
  const drawChart = () => {
    const s = durationStats(runs);
    replace(chartBox, durationChart(runs, { title: `Durations of the last ${runs.length} runs of ${name}` }));
    replace(statsLine, s.count ? `${s.count} finished run(s): median ${fmtDuration(s.median)}, p95 ${fmtDuration(s.p95)}, max ${fmtDuration(s.max)}. Dashed line: median.` : "");
  };
  drawChart();
  const table = runsTable(runs.slice(0, 20), { showTask: false, caption: `Recent runs of ${name}` });
  table.hidden = runs.length === 0;
  const noRuns = h("p", { class: "muted", hidden: runs.length > 0 }, "No runs yet.");
  const facts = h("dl", { class: "facts" });
  const renderFacts = (t) => replace(facts,
    h("dt", {}, "Schedule"), h("dd", {}, t.schedule ? [t.schedule.describe, " ", h("code", {}, t.schedule.source)] : "none (runs when queued)"),
    h("dt", {}, "Next fires"), h("dd", {}, t.nextFires?.length ? h("ul", { class: "plain" }, t.nextFires.map((at) => h("li", {}, timeEl(at)))) : h("span", { class: "muted" }, t.schedule && !t.enabled ? "paused while disabled" : "-")),
    h("dt", {}, "Last run"), h("dd", {}, t.lastRun ? [stateBadge(t.lastRun.state), " ", runLink(t.lastRun), " ", timeEl(t.lastRun.endedAt ?? t.lastRun.startedAt)] : "never ran"),
    h("dt", {}, "Timeout"), h("dd", {}, t.timeoutMs ? fmtDuration(t.timeoutMs) : "none"),
    h("dt", {}, "Retry"), h("dd", {}, t.retry ? `${t.retry.attempts} attempts` : "no retry"),
    h("dt", {}, "Executes"), h("dd", {}, t.cpuBound ? "in a child process (cpu-bound)" : "on the event loop"),
    t.schedule ? [h("dt", {}, "Overlap"), h("dd", {}, t.overlap === "allow" ? "fires may overlap" : t.overlap === "skip" ? "a fire is skipped while a run is going on" : "a fire waits for the run going on")] : null,
    h("dt", {}, "At once"), h("dd", {}, t.maxConcurrency ? `at most ${t.maxConcurrency} run(s)` : "no limit of its own"),
    t.tags?.length ? [h("dt", {}, "Tags"), h("dd", {}, t.tags.join(", "))] : null);
  renderFacts(task);
  replace(main,
    h("p", { class: "crumbs" }, h("a", { href: "#/tasks" }, "Tasks"), " / ", name),
    h("h1", {}, name),
    task.description ? h("p", {}, task.description) : null,
    enableSwitch(task, { onChanged: (u) => { renderFacts(u); ctx.toast(`${u.name} ${u.enabled ? "enabled" : "disabled"}`); }, onError: ctx.error }),
    h("div", { class: "grid2" },
      h("section", { class: "panel", "aria-labelledby": "run-now" }, h("h2", { id: "run-now" }, "Run now"), form, lastQueued),
      h("section", { class: "panel", "aria-labelledby": "about" }, h("h2", { id: "about" }, "About"), facts)),
    h("section", { "aria-labelledby": "durations" }, h("h2", { id: "durations" }, "Run durations"), h("div", { class: "panel" }, chartBox, statsLine, legend())),
    h("section", { "aria-labelledby": "recent" }, h("h2", { id: "recent" }, "Recent runs ", h("a", { href: `#/runs?task=${encodeURIComponent(name)}`, class: "muted" }, "(all)")), table, noRuns));

  const refresh = async () => {
    const [t, fresh] = await Promise.all([api(path), api(`/api/runs${query({ task: name, limit: CHART_RUNS })}`)]);
    runs = fresh.runs;
    renderFacts(t);
    drawChart();
    mergeRuns(table, fresh.runs.slice(0, 20), { showTask: false, max: 20 });
    table.hidden = runs.length === 0;
    noRuns.hidden = runs.length > 0;
    const mine = watched && fresh.runs.find((r) => r.id === watched);
    if (mine) {
      const badge = lastQueued.querySelector(".queued-state");
      if (badge) replace(badge, stateBadge(mine.state));
    }
  };
  ctx.live.onAny(["run-queued", "run-start", "run-end", "task"], refresh, (data) => data.task === name || data.name === name);
  // The run queued from the form: its state as soon as the event says so, before the refresh.
  ctx.live.on("run-start", (e) => e.id === watched && setWatched("running"));
  ctx.live.on("run-end", (e) => e.id === watched && setWatched(isFinal(e.state) && e.retryInMs === undefined ? e.state : "queued"));
  const setWatched = (state) => {
    const badge = lastQueued.querySelector(".queued-state");
    if (badge) replace(badge, stateBadge(state));
  };
}

function legend() {
  return h("ul", { class: "legend", "aria-hidden": "true" },
    h("li", {}, h("span", { class: "swatch ok" }), "success"),
    h("li", {}, h("span", { class: "swatch bad" }), "failure / timeout"),
    h("li", {}, h("span", { class: "swatch warn" }), "aborted / cancelled / interrupted"));
}
