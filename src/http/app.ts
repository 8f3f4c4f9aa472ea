import { Hono, type Context } from "hono";
import { methodNotAllowed } from "hono/method-not-allowed";
import { isFluidError } from "../core/errors.js";
import { type ApiEnv, type ApiParts } from "./api-context.js";
import { bearerToken, tokenChecker } from "./auth.js";
import { HttpError, tooLarge } from "./http-error.js";
import { runRoutes } from "./routes-runs.js";
import { statusRoutes } from "./routes-status.js";
import { taskRoutes } from "./routes-tasks.js";
import { DASHBOARD_CSP, readAsset } from "./static-assets.js";

/** Options of `createApp`. */
export interface AppOptions {
  /** The bearer token; without one the API is read-only (every mutating request gets a 403). */
  token?: string | undefined;
  /** Require the token on every route but /healthz and the dashboard's files (a non-loopback address). Default false. */
  tokenForAll?: boolean;
  /**
   * Largest request body, bytes.
   * @default 1048576 (1 MiB)
   */
  bodyLimit?: number;
  /** The dashboard's files; none served without. */
  dashboardDir?: string | undefined;
  /** Receives errors the API answered with a 500 (the client sees no detail). */
  onError?: (error: unknown) => void;
}

/** Paths that never need a token: liveness, and the dashboard's static files (they hold no data). */
function isOpenPath(path: string): boolean {
  return path === "/healthz" || !(path.startsWith("/api/") || path === "/api" || path === "/metrics" || path === "/readyz");
}

/** The API as a hono app (routes, auth, limits, errors); `startHttpServer` serves it. */
export function createApp(parts: ApiParts, options: AppOptions = {}): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  const check = options.token ? tokenChecker(options.token) : undefined;

  app.onError((error, c) => {
    const answer = toHttpError(error);
    if (answer.status >= 500 && answer.code === "internal") options.onError?.(error);
    return c.json(answer.body(), answer.status as 400, answer.headers ?? {});
  });

  app.use("*", async (c, next) => {
    await next();
    c.res.headers.set("x-content-type-options", "nosniff");
    c.res.headers.set("referrer-policy", "no-referrer");
  });

  app.use("*", async (c, next) => {
    const method = c.req.method;
    const mutating = method !== "GET" && method !== "HEAD" && method !== "OPTIONS";
    if (!mutating && !(options.tokenForAll && !isOpenPath(c.req.path))) return next();
    if (!check) {
      throw new HttpError(403, "forbidden", "this daemon has no API token, so its API is read-only", {
        hint: "start it with FLUID_TOKEN=<secret> (or http.token in fluid.config.ts) and send Authorization: Bearer <secret>",
      });
    }
    // EventSource cannot send headers: a GET may carry the token as ?token=.
    const sent = bearerToken(c.req.header("authorization")) ?? (mutating ? undefined : c.req.query("token"));
    const result = check(sent);
    if (result === "missing") {
      throw new HttpError(401, "unauthorized", mutating ? "this request changes something: it needs the API token" : "this daemon listens beyond this machine: every request needs the API token", {
        hint: "send Authorization: Bearer <token> (the token is http.token in fluid.config.ts, or FLUID_TOKEN)",
        headers: { "www-authenticate": 'Bearer realm="fluid"' },
      });
    }
    if (result === "wrong") throw new HttpError(403, "forbidden", "wrong API token");
    return next();
  });

  const maxBody = options.bodyLimit ?? 1 << 20;
  app.use("*", async (c, next) => {
    // A declared length is refused before reading; a chunked body is counted as it is read (jsonBody).
    const length = Number(c.req.header("content-length") ?? 0);
    if (length > maxBody) throw tooLarge(maxBody);
    c.set("maxBody", maxBody);
    return next();
  });

  app.use("*", methodNotAllowed({
    app,
    onMethodNotAllowed: (c: Context, methods: string[]) => {
      throw new HttpError(405, "method_not_allowed", `${c.req.method} is not allowed on ${c.req.path}; allowed: ${methods.join(", ")}`, { headers: { allow: methods.join(", ") } });
    },
  }));

  statusRoutes(app, parts);
  taskRoutes(app, parts);
  runRoutes(app, parts);

  app.notFound(async (c) => {
    const path = c.req.path;
    const method = c.req.method;
    if ((method === "GET" || method === "HEAD") && options.dashboardDir && !path.startsWith("/api/")) {
      const asset = await readAsset(options.dashboardDir, path);
      if (asset) {
        const headers: Record<string, string> = { "content-type": asset.type, "cache-control": "no-cache", etag: asset.etag };
        if (asset.type.startsWith("text/html")) headers["content-security-policy"] = DASHBOARD_CSP;
        if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304, headers);
        return c.body(new Uint8Array(asset.body), 200, headers);
      }
    }
    const e = new HttpError(404, "not_found", `no route ${method} ${path}`, { hint: "GET /api/openapi.json describes the API" });
    return c.json(e.body(), 404);
  });
  return app;
}

/** Any error as the API answers it: its own, a fluid error it knows, else a 500 without detail. */
function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (isFluidError(error)) {
    const hint = error.hint ? { hint: error.hint } : {};
    if (error.code === "FLUID_UNKNOWN_TASK") return new HttpError(404, "unknown_task", error.message, hint);
    if (error.code === "FLUID_USAGE") return new HttpError(400, "bad_request", error.message.split("\n")[0]!, hint);
    if (error.code === "FLUID_BACKEND") return new HttpError(503, "unavailable", "the fleet's run history cannot be read now (the backend does not answer)", hint);
    if (error.code === "FLUID_STORE" || error.code === "FLUID_BROKER_CLOSED" || error.code === "FLUID_STORE_GONE") {
      return new HttpError(503, "unavailable", "the run store cannot be used now", hint);
    }
  }
  return new HttpError(500, "internal", "internal error; the daemon's log has the details");
}
