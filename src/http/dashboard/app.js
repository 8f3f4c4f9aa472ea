// The dashboard's entry: the router (#/tasks, #/tasks/<name>, #/runs, #/runs/<id>, #/status),
// one live event stream shared by the views, the daemon line in the header, the token panel
// and the toasts. Plain ES modules, no build step; served by `fluid serve --http`.
import { api, ApiError, getToken, liveEvents, onAuthError, setToken } from "./api.js";
import { fmtDuration, fmtUptime, h, refreshTimes, replace, shortId } from "./dom.js";
import { runView } from "./view-run.js";
import { runsView } from "./view-runs.js";
import { statusView } from "./view-status.js";
import { taskView } from "./view-task.js";
import { tasksView } from "./view-tasks.js";

const EVENTS = ["hello", "run-queued", "run-start", "run-end", "fire-skipped", "task", "overflow"];
const main = document.getElementById("main");
const toasts = document.getElementById("toasts");

/** Subscriptions of the view on screen, dropped when the route changes. */
let subscriptions = new Set();
const globalSubs = new Set();

function dispatch(type, data) {
  // "overflow": the daemon dropped events of a flood of runs; every view fetches what it shows again.
  if (type === "overflow") {
    for (const s of [...globalSubs, ...subscriptions]) if (s.refresh) s.fn();
    return;
  }
  for (const s of [...globalSubs, ...subscriptions]) if (s.types.includes(type) && (!s.filter || s.filter(data))) s.fn(data, type);
}

/**
 * Calls `fn` at most once per `ms` after matching events, never twice at once (an event that
 * arrives meanwhile schedules one more call). Errors go to `onError`.
 */
function debounced(fn, ms, onError) {
  let timer;
  let running = false;
  let again = false;
  const run = async () => {
    timer = undefined;
    if (running) return void (again = true);
    running = true;
    try {
      await fn();
    } catch (error) {
      onError(error);
    } finally {
      running = false;
      if (again) {
        again = false;
        timer ??= setTimeout(run, ms);
      }
    }
  };
  return () => void (timer ??= setTimeout(run, ms));
}

/** Shows a short message in the corner (and to screen readers). */
function toast(text, kind = "") {
  const el = h("div", { class: `toast ${kind}` }, text);
  toasts.append(el);
  setTimeout(() => el.remove(), 6000);
}

/** Reports a failed call: a 401/403 opens the token panel (see onAuthError); anything else is a toast. */
function reportError(error) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return;
  toast(`${error.message}${error.hint ? ` (${error.hint})` : ""}`, "bad");
}

/** Runs queued from this tab: a toast says how each ended. */
const watched = new Map();

function makeCtx(subs) {
  return {
    toast,
    error: reportError,
    watchRun: (id) => watched.set(id, true),
    live: {
      /** `fn(data)` for each event of `type` (while this view is shown). */
      on(type, fn, filter) {
        subs.add({ types: [type], fn, filter });
      },
      /** `fn()` (debounced: a burst of events makes one call) after events of any of `types`. */
      onAny(types, fn, filter) {
        subs.add({ types, fn: debounced(fn, 250, reportError), filter, refresh: true });
      },
    },
  };
}

// ---- header: the live state and the daemon line ----
const liveEl = document.getElementById("live");
const liveText = document.getElementById("live-text");
const live = liveEvents(
  Object.fromEntries(EVENTS.map((type) => [type, (data) => dispatch(type, data)])),
  (state, info) => {
    // A notice when the stream is lost and when it is back; not for each retry in between, nor
    // when the page itself opened it again (a new token).
    if (state !== "live" && liveEl.dataset.state === "live" && !info?.deliberate) {
      toast("Lost the live connection to the daemon; retrying", "bad");
      liveEl.dataset.lost = "true";
    }
    if (state === "live" && liveEl.dataset.lost === "true") {
      toast("Live again");
      delete liveEl.dataset.lost;
      dispatch("overflow"); // fetch again what happened meanwhile
    }
    liveEl.dataset.state = state;
    liveText.textContent = state === "live" ? "live" : state === "down" ? "disconnected, retrying" : "connecting…";
  });

globalSubs.add({
  types: ["run-end"],
  fn: (e) => {
    if (!watched.has(e.id) || e.retryInMs !== undefined) return;
    watched.delete(e.id);
    toast(`${e.task} ${shortId(e.id)} ended: ${e.state} in ${fmtDuration(e.durationMs)}`, e.state === "success" ? "" : "bad");
  },
});

