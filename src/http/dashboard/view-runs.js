// The runs view (#/runs?task=&state=): the run history with filters, updated live, pages of
// older runs on demand, and the durations of the listed runs per task.
import { api, query } from "./api.js";
import { durationChart, durationStats } from "./chart.js";
import { mergeRuns, runsTable, taskLink } from "./components.js";
import { fmtDuration, h, replace } from "./dom.js";

const STATES = ["queued", "running", "success", "failure", "aborted", "timeout", "cancelled", "rate_limited", "interrupted"];
const PAGE = 50;

/** Renders the runs view into `main`; `params` are the filters from the address (task, state). */
export async function runsView(main, ctx, params) {
  const filters = { task: params.get("task") ?? "", state: params.get("state") ?? "" };
  const [{ tasks }, first] = await Promise.all([api("/api/tasks"), api(`/api/runs${query({ ...filters, limit: PAGE })}`)]);
  let runs = first.runs;
  let cursor = first.nextCursor;
  const select = (id, label, options, value) => h("div", {},
    h("label", { for: id }, label),
    h("select", { id, name: id.replace("filter-", "") }, h("option", { value: "" }, "all"), options.map((o) => h("option", { value: o, selected: o === value }, o.replace("_", " ")))));
  const filterForm = h("form", { class: "filters", role: "search", "aria-label": "Filter runs" },
    // A task named in the address that is no longer loaded still shows as the filter.
    select("filter-task", "Task", [...new Set([...tasks.map((t) => t.name), ...(filters.task ? [filters.task] : [])])], filters.task),
    select("filter-state", "State", STATES, filters.state));
  // A filter is part of the address, so a filtered list can be bookmarked and the back button works.
  filterForm.addEventListener("change", () => {
    const f = new FormData(filterForm);
    location.hash = `#/runs${query({ task: f.get("task"), state: f.get("state") })}`;
  });
  filterForm.addEventListener("submit", (e) => e.preventDefault());
  const table = runsTable(runs, { caption: "Runs, newest first" });
  const empty = h("p", { class: "muted", hidden: runs.length > 0 }, "No runs match.");
  const more = h("button", { type: "button", hidden: !cursor }, "Load older runs");
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const page = await api(`/api/runs${query({ ...filters, limit: PAGE, cursor })}`);
      const body = table.querySelector("tbody");
      const known = new Set([...body.rows].map((tr) => tr.dataset.run));
      const older = page.runs.filter((r) => !known.has(r.id));
      runs = runs.concat(older);
      body.append(...runsTable(older).querySelector("tbody").rows);
      cursor = page.nextCursor;
      more.hidden = !cursor;
      drawCharts();
    } catch (error) {
      ctx.error(error);
    } finally {
      more.disabled = false;
    }
  });
  const charts = h("div", { class: "chart-rows" });
  const drawCharts = () => {
    const byTask = new Map();
    for (const r of runs) byTask.set(r.task, [...(byTask.get(r.task) ?? []), r]);
    const rows = [...byTask.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([task, list]) => {
      const s = durationStats(list);
      return [
        h("div", {}, taskLink(task), h("div", { class: "muted" }, s.count ? `median ${fmtDuration(s.median)}, max ${fmtDuration(s.max)}` : "no finished runs")),
        durationChart(list, { title: `Durations of ${task}`, width: 600, height: 48, compact: true }),
      ];
    });
    replace(charts, rows.length ? rows : h("p", { class: "muted" }, "No runs listed."));
  };
  drawCharts();
  replace(main,
    h("h1", {}, "Runs"),
    filterForm,
    table,
    empty,
    h("div", { class: "actions" }, more),
    h("section", { "aria-labelledby": "per-task" },
      h("h2", { id: "per-task" }, "Durations per task"),
      h("p", { class: "muted" }, "Of the runs listed above, oldest on the left; select a bar for its run."),
      h("div", { class: "panel" }, charts)));
  const refresh = async () => {
    const page = await api(`/api/runs${query({ ...filters, limit: PAGE })}`);
    if (filters.state) {
      // Runs leave a state filter as they move on: list the fresh first page alone.
      replace(table.querySelector("tbody"), ...runsTable(page.runs).querySelector("tbody").rows);
      runs = page.runs;
      cursor = page.nextCursor;
      more.hidden = !cursor;
      empty.hidden = runs.length > 0;
      drawCharts();
      return;
    }
    mergeRuns(table, page.runs);
    const known = new Map(runs.map((r) => [r.id, r]));
    for (const r of page.runs) known.set(r.id, r);
    runs = [...known.values()].sort((a, b) => (b.queuedAt ?? b.startedAt ?? 0) - (a.queuedAt ?? a.startedAt ?? 0));
    empty.hidden = runs.length > 0;
    drawCharts();
  };
  ctx.live.onAny(["run-queued", "run-start", "run-end"], refresh, (e) => !filters.task || e.task === filters.task);
}
