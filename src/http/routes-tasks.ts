import type { Hono } from "hono";
import { parseDuration } from "../core/duration.js";
import { isFluidError, type ParamsError } from "../core/errors.js";
import type { RunRecord } from "../core/run-record.js";
import { storeReader, type RunReader } from "../store/run-reader.js";
import { httpZod } from "./zod.js";
import type { Task } from "../task/task.js";
import { jsonBody, parseWith, queryOf, type ApiEnv, type ApiParts } from "./api-context.js";
import { HttpError } from "./http-error.js";
import { runJson } from "./run-json.js";
import { apiSchemas, type TaskDetailJson, type TaskSummaryJson } from "./schemas.js";

/** The longest `?wait=` a request may ask for, ms. */
export const MAX_WAIT_MS = 10 * 60_000;

const paramsSchemas = new WeakMap<object, Record<string, unknown>>();

/** The JSON Schema of a task's params (what a caller sends), from its zod schema; made once per schema. */
export function paramsJsonSchema(task: Task): Record<string, unknown> {
  let schema = paramsSchemas.get(task.params);
  if (!schema) {
    try {
      schema = httpZod().toJSONSchema(task.params, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
    } catch {
      schema = { type: "object" }; // a schema JSON Schema cannot express (a custom refinement); the run is still validated
    }
    paramsSchemas.set(task.params, schema);
  }
  return schema;
}

/** The task of that name, or a 404. */
export function findTask(parts: ApiParts, name: string): Task {
  const task = parts.view.tasks().find((t) => t.name === name);
  if (task) return task;
  throw new HttpError(404, "unknown_task", `no task named "${name}"`, { hint: "GET /api/tasks lists the tasks" });
}

/** Where runs are read: the fleet's run history on a backend, else the store (undefined: none). */
function runsOf(parts: ApiParts): RunReader | undefined {
  return parts.view.runs ?? (parts.view.store ? storeReader(parts.view.store) : undefined);
}

/** The last run of each task (one read for all of them); empty when it cannot be read now (the tasks are shown without it). */
async function lastRuns(parts: ApiParts, tasks: readonly Task[]): Promise<Map<string, RunRecord>> {
  try {
    return (await runsOf(parts)?.lastRuns(tasks.map((t) => t.name))) ?? new Map();
  } catch {
    return new Map(); // the store (or the backend) cannot be read now
  }
}

function summary(parts: ApiParts, task: Task, running: Map<string, number>, lasts: Map<string, RunRecord>): TaskSummaryJson {
  const state = parts.view.taskStates().get(task.name);
  const enabled = state?.enabled !== false;
  const next = task.schedule && enabled ? task.schedule.next(new Date(parts.now())) : null;
  const lastRun = lasts.get(task.name);
  return {
    name: task.name, description: task.description, tags: [...task.tags], cpuBound: task.cpuBound, priority: task.priority,
    schedule: task.schedule
      ? { kind: task.schedule.kind, source: task.schedule.toString(), describe: task.schedule.describe(), timezone: task.schedule.timezone ?? null }
      : null,
    nextFire: next ? next.getTime() : null,
    enabled, disabledReason: enabled ? null : (state?.reason ?? null), enabledChangedAt: state?.changedAt ?? null,
    lastRun: lastRun ? runJson(lastRun) : null,
    running: running.get(task.name) ?? 0,
  };
}

function runningByTask(parts: ApiParts): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of parts.view.running()) counts.set(r.task, (counts.get(r.task) ?? 0) + 1);
  return counts;
}

async function detail(parts: ApiParts, task: Task): Promise<TaskDetailJson> {
  const base = summary(parts, task, runningByTask(parts), await lastRuns(parts, [task]));
  const nextFires: number[] = [];
  if (task.schedule && base.enabled) {
    let at = new Date(parts.now());
    for (let i = 0; i < 5; i++) {
      const next = task.schedule.next(at);
      if (!next) break;
      nextFires.push(next.getTime());
      at = next;
    }
  }
  let recentRuns: RunRecord[] = [];
  try {
    recentRuns = (await runsOf(parts)?.listRuns({ task: task.name, limit: 20 })) ?? [];
  } catch {} // the store (or the backend) cannot be read now: the task is shown without its recent runs
  const retry = task.retry ? { attempts: task.retry.attempts, delayMs: task.retry.delayMs, backoff: task.retry.backoff, maxDelayMs: task.retry.maxDelayMs } : null;
  return {
    ...base, nextFires, paramsSchema: paramsJsonSchema(task), timeoutMs: task.timeoutMs, retry, overlap: task.overlap,
    maxConcurrency: task.maxConcurrency > 0 && Number.isFinite(task.maxConcurrency) ? task.maxConcurrency : null, recentRuns: recentRuns.map(runJson),
  };
}

