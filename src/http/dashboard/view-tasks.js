// The tasks view (#/tasks): every task with its schedule, next fire, last run and enable switch.
import { api } from "./api.js";
import { enableSwitch, runLink, taskLink } from "./components.js";
import { h, replace, stateBadge, swap, timeEl } from "./dom.js";

/** Renders the tasks view into `main`; `ctx` is the app's (live events, toasts). */
export async function tasksView(main, ctx) {
  const { tasks } = await api("/api/tasks");
  const body = h("tbody", {});
  const rows = new Map();
  const row = (t) => {
    const tr = h("tr", { "data-task": t.name },
      h("th", { scope: "row" }, taskLink(t.name), t.description ? h("div", { class: "muted" }, t.description) : null,
        t.tags?.length ? h("div", { class: "muted" }, t.tags.map((tag) => `#${tag}`).join(" ")) : null),
      h("td", {}, t.schedule ? h("span", { title: t.schedule.source }, t.schedule.describe) : h("span", { class: "muted" }, "on demand")),
      h("td", {}, t.nextFire ? timeEl(t.nextFire) : h("span", { class: "muted" }, t.schedule && !t.enabled ? "paused" : "-")),
      h("td", { class: "last-run" }, t.lastRun ? [stateBadge(t.lastRun.state), " ", timeEl(t.lastRun.endedAt ?? t.lastRun.startedAt), " ", runLink(t.lastRun)] : stateBadge(null),
        t.running > 0 ? h("div", {}, h("span", { class: "badge state-running" }, `${t.running} running`)) : null),
      h("td", { class: "enable-cell" }, enableSwitch(t, { onChanged: changed, onError: ctx.error })),
      h("td", {}, h("a", { href: `#/tasks/${encodeURIComponent(t.name)}`, "aria-label": `Run ${t.name}…` }, "Run…")));
    return tr;
  };
  /** Draws the row of `t` again (its next fire changes with the switch), keeping the focus on the switch. */
  const redraw = (t) => {
    const old = rows.get(t.name);
    const tr = row(t);
    if (old) swap(old, tr);
    else body.append(tr);
    rows.set(t.name, tr);
  };
  const changed = (t) => {
    redraw(t);
    ctx.toast(`${t.name} ${t.enabled ? "enabled" : "disabled"}`);
  };
  for (const t of tasks) {
    const tr = row(t);
    rows.set(t.name, tr);
    body.append(tr);
  }
  replace(main,
    h("h1", {}, "Tasks"),
    tasks.length === 0 ? h("p", { class: "muted" }, "No tasks are loaded: check the config's tasks globs.") : null,
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "visually-hidden" }, "Tasks"),
      h("thead", {}, h("tr", {}, ["Task", "Schedule", "Next fire", "Last run", "Enabled", ""].map((c) => h("th", { scope: "col" }, c)))),
      body)));
  // Runs change the last run and the next fire; refresh the rows (not one whose reason form is open).
  const refresh = async () => {
    const { tasks: fresh } = await api("/api/tasks");
    for (const t of fresh) if (!rows.get(t.name)?.querySelector("[data-editing]")) redraw(t);
  };
  ctx.live.onAny(["run-queued", "run-start", "run-end", "task", "fire-skipped"], refresh);
}
