import { hostname } from "node:os";
import type { Hono } from "hono";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { parseWith, queryOf, type ApiEnv, type ApiParts } from "./api-context.js";
import { HttpError } from "./http-error.js";
import { buildOpenApi } from "./openapi.js";
import { checkReadiness } from "./readiness.js";
import { apiSchemas, type StatusJson } from "./schemas.js";
import { sseMessage } from "./sse.js";

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
    let queue: StatusJson["queue"];
    try {
      queue = await view.queueCounts();
    } catch (error) {
      throw new HttpError(503, "unavailable", `the queue cannot be read: ${(error as Error).message.split("\n")[0]}`);
    }
    const now = parts.now();
    const status: StatusJson = {
      daemon: {
        pid: view.facts.pid, host: hostname(), version: parts.version, startedAt: view.facts.startedAt, uptimeMs: now - view.facts.startedAt,
        configFile: view.facts.configFile, store: view.facts.store, broker: view.facts.broker, concurrency: view.facts.concurrency,
        tasks: view.tasks().length,
      },
      queue: { ready: queue.ready, delayed: queue.delayed, claimed: queue.claimed },
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
