import type { Hono } from "hono";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { parseDuration } from "../core/duration.js";
import { isFluidError } from "../core/errors.js";
import type { RunDetails } from "../core/run-record.js";
import type { Store } from "../store/store.js";
import { parseWith, queryOf, type ApiEnv, type ApiParts } from "./api-context.js";
import { HttpError } from "./http-error.js";
import { decodeCursor, encodeCursor, runJson } from "./run-json.js";
import { apiSchemas } from "./schemas.js";
import { SSE_HEADERS, sseMessage } from "./sse.js";

/** The store, or a 503 when the daemon records nothing. */
function storeOf(parts: ApiParts): Store {
  const store = parts.view.store;
  if (store) return store;
  throw new HttpError(503, "unavailable", "this daemon records no runs (store: false in the config)", { hint: "remove `store: false` to keep a run history" });
}

/**
 * A time of `since`/`until`: epoch ms (12 digits or more), an ISO 8601 date, or a duration back
 * from now ("2h", "3d"), as `fluid history --since` takes it.
 */
export function parseWhen(value: string, what: string, now: number): number {
  if (/^\d{12,}$/.test(value)) return Number(value);
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const ms = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value);
    if (!Number.isNaN(ms)) return ms;
  } else {
    try {
      return now - parseDuration(value, what);
    } catch {} // not a duration either: the caller answers 400 naming the value
  }
  throw new HttpError(400, "bad_request", `${what}: cannot read "${value}" as a time`, {
    hint: 'epoch ms, a date ("2026-01-31", "2026-01-31T14:00:00Z") or a duration back from now ("2h", "3d")',
  });
}

/** The details of a run by id or unique prefix, or a 404. */
function details(parts: ApiParts, idOrPrefix: string): RunDetails {
  const store = storeOf(parts);
  try {
    return store.getRun(idOrPrefix);
  } catch (error) {
    if (isFluidError(error) && error.code === "FLUID_STORE" && /^no run|ambiguous/.test(error.message)) {
      // The store's own message names its file: not for the API.
      const message = /ambiguous/.test(error.message) ? error.message.split("\n")[0]! : `no run with id "${idOrPrefix}"`;
      throw new HttpError(404, "unknown_run", message, { hint: "GET /api/runs lists runs" });
    }
    throw error;
  }
}

/** GET /api/runs, /api/runs/:id, its logs and their live stream, POST /api/runs/:id/cancel. */
export function runRoutes(app: Hono<ApiEnv>, parts: ApiParts): void {
  const s = apiSchemas();
  app.get("/api/runs", (c) => {
    const q = parseWith(s.RunsQuery, queryOf(c), "query");
    const now = parts.now();
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    if (q.cursor !== undefined && !after) throw new HttpError(400, "bad_request", "invalid cursor", { hint: "pass the `nextCursor` of the previous page unchanged" });
    const runs = storeOf(parts).listRuns({
      ...(q.task ? { task: q.task } : {}), ...(q.state ? { state: q.state } : {}),
      ...(q.since !== undefined ? { since: parseWhen(q.since, "since", now) } : {}),
      ...(q.until !== undefined ? { until: parseWhen(q.until, "until", now) } : {}),
      ...(after ? { after } : {}),
      limit: q.limit + 1,
    });
    const more = runs.length > q.limit;
    if (more) runs.length = q.limit;
    return c.json({ runs: runs.map(runJson), nextCursor: more ? encodeCursor(runs[runs.length - 1]!) : null });
  });

  app.get("/api/runs/:id", (c) => {
    parseWith(s.NoQuery, queryOf(c), "query");
    const d = details(parts, c.req.param("id"));
    return c.json({
      run: runJson(d.run), attempts: d.attempts.map(runJson), logs: d.logs, droppedLogLines: d.droppedLogLines, droppedLogBytes: d.droppedLogBytes,
      parent: d.parent ? runJson(d.parent) : null, root: d.root ? runJson(d.root) : null, children: d.children.map(runJson),
    });
  });

  app.get("/api/runs/:id/logs", (c) => {
    parseWith(s.NoQuery, queryOf(c), "query");
    const d = details(parts, c.req.param("id"));
    return c.json({ id: d.run.id, logs: d.logs, droppedLogLines: d.droppedLogLines });
  });

  app.get("/api/runs/:id/logs/stream", (c) => {
    parseWith(s.NoQuery, queryOf(c), "query");
    const d = details(parts, c.req.param("id"));
    if (c.req.method === "HEAD") return c.body(null, 200, SSE_HEADERS); // no stream to hold open
    const res = c.env.outgoing;
    const id = d.run.id;
    res.writeHead(200, SSE_HEADERS);
    // Recorded lines first (read just now, in this turn), then live ones: none is lost or doubled.
    res.write(d.logs.map((line) => sseMessage("log", line)).join(""));
    let ended = false;
    const abort = new AbortController();
    const end = (): void => {
      if (ended) return;
      ended = true;
      abort.abort();
      listeners?.delete(listener);
      if (listeners?.size === 0) parts.logListeners.delete(id);
      clearInterval(keepAlive);
      let run = d.run;
      try {
        run = parts.view.store?.latestAttempt(id) ?? run;
      } catch {} // the store cannot be read now: end the stream with the run as last seen
      res.end(sseMessage("end", runJson(run)));
    };
    const listener = (event: { type: "log" | "end"; data: unknown }): void => {
      if (event.type === "log") res.write(sseMessage("log", event.data));
      else end();
    };
    let listeners = parts.logListeners.get(id);
    if (!listeners) parts.logListeners.set(id, (listeners = new Set()));
    listeners.add(listener);
    const keepAlive = setInterval(() => res.write(": ping\n\n"), 15_000).unref();
    res.on("close", () => {
      if (!ended) {
        ended = true;
        abort.abort();
        clearInterval(keepAlive);
        listeners?.delete(listener);
        if (listeners?.size === 0) parts.logListeners.delete(id);
      }
    });
    // Ends it too when the end is not seen as an event (cancelled while queued, another daemon ran it).
    parts.view.waitForRun(id, 24 * 3600_000, abort.signal, 1000).then(end, () => {});
    return RESPONSE_ALREADY_SENT;
  });

  app.post("/api/runs/:id/cancel", async (c) => {
    storeOf(parts);
    details(parts, c.req.param("id")); // a 404 for an unknown run
    const result = await parts.view.cancel(c.req.param("id"));
    return c.json({ outcome: result.outcome, run: runJson(result.run) });
  });
}
