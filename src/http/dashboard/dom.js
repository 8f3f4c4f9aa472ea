// DOM and formatting helpers of the dashboard. Text always goes in as text nodes (never as
// HTML): task names, params and log lines come from users.

/**
 * Makes an element: `h("a", { href: "#/runs", class: "x", onclick: fn }, "text", child)`.
 * Attributes named on* become listeners; `null`/`undefined`/`false` attributes are left out;
 * children may be strings, numbers, nodes, arrays of them, or null.
 */
export function h(tag, attrs = {}, ...children) {
  const svg = tag.startsWith("svg:");
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "value" && !svg) el.value = value;
    else if (key === "checked" && !svg) el.checked = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Appends children (strings, nodes, nested arrays; null skipped) to `el`. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A duration in ms as text: "850 ms", "2.4 s", "3 min 05 s", "2 h 10 min". */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 3_600_000) {
    const s = Math.round((ms % 60_000) / 1000);
    return `${Math.floor(ms / 60_000)} min${s ? ` ${String(s).padStart(2, "0")} s` : ""}`;
  }
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
  return `${Math.floor(ms / 86_400_000)} d ${Math.round((ms % 86_400_000) / 3_600_000)} h`;
}

/**
 * Replaces `oldEl` with `newEl`; when the focus was inside `oldEl`, it moves to the matching
 * control of `newEl` (same id, same switch, or same link), so a live refresh never drops the
 * keyboard focus.
 */
export function swap(oldEl, newEl) {
  const active = document.activeElement;
  let selector;
  if (active && active !== document.body && oldEl.contains(active)) {
    if (active.id) selector = `#${CSS.escape(active.id)}`;
    else if (active.dataset.toggle) selector = `[data-toggle="${CSS.escape(active.dataset.toggle)}"]`;
    else if (active.getAttribute("href")) selector = `[href="${CSS.escape(active.getAttribute("href"))}"]`;
  }
  oldEl.replaceWith(newEl);
  if (selector) newEl.querySelector(selector)?.focus();
}

/** A long duration coarsely, for uptimes: "40 s", "12 min", "3 h 05 min", "2 d 4 h". */
export function fmtUptime(ms) {
  if (!Number.isFinite(ms)) return "-";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** Epoch ms or ISO text to a Date, or null. */
export function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "in 5 min", "3 s ago", "just now". */
export function relTime(value, now = Date.now()) {
  const d = toDate(value);
  if (!d) return "-";
  const delta = d.getTime() - now;
  const abs = Math.abs(delta);
  if (abs < 1500) return "just now";
  const text = abs < 60_000 ? `${Math.round(abs / 1000)} s`
    : abs < 3_600_000 ? `${Math.round(abs / 60_000)} min`
    : abs < 86_400_000 ? `${Math.round(abs / 3_600_000)} h`
    : `${Math.round(abs / 86_400_000)} d`;
  return delta > 0 ? `in ${text}` : `${text} ago`;
}

/** A <time> element showing the relative time, with the exact UTC time as its title. */
export function timeEl(value) {
  const d = toDate(value);
  if (!d) return h("span", { class: "muted" }, "-");
  const iso = d.toISOString();
  return h("time", { datetime: iso, title: iso.replace("T", " ").replace(/\.\d+Z$/, " UTC"), "data-rel": iso }, relTime(d));
}

/** Updates the text of every relative <time> under `root` (they age while the page is open). */
export function refreshTimes(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll("time[data-rel]")) el.textContent = relTime(el.dataset.rel, now);
}

const FINAL = new Set(["success", "failure", "aborted", "timeout", "cancelled", "rate_limited", "interrupted"]);

/** True for states after which nothing more happens to a run. */
export function isFinal(state) {
  return FINAL.has(state);
}

/** A state as a badge: text (never colour alone) and a class for its colour. */
export function stateBadge(state) {
  if (!state) return h("span", { class: "muted" }, "never ran");
  return h("span", { class: `badge state-${state}` }, state.replace("_", " "));
}

/** The first 8 characters of a run id, as `fluid` prints it. */
export function shortId(id) {
  return String(id).slice(0, 8);
}

/** JSON, indented, for <pre>. */
export function pretty(value) {
  try {
    return JSON.stringify(value, null, 2) ?? "undefined";
  } catch {
    return String(value);
  }
}
