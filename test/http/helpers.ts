import { z } from "zod";
import { daemonView } from "../../src/cli/http-view.js";
import type { ServeOptions } from "../../src/daemon/serve.js";
import { startHttpServer, type HttpServer, type HttpServerOptions } from "../../src/http/server.js";
import type { DaemonView } from "../../src/http/view.js";
import { startDaemon, type TestDaemon } from "../daemon/helpers.js";

/** A daemon in this process with its HTTP API on an ephemeral loopback port. */
export interface TestApi {
  d: TestDaemon;
  server: HttpServer;
  /** The base URL, without the trailing slash. */
  base: string;
  token: string;
  /** fetch relative to the base; `auth: true` sends the token. */
  call(path: string, init?: RequestInit & { auth?: boolean; json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

export const TOKEN = "test-token-0123456789";

/** Starts a daemon on `tasks` and serves its API (with TOKEN unless `http.token` says otherwise). */
export async function startApi(
  tasks: string,
  http: Partial<HttpServerOptions> = {},
  options: { serve?: ServeOptions; wrap?: (view: DaemonView) => DaemonView } = {},
): Promise<TestApi> {
  const d = await startDaemon(tasks, options.serve ?? {});
  let server: HttpServer;
  try {
    const view = daemonView(d.daemon);
    server = await startHttpServer(options.wrap ? options.wrap(view) : view, { host: "127.0.0.1", port: 0, token: TOKEN, ...http });
  } catch (error) {
    await d.close();
    throw error;
  }
  const base = server.url.replace(/\/$/, "");
  const token = "token" in http ? (http.token ?? "") : TOKEN;
  return {
    d, server, base, token,
    call(path, init = {}) {
      const { auth, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (auth) headers.set("authorization", `Bearer ${token}`);
      if (json !== undefined) headers.set("content-type", "application/json");
      return fetch(base + path, { ...rest, headers, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) });
    },
    async close() {
      await server.close();
      await d.close();
    },
  };
}

type Json = Record<string, unknown>;

/**
 * Checks bodies against the OpenAPI document the server publishes: the JSON schema of the
 * response (path template, method, status) becomes a zod schema (zod's fromJSONSchema, with the
 * document's components as $defs), which must accept the body.
 */
export function contract(doc: Json): (method: string, path: string, status: number, body: unknown) => void {
  const components = (doc.components as { schemas: Record<string, Json> }).schemas;
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === "$ref" && typeof v === "string" ? v.replace("#/components/schemas/", "#/$defs/") : rewrite(v)]));
    }
    return value;
  };
  const defs = rewrite(components) as Record<string, Json>;
  return (method, path, status, body) => {
    const op = ((doc.paths as Json)[path] as Json | undefined)?.[method.toLowerCase()] as { responses: Record<string, { content?: Record<string, { schema: Json }> }> } | undefined;
    if (!op) throw new Error(`the OpenAPI document has no ${method} ${path}`);
    const response = op.responses[String(status)];
    if (!response) throw new Error(`the OpenAPI document has no ${status} answer for ${method} ${path}`);
    const schema = response.content?.["application/json"]?.schema;
    if (!schema) throw new Error(`${method} ${path} ${status} is not JSON in the document`);
    const zod = z.fromJSONSchema({ $schema: "https://json-schema.org/draft/2020-12/schema", ...(rewrite(schema) as Json), $defs: defs } as never);
    const result = zod.safeParse(body);
    if (!result.success) throw new Error(`${method} ${path} ${status} does not match the document: ${JSON.stringify(result.error.issues.slice(0, 3))}\n${JSON.stringify(body).slice(0, 500)}`);
  };
}

/** Reads server-sent events from a response until `until` accepts one or the time is up. */
export async function readEvents(res: Response, until: (events: Array<{ event: string; data: unknown }>) => boolean, timeoutMs = 10_000): Promise<Array<{ event: string; data: unknown }>> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: Array<{ event: string; data: unknown }> = [];
  let buffer = "";
  const timer = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) as unknown });
      }
      if (until(events)) break;
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
  return events;
}
