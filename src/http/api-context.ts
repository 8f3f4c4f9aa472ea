import type { Context } from "hono";
import type { HttpBindings } from "@hono/node-server";
import type { Metrics } from "./metrics.js";
import type { SseHub } from "./sse.js";
import type { DaemonView } from "./view.js";
import { HttpError, toIssues, tooLarge } from "./http-error.js";

/** Hono's environment of the API: the Node request and response are reachable (for streams). */
export type ApiEnv = { Bindings: HttpBindings; Variables: { maxBody: number } };

/** What every route handler may use. */
export interface ApiParts {
  view: DaemonView;
  metrics: Metrics;
  hub: SseHub;
  now: () => number;
  /** Per-run log streams: run id -> listeners. */
  logListeners: Map<string, Set<(event: { type: "log" | "end"; data: unknown }) => void>>;
  overdueToleranceMs: number;
  version: string;
  host: string;
}

/** A zod-like schema: what `parseWith` needs. */
interface Parser<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string; code?: string }> } };
}

/** Validates `value` with `schema`, or throws a 400 (or `status`) with the issues. */
export function parseWith<T>(schema: Parser<T>, value: unknown, what: string, status = 400): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = toIssues(result.error.issues);
  const first = issues[0];
  throw new HttpError(status, status === 422 ? "invalid_params" : "bad_request", `invalid ${what}${first ? `: ${first.path.length ? `${first.path.join(".")}: ` : ""}${first.message}` : ""}`, { issues });
}

/** The query of a request as one value per key (a repeated key is a 400). */
export function queryOf(c: Context<ApiEnv>): Record<string, string> {
  const all = c.req.queries();
  const out: Record<string, string> = {};
  for (const [key, values] of Object.entries(all)) {
    if (key === "token") continue; // credentials, checked by the auth middleware
    if (values.length > 1) throw new HttpError(400, "bad_request", `query parameter "${key}" is given ${values.length} times`);
    out[key] = values[0]!;
  }
  return out;
}

/** The JSON body of a request (`{}` when empty); a 400 for malformed JSON or another content type. */
export async function jsonBody(c: Context<ApiEnv>): Promise<unknown> {
  const text = await readText(c);
  if (text.trim() === "") return {};
  const type = c.req.header("content-type");
  if (type && !/^application\/(?:[\w.+-]*\+)?json\b/i.test(type)) {
    throw new HttpError(400, "bad_request", `the body must be JSON (content-type: application/json), got "${type}"`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, "bad_request", `malformed JSON body: ${(error as Error).message}`);
  }
}

/** The body as text, read up to the body limit (a 413 beyond it, however the body is sent). */
async function readText(c: Context<ApiEnv>): Promise<string> {
  const body = c.req.raw.body;
  if (!body) return "";
  const max = c.get("maxBody") ?? 1 << 20;
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      void reader.cancel().catch(() => {});
      throw tooLarge(max);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
