// One run (#/runs/<id>): its state, params and result, error, attempts, chain (parent, root,
// children) and logs; the logs of a run that has not ended stream live.
import { api, ApiError, getToken } from "./api.js";
import { runLink, runsTable, taskLink } from "./components.js";
import { fmtDuration, h, isFinal, pretty, replace, shortId, stateBadge, timeEl } from "./dom.js";

/** Renders run `id` into `main`; returns a cleanup that closes its log stream. */
export async function runView(main, ctx, id) {
  let detail = await api(`/api/runs/${encodeURIComponent(id)}`);
  const runId = detail.run.id;
  const head = h("div", {});
  const facts = h("div", {});
  const more = h("div", {});
  const logBox = h("pre", { class: "logs", id: "logs", tabindex: "0", "aria-label": "Log lines", "aria-live": "off" });
  const logNote = h("p", { class: "muted log-note" });
  const actions = h("div", { class: "actions" });
  let stream;
  let follow = true;
  logBox.addEventListener("scroll", () => {
    follow = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 8;
  });

  const renderHead = (d) => {
    const r = d.run;
    replace(head,
      h("p", { class: "crumbs" }, h("a", { href: "#/runs" }, "Runs"), " / ", taskLink(r.task), " / ", shortId(r.id)),
      h("h1", {}, `Run ${shortId(r.id)} `, h("span", { class: "run-state", "data-state": r.state }, stateBadge(r.state))));
    replace(actions);
    if (!isFinal(r.state)) {
      const cancel = h("button", { type: "button", class: "danger" }, "Cancel run");
      cancel.addEventListener("click", async () => {
        cancel.disabled = true;
        try {
          const { outcome } = await api(`/api/runs/${encodeURIComponent(r.id)}/cancel`, { method: "POST" });
          ctx.toast(outcome === "removed" ? "Cancelled before it started" : outcome === "flagged" ? "Cancel asked; the run stops at its next check" : "The run had already ended");
          await reload();
        } catch (error) {
          cancel.disabled = false;
          ctx.error(error);
        }
      });
      actions.append(cancel);
    }
    actions.append(h("a", { href: `#/tasks/${encodeURIComponent(r.task)}` }, `Run ${r.task} again…`));
  };

  const renderFacts = (d) => {
    const r = d.run;
    replace(facts,
      h("div", { class: "grid2" },
        h("section", { class: "panel", "aria-labelledby": "summary" }, h("h2", { id: "summary" }, "Summary"),
          h("dl", { class: "facts" },
            h("dt", {}, "Id"), h("dd", { class: "mono" }, r.id),
            h("dt", {}, "Task"), h("dd", {}, taskLink(r.task)),
            h("dt", {}, "State"), h("dd", {}, stateBadge(r.state)),
            h("dt", {}, "Trigger"), h("dd", {}, r.trigger),
            h("dt", {}, "Attempt"), h("dd", {}, `${r.attempt} of ${r.maxAttempts}`),
            h("dt", {}, "Queued"), h("dd", {}, timeEl(r.queuedAt)),
            h("dt", {}, "Started"), h("dd", {}, timeEl(r.startedAt)),
            h("dt", {}, "Ended"), h("dd", {}, timeEl(r.endedAt)),
            h("dt", {}, "Duration"), h("dd", {}, fmtDuration(r.durationMs)),
            h("dt", {}, "Host"), h("dd", {}, `${r.host} (pid ${r.pid})`),
            r.exitCode !== undefined ? [h("dt", {}, "Exit code"), h("dd", {}, String(r.exitCode))] : null,
            // A command task that failed: the command's own exit code (the run's process exited normally).
            r.error?.childExitCode !== undefined ? [h("dt", {}, "Command exit code"), h("dd", {}, String(r.error.childExitCode))] : null)),
        h("section", { class: "panel", "aria-labelledby": "io" }, h("h2", { id: "io" }, "Params and result"),
          h("h3", { class: "muted" }, "Params"), h("pre", { class: "json" }, pretty(r.params ?? {})),
          r.result !== undefined ? [h("h3", { class: "muted" }, "Result"), h("pre", { class: "json result" }, pretty(r.result))] : null)),
      r.error ? h("section", { "aria-labelledby": "error" }, h("h2", { id: "error" }, "Error"), errorBox(r.error)) : null);
    replace(more,
      h("section", { "aria-labelledby": "attempts" }, h("h2", { id: "attempts" }, `Attempts (${d.attempts.length})`), attemptsTable(d.attempts)),
      h("section", { "aria-labelledby": "chain" }, h("h2", { id: "chain" }, "Chain"), chain(d)));
  };

  const lineEl = (l) => h("span", { class: `line lvl-${l.level}` },
    h("span", { class: "ts" }, new Date(l.ts).toISOString().slice(11, 23)), " ",
    detail.attempts.length > 1 ? h("span", { class: "attempt" }, `#${l.attempt} `) : null,
    h("span", { class: "lvl" }, l.level.padEnd(6)), " ", l.message, "\n");
  const addLines = (lines) => {
    logBox.append(...lines.map(lineEl));
    if (follow) logBox.scrollTop = logBox.scrollHeight;
  };
  const renderLogs = (d) => {
    replace(logBox);
    if (d.logs.length === 0) logBox.append(h("span", { class: "muted-log" }, isFinal(d.run.state) ? "(no log lines)\n" : ""));
    addLines(d.logs);
    logNote.textContent = d.droppedLogLines > 0 ? `${d.droppedLogLines} line(s) were not kept (over the store's logCap).` : "";
  };

  const reload = async () => {
    detail = await api(`/api/runs/${encodeURIComponent(runId)}`);
    renderHead(detail);
    renderFacts(detail);
    if (!stream) renderLogs(detail);
  };

  // The live log stream: it sends the lines recorded so far, then new ones, and `end` once the
  // run has ended for good (after its last retry); EventSource would reconnect, so close it then.
  const openStream = () => {
    const token = getToken();
    const es = new EventSource(`/api/runs/${encodeURIComponent(runId)}/logs/stream${token ? `?token=${encodeURIComponent(token)}` : ""}`);
    let first = true;
    logNote.textContent = "Streaming live…";
    es.addEventListener("log", (e) => {
      if (first) {
        replace(logBox);
        first = false;
      }
      addLines([JSON.parse(e.data)]);
    });
    es.addEventListener("end", () => {
      es.close();
      stream = undefined;
      logNote.textContent = "";
      void reload().catch(ctx.error);
    });
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        stream = undefined;
        logNote.textContent = "The live log stream closed.";
      }
    };
    return es;
  };

  renderHead(detail);
  renderFacts(detail);
  renderLogs(detail);
  replace(main, head, actions, facts,
    h("section", { "aria-labelledby": "logs-title" }, h("h2", { id: "logs-title" }, "Logs"), logNote, logBox),
    more);
  if (!isFinal(detail.run.state)) stream = openStream();
  ctx.live.onAny(["run-start", "run-end"], () => reload().catch((e) => (e instanceof ApiError ? ctx.error(e) : undefined)), (e) => e.id === runId);
  return () => stream?.close();
}

