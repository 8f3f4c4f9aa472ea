import { hostname } from "node:os";
import type { Hono } from "hono";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { parseWith, queryOf, type ApiEnv, type ApiParts } from "./api-context.js";
import { HttpError } from "./http-error.js";
import { buildOpenApi } from "./openapi.js";
import { checkReadiness } from "./readiness.js";
import { apiSchemas, type StatusJson } from "./schemas.js";
import { SSE_HEADERS, sseMessage } from "./sse.js";

/** How long /api/status waits for the queue's counts from a fleet backend, ms. */
const QUEUE_TIMEOUT_MS = 2000;

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** GET /healthz, /readyz, /metrics, /api/status, /api/events, /api/openapi.json. */
export function statusRoutes(app: Hono<ApiEnv>, parts: ApiParts): void {
  const s = apiSchemas();
  const { view } = parts;
  app.get("/healthz", (c) => c.json({ status: "ok" as const, uptimeMs: parts.now() - view.facts.startedAt }));

  app.get("/readyz", async (c) => {
    const ready = await checkReadiness(view, { now: parts.now(), overdueToleranceMs: parts.overdueToleranceMs, backendTimeoutMs: 2000 });
    return c.json(ready, ready.ready ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    const text = await parts.metrics.render({ sseClients: parts.hub.size });
    return c.body(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });

  app.get("/api/status", async (c) => {
    parseWith(s.NoQuery, queryOf(c), "query");
    const backend = view.backend?.() ?? null;
    let queue: StatusJson["queue"] = null;
    // A backend known to be down is not asked (a Redis command waits for the reconnect): the status says so instead.
    if (backend?.state !== "down") {
      try {
        const counts = await withTimeout(view.queueCounts(), QUEUE_TIMEOUT_MS);
        queue = { ready: counts.ready, delayed: counts.delayed, claimed: counts.claimed };
      } catch (error) {
        // Without a backend the queue is the store's: a failure to read it is the daemon's, not a status.
        if (!backend) throw new HttpError(503, "unavailable", `the queue cannot be read: ${(error as Error).message.split("\n")[0]}`);
      }
    }
    const now = parts.now();
    const status: StatusJson = {
      daemon: {
        pid: view.facts.pid, host: hostname(), version: parts.version, startedAt: view.facts.startedAt, uptimeMs: now - view.facts.startedAt,
        configFile: view.facts.configFile, store: view.facts.store, broker: view.facts.broker, concurrency: view.facts.concurrency,
        tasks: view.tasks().length, serves: view.facts.serves ? [...view.facts.serves] : null, firesSchedules: view.facts.firesSchedules ?? true,
      },
      backend,
      queue,
      running: view.running(),
      pool: view.poolStats(),
      upcoming: view.upcoming(10).map((f) => ({ task: f.task, at: f.at })),
      eventLoopLagMs: parts.metrics.lagP99Ms(),
      sseClients: parts.hub.size,
    };
    return c.json(status);
  });

  app.get("/api/events", (c) => {
    parseWith(s.NoQuery, queryOf(c), "query");
    if (c.req.method === "HEAD") return c.body(null, 200, SSE_HEADERS); // no stream to hold open
    parts.hub.add(c.env.outgoing, sseMessage("hello", { at: parts.now() }));
    return RESPONSE_ALREADY_SENT;
  });

  let openapi: { tasks: readonly unknown[]; text: string } | undefined;
  app.get("/api/openapi.json", (c) => {
    const tasks = view.tasks();
    if (openapi?.tasks !== tasks) openapi = { tasks, text: JSON.stringify(buildOpenApi(parts.version, tasks)) };
    return c.body(openapi.text, 200, { "content-type": "application/json; charset=utf-8" });
  });
}
