import { ownZod } from "../task/own-zod.js";
import type { Task } from "../task/task.js";
import { paramsJsonSchema } from "./routes-tasks.js";
import { apiSchemas } from "./schemas.js";

type Json = Record<string, unknown>;

const ref = (id: string): Json => ({ $ref: `#/components/schemas/${id}` });
const json = (schema: Json, description: string): Json => ({ description, content: { "application/json": { schema } } });
const errors = (...codes: number[]): Json => {
  const text: Record<number, string> = {
    400: "bad request (malformed JSON, a bad query)", 401: "no token sent", 403: "wrong token, or the API has no token (read-only)",
    404: "unknown task, run or route", 413: "body too large", 422: "params rejected by the task's schema", 503: "unavailable",
  };
  return Object.fromEntries(codes.map((c) => [String(c), json(ref("ApiError"), text[c] ?? "error")]));
};
const sse = (description: string): Json => ({ description, content: { "text/event-stream": { schema: { type: "string" } } } });

/** Query parameters of an operation, from a zod object schema. */
function queryParams(schema: unknown): Json[] {
  const js = ownZod().toJSONSchema(schema as never, { io: "input" }) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, s]) => {
    const { description, ...rest } = s;
    return { name, in: "query", required: js.required?.includes(name) ?? false, schema: rest, ...(description ? { description } : {}) };
  });
}

function strip(schema: Json): Json {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

/**
 * The OpenAPI 3.1 document of the API, generated from the zod schemas that validate requests
 * (schemas.ts) and from each task's params schema: besides the generic
 * `POST /api/tasks/{name}/runs`, every task has its own path whose request body is its params.
 */
export function buildOpenApi(version: string, tasks: readonly Task[] = []): Json {
  const s = apiSchemas();
  const z = ownZod();
  const components = z.toJSONSchema(s.registry, { uri: (id) => `#/components/schemas/${id}` }) as { schemas: Record<string, Json> };
  const schemas = Object.fromEntries(Object.entries(components.schemas).map(([id, schema]) => [id, strip(schema)]));
  const nameParam = { name: "name", in: "path", required: true, schema: { type: "string" }, description: "task name" };
  const idParam = { name: "id", in: "path", required: true, schema: { type: "string" }, description: "run id, or a unique prefix of one" };
  const auth = [{ bearer: [] }];
  const queueResponses = {
    "201": json(ref("Queued"), "queued (without ?wait)"), "200": json(ref("Queued"), "the run ended (with ?wait)"),
    "202": json(ref("Queued"), "still going when the wait ran out (timedOut: true)"), ...errors(400, 401, 403, 404, 413, 422),
  };
  const paths: Json = {
    "/healthz": { get: { summary: "The daemon is alive", security: [], responses: { "200": json(ref("Health"), "alive") } } },
    "/readyz": { get: { summary: "Ready: no schedule overdue, the store writable, the backend reachable", responses: { "200": json(ref("Ready"), "ready"), "503": json(ref("Ready"), "not ready; `reasons` says why") } } },
    "/metrics": { get: { summary: "Prometheus metrics (text format 0.0.4)", responses: { "200": { description: "metrics", content: { "text/plain": { schema: { type: "string" } } } } } } },
    "/api/openapi.json": { get: { summary: "This document", responses: { "200": { description: "OpenAPI 3.1", content: { "application/json": { schema: { type: "object" } } } } } } },
    "/api/status": { get: { summary: "The daemon, its queue and pool", responses: { "200": json(ref("Status"), "status"), ...errors(401, 403, 503) } } },
    "/api/events": { get: { summary: "Live events (server-sent events): hello, run-queued, run-start, run-end, fire-skipped, task", responses: { "200": sse("event stream") } } },
    "/api/tasks": { get: { summary: "The tasks", responses: { "200": json(ref("TaskList"), "tasks, by name"), ...errors(401, 403) } } },
    "/api/tasks/{name}": {
      parameters: [nameParam],
      get: { summary: "A task: schedule, next fires, last run, enabled, params schema", responses: { "200": json(ref("TaskDetail"), "the task"), ...errors(401, 403, 404) } },
      patch: {
        summary: "Enable or disable a task", security: auth,
        requestBody: { required: true, content: { "application/json": { schema: ref("PatchTaskBody") } } },
        responses: { "200": json(ref("TaskDetail"), "the task"), ...errors(400, 401, 403, 404, 413) },
      },
    },
    "/api/tasks/{name}/runs": {
      parameters: [nameParam, ...queryParams(s.QueueQuery)],
      post: {
        summary: "Queue a run; params are validated by the task's schema (see the task's own path, or its paramsSchema)", security: auth,
        requestBody: { required: false, content: { "application/json": { schema: ref("QueueBody") } } },
        responses: queueResponses,
      },
    },
    "/api/runs": { get: { summary: "Runs, newest first, with the filters of `fluid history` and a cursor", parameters: queryParams(s.RunsQuery), responses: { "200": json(ref("RunList"), "a page of runs"), ...errors(400, 401, 403, 503) } } },
    "/api/runs/{id}": { parameters: [idParam], get: { summary: "A run: every attempt, logs, parent, root, children", responses: { "200": json(ref("RunDetail"), "the run"), ...errors(401, 403, 404) } } },
    "/api/runs/{id}/logs": { parameters: [idParam], get: { summary: "A run's log lines", responses: { "200": json(ref("RunLogs"), "log lines"), ...errors(401, 403, 404) } } },
    "/api/runs/{id}/logs/stream": { parameters: [idParam], get: { summary: "A run's log lines, then live ones (server-sent events: log, then end)", responses: { "200": sse("event stream"), ...errors(401, 403, 404) } } },
    "/api/runs/{id}/cancel": { parameters: [idParam], post: { summary: "Cancel a run: a queued one is removed, a running one stopped", security: auth, responses: { "200": json(ref("Cancelled"), "what happened"), ...errors(401, 403, 404) } } },
  };
  for (const task of tasks) {
    paths[`/api/tasks/${task.name}/runs`] = {
      parameters: queryParams(s.QueueQuery),
      post: {
        summary: `Queue a run of ${task.name}${task.description ? `: ${task.description}` : ""}`, security: auth,
        requestBody: { required: false, content: { "application/json": { schema: { type: "object", properties: { params: strip(paramsJsonSchema(task)) }, additionalProperties: false } } } },
        responses: queueResponses,
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "fluid-tasks daemon API", version, description: "The HTTP API of `fluid serve --http`." },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    components: { schemas, securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    paths,
  };
}