function errorBox(error) {
  return h("div", { class: "error-box" },
    h("p", {}, h("strong", {}, error.name), error.code ? h("span", { class: "muted" }, ` (${error.code})`) : null, ": ", error.message),
    error.hint ? h("p", { class: "muted" }, error.hint) : null,
    error.cause ? h("p", { class: "muted" }, "caused by ", h("strong", {}, error.cause.name), ": ", error.cause.message) : null);
}

function attemptsTable(attempts) {
  return h("div", { class: "table-wrap" }, h("table", {},
    h("caption", { class: "visually-hidden" }, "Attempts"),
    h("thead", {}, h("tr", {}, ["#", "State", "Trigger", "Started", "Duration", "Error"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, attempts.map((a) => h("tr", {},
      h("td", { class: "num" }, String(a.attempt)),
      h("td", {}, stateBadge(a.state)),
      h("td", {}, a.trigger),
      h("td", {}, timeEl(a.startedAt ?? a.queuedAt)),
      h("td", { class: "num" }, fmtDuration(a.durationMs)),
      h("td", {}, a.error ? `${a.error.name}: ${a.error.message}` : ""))))));
}

function chain(d) {
  const items = [];
  if (d.root && d.root.id !== d.parent?.id) items.push(h("li", {}, "Root: ", runLink(d.root), " ", taskLink(d.root.task), " ", stateBadge(d.root.state)));
  if (d.parent) items.push(h("li", {}, "Started by: ", runLink(d.parent), " ", taskLink(d.parent.task), " ", stateBadge(d.parent.state)));
  else if (d.run.fromRunId) items.push(h("li", {}, "Started by ", h("span", { class: "mono" }, shortId(d.run.fromRunId)), h("span", { class: "muted" }, " (no longer recorded)")));
  return h("div", {},
    items.length ? h("ul", {}, items) : h("p", { class: "muted" }, "Not started by another run."),
    d.children.length ? [h("h3", { class: "muted" }, `Runs it started (${d.children.length})`), runsTable(d.children, { caption: "Runs this run started" })] : h("p", { class: "muted" }, "It started no other run."));
}