/** GET /api/tasks, GET and PATCH /api/tasks/:name, POST /api/tasks/:name/runs. */
export function taskRoutes(app: Hono<ApiEnv>, parts: ApiParts): void {
  const s = apiSchemas();
  app.get("/api/tasks", async (c) => {
    parseWith(s.NoQuery, queryOf(c), "query");
    const running = runningByTask(parts);
    const tasks = parts.view.tasks();
    const lasts = await lastRuns(parts, tasks);
    return c.json({ tasks: tasks.map((t) => summary(parts, t, running, lasts)) });
  });

  app.get("/api/tasks/:name", async (c) => {
    parseWith(s.NoQuery, queryOf(c), "query");
    return c.json(await detail(parts, findTask(parts, c.req.param("name"))));
  });

  app.patch("/api/tasks/:name", async (c) => {
    const task = findTask(parts, c.req.param("name"));
    const body = parseWith(s.PatchTaskBody, await jsonBody(c), "body");
    await parts.view.setEnabled(task.name, body.enabled, body.reason);
    parts.hub.publish("task", { name: task.name, enabled: body.enabled, reason: body.reason ?? null });
    return c.json(await detail(parts, task));
  });

  app.post("/api/tasks/:name/runs", async (c) => {
    const task = findTask(parts, c.req.param("name"));
    const query = parseWith(s.QueueQuery, queryOf(c), "query");
    let waitMs: number | undefined;
    if (query.wait !== undefined) {
      try {
        waitMs = parseDuration(query.wait, "wait");
      } catch (error) {
        throw new HttpError(400, "bad_request", (error as Error).message, { hint: 'e.g. ?wait=30s, ?wait=2m or ?wait=500 (ms)' });
      }
      if (waitMs > MAX_WAIT_MS) throw new HttpError(400, "bad_request", `wait must be at most 10m, got ${query.wait}`);
    }
    const body = parseWith(s.QueueBody, await jsonBody(c), "body");
    const params = body.params ?? {};
    // The task's own zod schema decides; its issues are the answer.
    parseWith(task.params as never, params, `params for task "${task.name}"`, 422);
    let id: string;
    try {
      id = await parts.view.queue(task.name, params);
    } catch (error) {
      if (isFluidError(error) && error.code === "FLUID_PARAMS") {
        const issues = (error as ParamsError).issues.map((i) => ({ path: i.path ? i.path.split(".") : [], message: i.message }));
        throw new HttpError(422, "invalid_params", `invalid params for task "${task.name}"`, { issues });
      }
      throw error;
    }
    // The run as recorded (on a fleet, the history may not have this daemon's `queued` record yet: then its own store's).
    const current = async (): Promise<RunRecord> => {
      let run: RunRecord | undefined;
      try {
        run = (await runsOf(parts)?.latestAttempt(id)) ?? parts.view.store?.latestAttempt(id);
      } catch {} // cannot be read now: the run as queued
      return run ?? {
        id, attempt: 1, maxAttempts: task.retry?.attempts ?? 1, task: task.name, state: "queued", trigger: "queue", params: {}, queuedAt: parts.now(), host: "", pid: process.pid,
      };
    };
    if (waitMs === undefined) {
      return c.json({ run: runJson(await current()) }, 201, { location: `/api/runs/${id}` });
    }
    const aborted = new AbortController();
    c.env?.outgoing?.once("close", () => aborted.abort()); // the client went away
    try {
      const run = await parts.view.waitForRun(id, waitMs, aborted.signal);
      return c.json({ run: runJson(run) }, 200, { location: `/api/runs/${id}` });
    } catch (error) {
      if (isFluidError(error) && (error.code === "FLUID_WAIT_TIMEOUT" || error.code === "FLUID_INTERRUPTED")) {
        return c.json({ run: runJson(await current()), timedOut: true }, 202, { location: `/api/runs/${id}` });
      }
      throw error;
    }
  });
}
