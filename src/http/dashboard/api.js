// Talking to the daemon: JSON over fetch with the bearer token, and the live event stream.

const TOKEN_KEY = "fluid.token";

/** The token kept for this tab (sessionStorage: gone when the tab closes), or "". */
export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

/** Keeps (or with "" forgets) the token for this tab. */
export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {} // storage blocked (private mode): the token lasts until the page reloads
}

/** An answer of the API that was not 2xx: `status`, and the `error` object of its body when it had one. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = body && typeof body === "object" && body.error && typeof body.error === "object" ? body.error : undefined;
    super(error?.message ?? (typeof body === "string" && body ? body : `HTTP ${status}`));
    this.name = "ApiError";
    this.status = status;
    this.code = error?.code;
    this.hint = error?.hint;
    /** zod issues of a 422: `[{ path: [...], message, code }]`. */
    this.issues = Array.isArray(error?.issues) ? error.issues : [];
  }
}

const authListeners = new Set();

/** Calls `fn(error)` whenever the API answers 401 or 403 (no token, or a wrong one). */
export function onAuthError(fn) {
  authListeners.add(fn);
  return () => authListeners.delete(fn);
}

/**
 * Calls the API: `api("/api/tasks")`, `api(path, { method: "POST", body: {...} })`. Resolves
 * with the parsed JSON body (or null for an empty one); rejects with an ApiError.
 */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { accept: "application/json" };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, cache: "no-store" });
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, parsed);
    if (response.status === 401 || response.status === 403) for (const fn of authListeners) fn(error);
    throw error;
  }
  return parsed;
}

/** Query string from an object, leaving out empty values: `{ task: "a", state: "" }` -> "?task=a". */
export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== "") q.set(key, String(value));
  const text = q.toString();
  return text ? `?${text}` : "";
}

/**
 * The daemon's live events (server-sent events at /api/events). EventSource cannot send an
 * Authorization header, so the token goes as `?token=`. `handlers` maps an event name to a
 * function of its parsed data; `onState("live" | "connecting" | "down", { deliberate })` reports
 * the stream's state (`deliberate`: `reopen()` closed it, nothing was lost). EventSource reconnects by itself; after a failure that closed it (HTTP 401 or the
 * daemon gone), this opens a new one after a pause. Returns `close()`.
 */
export function liveEvents(handlers, onState = () => {}) {
  let source;
  let timer;
  let closed = false;
  const open = (deliberate = false) => {
    const token = getToken();
    source = new EventSource(`/api/events${token ? `?token=${encodeURIComponent(token)}` : ""}`);
    onState("connecting", { deliberate });
    source.onopen = () => onState("live");
    source.onerror = () => {
      if (closed) return;
      if (source.readyState === EventSource.CLOSED) {
        onState("down");
        clearTimeout(timer);
        timer = setTimeout(() => open(), 3000);
      } else onState("connecting");
    };
    for (const [name, fn] of Object.entries(handlers)) {
      source.addEventListener(name, (e) => {
        let data;
        try {
          data = JSON.parse(e.data);
        } catch {
          return;
        }
        fn(data);
      });
    }
  };
  open();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      source.close();
    },
    /** Opens the stream again (after the token changed). */
    reopen() {
      source.close();
      clearTimeout(timer);
      open(true);
    },
  };
}
