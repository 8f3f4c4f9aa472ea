// Pieces several views share: the runs table, the enable switch, links to tasks and runs.
import { api } from "./api.js";
import { fmtDuration, h, replace, shortId, stateBadge, swap, timeEl } from "./dom.js";

/** A link to a run, showing its short id. */
export function runLink(run) {
  return h("a", { href: `#/runs/${encodeURIComponent(run.id)}`, class: "mono", title: run.id }, shortId(run.id));
}

/** A link to a task's page. */
export function taskLink(name) {
  return h("a", { href: `#/tasks/${encodeURIComponent(name)}` }, name);
}

/** One row of the runs table. */
export function runRow(run, { showTask = true } = {}) {
  return h("tr", { "data-run": run.id, "data-state": run.state },
    h("td", {}, runLink(run)),
    showTask ? h("td", {}, taskLink(run.task)) : null,
    h("td", {}, stateBadge(run.state)),
    h("td", {}, run.trigger),
    h("td", { class: "num" }, run.maxAttempts > 1 ? `${run.attempt}/${run.maxAttempts}` : String(run.attempt)),
    h("td", {}, timeEl(run.queuedAt ?? run.startedAt)),
    h("td", { class: "num" }, run.durationMs !== undefined ? fmtDuration(run.durationMs) : run.state === "running" ? "running…" : "-"),
    // Which daemon of a fleet ran it (docs/fleet.md); the pid in the tooltip.
    h("td", { title: run.pid ? `pid ${run.pid}` : "" }, run.host || "-"),
    h("td", { class: "error-cell" }, run.error ? h("span", { title: run.error.message }, truncate(`${run.error.name}: ${run.error.message}`, 80)) : null));
}

function truncate(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

/** The runs table (its <tbody> is `table.tBodies[0]`, rows keyed by `data-run`). */
export function runsTable(runs, { showTask = true, caption = "Runs" } = {}) {
  return h("div", { class: "table-wrap" },
    h("table", { class: "runs" },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Run"),
        showTask ? h("th", { scope: "col" }, "Task") : null,
        h("th", { scope: "col" }, "State"),
        h("th", { scope: "col" }, "Trigger"),
        h("th", { scope: "col", class: "num" }, "Attempt"),
        h("th", { scope: "col" }, "Queued"),
        h("th", { scope: "col", class: "num" }, "Duration"),
        h("th", { scope: "col" }, "Host"),
        h("th", { scope: "col" }, "Error"))),
      h("tbody", {}, runs.map((r) => runRow(r, { showTask })))));
}

/**
 * Merges `runs` (newest first, as the API lists them) into a runs table: rows of known runs are
 * replaced (and flash when their state changed), new runs go on top, the oldest beyond `max`
 * rows go. Returns how many were new.
 */
export function mergeRuns(table, runs, { showTask = true, max = Infinity } = {}) {
  const body = table.querySelector("tbody");
  const rows = new Map([...body.rows].map((tr) => [tr.dataset.run, tr]));
  const fresh = [];
  for (const run of runs) {
    const old = rows.get(run.id);
    const row = runRow(run, { showTask });
    if (old) {
      if (old.dataset.state !== run.state) row.classList.add("flash");
      swap(old, row);
    } else {
      row.classList.add("flash");
      fresh.push(row);
    }
  }
  body.prepend(...fresh);
  while (body.rows.length > max) body.rows[body.rows.length - 1].remove();
  return fresh.length;
}

/**
 * The enable switch of a task, with the reason it is disabled. Turning a task off asks for a
 * reason first (an inline form; the reason is optional); turning it on is one click.
 * `onChanged(taskDetail)` receives the task as the daemon returns it after the change.
 * While the reason form is open the returned element has `data-editing`, so a refresh leaves it.
 */
export function enableSwitch(task, { onChanged = () => {}, onError = () => {} } = {}) {
  const box = h("div", { class: "enable" });
  const render = (t) => {
    const sw = h("button", {
      type: "button", class: "switch ghost", role: "switch", "aria-checked": String(t.enabled),
      "aria-label": `${t.name} enabled`, "data-toggle": t.name,
    }, h("span", { class: "knob", "aria-hidden": "true" }), h("span", {}, t.enabled ? "enabled" : "disabled"));
    const reason = !t.enabled && t.disabledReason ? h("span", { class: "reason" }, `reason: ${t.disabledReason}`) : null;
    replace(box, sw, reason);
    sw.addEventListener("click", async () => {
      if (t.enabled) return askReason(t, sw);
      await change(t, { enabled: true }, sw);
    });
  };
  const change = async (t, body, sw) => {
    sw.disabled = true;
    try {
      const updated = await api(`/api/tasks/${encodeURIComponent(t.name)}`, { method: "PATCH", body });
      delete box.dataset.editing;
      render(updated);
      box.querySelector("[role=switch]").focus();
      onChanged(updated);
    } catch (error) {
      sw.disabled = false;
      onError(error);
    }
  };
  const askReason = (t, sw) => {
    box.dataset.editing = "true";
    const id = `reason-${t.name}`;
    const input = h("input", { id, name: "reason", type: "text", placeholder: "e.g. upstream API down until Monday", autocomplete: "off" });
    const form = h("form", { class: "disable-form", "aria-label": `Disable ${t.name}` },
      h("label", { for: id, class: "visually-hidden" }, `Why disable ${t.name}? (optional)`),
      input,
      h("button", { type: "submit", class: "danger" }, "Disable"),
      h("button", { type: "button", class: "ghost", onclick: () => { delete box.dataset.editing; render(t); box.querySelector("[role=switch]").focus(); } }, "Cancel"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const reason = input.value.trim();
      void change(t, reason ? { enabled: false, reason } : { enabled: false }, sw);
    });
    box.append(form);
    input.focus();
  };
  render(task);
  return box;
}