const daemonLine = document.getElementById("daemon-line");
let lastStatus;
const drawDaemonLine = () => {
  const s = lastStatus;
  if (!s) return;
  // The uptime counts on from the daemon's start; everything else is as of the last status.
  const up = s.daemon.uptimeMs + (Date.now() - s.fetchedAt);
  daemonLine.textContent = `pid ${s.daemon.pid} on ${s.daemon.host} · up ${fmtUptime(up)} · queue ${s.queue.ready + s.queue.delayed} · running ${s.running.length}/${s.daemon.concurrency}`;
};
const refreshDaemonLine = async () => {
  lastStatus = { ...(await api("/api/status")), fetchedAt: Date.now() };
  drawDaemonLine();
};
globalSubs.add({ types: ["run-queued", "run-start", "run-end"], fn: debounced(refreshDaemonLine, 1000, () => {}), refresh: true });
setInterval(() => void refreshDaemonLine().catch(() => {}), 30_000);
setInterval(() => {
  refreshTimes();
  drawDaemonLine();
}, 10_000);

// ---- token ----
const tokenPanel = document.getElementById("token-panel");
const tokenButton = document.getElementById("token-button");
const tokenInput = document.getElementById("token-input");
const tokenWhy = document.getElementById("token-why");
const showTokenPanel = (open, why) => {
  tokenPanel.hidden = !open;
  tokenButton.setAttribute("aria-expanded", String(open));
  if (why) {
    tokenWhy.textContent = why;
    tokenWhy.className = "banner";
  }
  if (open) tokenInput.focus();
};
const updateTokenButton = () => (tokenButton.textContent = getToken() ? "Token ✓" : "Token");
tokenButton.addEventListener("click", () => showTokenPanel(tokenPanel.hidden));
document.getElementById("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  setToken(tokenInput.value.trim());
  tokenInput.value = "";
  updateTokenButton();
  showTokenPanel(false);
  toast("Token saved for this tab");
  live.reopen();
  // A view that could not load is loaded again; one that did stays as it is (with what was typed in its form).
  if (viewFailed) void route();
  void refreshDaemonLine().catch(() => {});
});
document.getElementById("token-clear").addEventListener("click", () => {
  setToken("");
  updateTokenButton();
  toast("Token forgotten");
});
onAuthError((error) => showTokenPanel(true, error.status === 401
  ? `The daemon needs a token for this (${error.message}). Enter it below.`
  : `The daemon refused the token (${error.message}). Enter the right one below.`));
updateTokenButton();

// ---- router ----
let generation = 0;
let cleanup;
/** The view on screen could not load (its error page is shown). */
let viewFailed = false;

/** Renders the view the address names. */
async function route() {
  const gen = ++generation;
  const hash = location.hash.replace(/^#\/?/, "") || "tasks";
  const [pathPart, search = ""] = hash.split("?");
  const parts = pathPart.split("/").map(decodeURIComponent);
  const params = new URLSearchParams(search);
  const subs = new Set();
  const ctx = makeCtx(subs);
  const root = h("div", { class: "view" });
  let view;
  let title;
  if (parts[0] === "tasks" && parts[1]) [view, title] = [() => taskView(root, ctx, parts[1]), `${parts[1]} · tasks`];
  else if (parts[0] === "runs" && parts[1]) [view, title] = [() => runView(root, ctx, parts[1]), `run ${shortId(parts[1])}`];
  else if (parts[0] === "runs") [view, title] = [() => runsView(root, ctx, params), "runs"];
  else if (parts[0] === "status") [view, title] = [() => statusView(root, ctx), "daemon"];
  else [view, title] = [() => tasksView(root, ctx), "tasks"];
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === parts[0]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  main.setAttribute("aria-busy", "true");
  let done;
  let failed = false;
  try {
    done = await view();
  } catch (error) {
    if (gen !== generation) return;
    failed = true;
    replace(root, h("h1", {}, "Could not load this page"),
      h("p", { class: "form-error", role: "alert" }, error instanceof ApiError ? `${error.status}: ${error.message}` : String(error?.message ?? error)),
      error.hint ? h("p", { class: "muted" }, error.hint) : null,
      h("p", {}, h("a", { href: "#/tasks" }, "Back to the tasks")));
  }
  if (gen !== generation) {
    if (typeof done === "function") done();
    return;
  }
  if (typeof cleanup === "function") cleanup();
  cleanup = done;
  viewFailed = failed;
  subscriptions = subs;
  document.title = `${title} · fluid`;
  main.replaceChildren(root);
  main.removeAttribute("aria-busy");
}

// After a navigation, focus goes to the new page (for screen readers and keyboards), unless the
// control that changed the address is on it again (a runs filter).
window.addEventListener("hashchange", () => {
  const focusedId = document.activeElement?.id;
  void route().then(() => {
    const again = focusedId && main.querySelector(`#${CSS.escape(focusedId)}`);
    if (again) return again.focus();
    window.scrollTo(0, 0);
    main.focus({ preventScroll: true });
  });
});
void route();
void refreshDaemonLine().catch(() => {});
