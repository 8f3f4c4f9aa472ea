import type { Hono } from "hono";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { parseDuration } from "../core/duration.js";
import { isFluidError } from "../core/errors.js";
import type { RunDetails } from "../core/run-record.js";
import { storeReader, type RunReader } from "../store/run-reader.js";
import { parseWith, queryOf, type ApiEnv, type ApiParts } from "./api-context.js";
import { HttpError } from "./http-error.js";
import { decodeCursor, encodeCursor, runJson } from "./run-json.js";
import { apiSchemas } from "./schemas.js";
import { SSE_HEADERS, sseMessage } from "./sse.js";

/** Where runs are read (the fleet's run history on a backend, else the store), or a 503 when the daemon records nothing. */
function runsOf(parts: ApiParts): RunReader {
  const { runs, store } = parts.view;
  if (runs) return runs;
  if (store) return storeReader(store);
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

/** The details of a run by id or unique prefix, or a 404. Read when called (a store's read is done before this returns its promise). */
async function details(parts: ApiParts, idOrPrefix: string): Promise<RunDetails> {
  const runs = runsOf(parts);
  try {
    return await runs.getRun(idOrPrefix);
  } catch (error) {
    if (isFluidError(error) && error.code === "FLUID_STORE" && /^no run|ambiguous/.test(error.message)) {
      // The store's own message names its file: not for the API.
      const message = /ambiguous/.test(error.message) ? error.message.split("\n")[0]! : `no run with id "${idOrPrefix}"`;
      throw new HttpError(404, "unknown_run", message, { hint: "GET /api/runs lists runs" });
    }
    throw error;
  }
}

/** How often a log stream reads a fleet run's new lines from the run history, ms. */
export const FLEET_LOG_POLL_MS = 500;

/** Log lines of `logs` not yet sent, per attempt (`sent`: how many of each attempt went out), in order; counts them as sent. */
function unsent(logs: RunDetails["logs"], sent: Map<number, number>): RunDetails["logs"] {
  const seen = new Map<number, number>();
  const out: RunDetails["logs"] = [];
  for (const line of logs) {
    const n = seen.get(line.attempt) ?? 0;
    seen.set(line.attempt, n + 1);
    if (n >= (sent.get(line.attempt) ?? 0)) out.push(line);
  }
  for (const [attempt, n] of seen) sent.set(attempt, Math.max(n, sent.get(attempt) ?? 0));
  return out;
}

/** GET /api/runs, /api/runs/:id, its logs and their live stream, POST /api/runs/:id/cancel. */
export function runRoutes(app: Hono<ApiEnv>, parts: ApiParts): void {
  const s = apiSchemas();
  app.get("/api/runs", async (c) => {
    const q = parseWith(s.RunsQuery, queryOf(c), "query");
    const now = parts.now();
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    if (q.cursor !== undefined && !after) throw new HttpError(400, "bad_request", "invalid cursor", { hint: "pass the `nextCursor` of the previous page unchanged" });
    const runs = await runsOf(parts).listRuns({
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

  app.get("/api/runs/:id", async (c) => {
    parseWith(s.NoQuery, queryOf(c), "query");
    const d = await details(parts, c.req.param("id"));
    return c.json({
      run: runJson(d.run), attempts: d.attempts.map(runJson), logs: d.logs, droppedLogLines: d.droppedLogLines, droppedLogBytes: d.droppedLogBytes,
      parent: d.parent ? runJson(d.parent) : null, root: d.root ? runJson(d.root) : null, children: d.children.map(runJson),
    });
  });

  app.get("/api/runs/:id/logs", async (c) => {
    parseWith(s.NoQuery, queryOf(c), "query");
    const d = await details(parts, c.req.param("id"));
    return c.json({ id: d.run.id, logs: d.logs, droppedLogLines: d.droppedLogLines });
  });

  app.get("/api/runs/:id/logs/stream", async (c) => {
    parseWith(s.NoQuery, queryOf(c), "query");
    const fleet = parts.view.fleet === true;
    // This daemon's lines, from before the read: an embedded store's read is done before `details` returns its promise,
    // so the lines that come while it is awaited are exactly those it missed.
    // On a fleet the lines are read from the run history (polled), this daemon's "end" of the run still ends the stream at once.
    const early: unknown[] = [];
    let live: ((data: unknown) => void) | undefined;
    let endSeen = false;
    let streaming = false;
    const hold = (event: { type: "log" | "end"; data: unknown }): void => {
      if (event.type === "end") {
        if (streaming) void end();
        else endSeen = true;
      } else if (!fleet) {
        if (live) live(event.data);
        else early.push(event.data);
      }
    };
    const idOrPrefix = c.req.param("id");
    const listen = (key: string): void => {
      let set = parts.logListeners.get(key);
      if (!set) parts.logListeners.set(key, (set = new Set()));
      set.add(hold);
    };
    // Listening by the id as given, before the read (a prefix is resolved by it; then moved below).
    listen(idOrPrefix);
    const unhold = (key: string): void => {
      const set = parts.logListeners.get(key);
      set?.delete(hold);
      if (set?.size === 0) parts.logListeners.delete(key);
    };
    let d: RunDetails;
    try {
      d = await details(parts, idOrPrefix);
    } catch (error) {
      unhold(idOrPrefix);
      throw error;
    }
    const id = d.run.id;
    if (id !== idOrPrefix) {
      // Given a prefix: nothing could be heard under it; listen by the full id from now on (same turn as the read for a store).
      unhold(idOrPrefix);
      listen(id);
    }
    if (c.req.method === "HEAD") {
      unhold(id);
      return c.body(null, 200, SSE_HEADERS); // no stream to hold open
    }
    const res = c.env.outgoing;
    res.writeHead(200, SSE_HEADERS);
    // Recorded lines first, then live ones: none is lost or doubled.
    const sent = new Map<number, number>();
    res.write(unsent(d.logs, sent).map((line) => sseMessage("log", line)).join(""));
    if (!fleet) {
      for (const line of early) res.write(sseMessage("log", line));
      live = (data) => res.write(sseMessage("log", data));
    }
    let ended = false;
    const abort = new AbortController();
    const stop = (): void => {
      ended = true;
      abort.abort();
      unhold(id);
      clearInterval(keepAlive);
      clearTimeout(poll);
    };
    /** A fleet run's new lines, from the run history (any daemon may run it). */
    const readNew = async (): Promise<RunDetails | undefined> => {
      try {
        const now = await runsOf(parts).getRun(id);
        if (!ended) res.write(unsent(now.logs, sent).map((line) => sseMessage("log", line)).join(""));
        return now;
      } catch {
        return undefined; // the backend cannot be read now: the next poll tries again
      }
    };
    let poll: NodeJS.Timeout | undefined;
    const schedulePoll = (): void => {
      poll = setTimeout(() => void readNew().then(() => !ended && schedulePoll()), FLEET_LOG_POLL_MS);
      poll.unref();
    };
    if (fleet) schedulePoll();
    const end = async (): Promise<void> => {
      if (ended) return;
      let run = d.run;
      if (fleet) {
        clearTimeout(poll);
        run = (await readNew())?.run ?? run; // the last lines, then the end
      } else {
        try {
          run = (await runsOf(parts).latestAttempt(id)) ?? run;
        } catch {} // the store cannot be read now: end the stream with the run as last seen
      }
      if (ended) return;
      stop();
      res.end(sseMessage("end", runJson(run)));
    };
    const keepAlive = setInterval(() => res.write(": ping\n\n"), 15_000).unref();
    res.on("close", () => {
      if (!ended) stop();
    });
    // This daemon's "end" of the run ends the stream at once.
    streaming = true;
    if (endSeen) void end();
    // Ends it too when the end is not seen as an event (cancelled while queued, another daemon ran it).
    parts.view.waitForRun(id, 24 * 3600_000, abort.signal, fleet ? FLEET_LOG_POLL_MS : 1000).then(end, () => {});
    return RESPONSE_ALREADY_SENT;
  });

  app.post("/api/runs/:id/cancel", async (c) => {
    runsOf(parts);
    await details(parts, c.req.param("id")); // a 404 for an unknown run
    const result = await parts.view.cancel(c.req.param("id"));
    return c.json({ outcome: result.outcome, run: runJson(result.run) });
  });
}
