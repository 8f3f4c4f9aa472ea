import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contract, readEvents, startApi, type TestApi } from "./helpers.js";

// The API against the OpenAPI document it publishes: every answer checked here must match the
// document's schema for its route and status.

const TASKS = `
import { task, every } from "fluid-tasks";
import { z } from "zod";
const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener("abort", () => { clearTimeout(t); reject(signal.reason); }, { once: true });
});
export const greet = task({ description: "says hello", params: z.object({ name: z.string().describe("who"), times: z.number().int().min(1).default(1) }) }, async (ctx) => {
  for (let i = 0; i < ctx.params.times; i++) ctx.log.info("hello " + ctx.params.name);
  return "hello " + ctx.params.name;
});
export const nap = task({ params: z.object({ ms: z.number().default(100) }), maxConcurrency: 1 }, async (ctx) => {
  ctx.log.info("napping");
  await sleep(ctx.params.ms, ctx.signal);
});
export const boom = task({}, async () => { throw new Error("boom"); });
export const hourly = task({ schedule: every("1h") }, async () => {});
`;

describe("HTTP API contract", () => {
  let api: TestApi;
  let check: ReturnType<typeof contract>;
  let doc: Record<string, any>;
  beforeAll(async () => {
    api = await startApi(TASKS);
    doc = (await (await api.call("/api/openapi.json")).json()) as Record<string, any>;
    check = contract(doc);
  });
  afterAll(async () => {
    await api?.close();
  });

  /** Calls, checks the answer against the document, returns status and body. */
  const call = async (method: string, template: string, path: string, init: Parameters<TestApi["call"]>[1] = {}) => {
    const res = await api.call(path, { ...init, method });
    const body = (await res.json()) as any;
    check(method, template, res.status, body);
    return { status: res.status, body, res };
  };

  it("publishes an OpenAPI 3.1 document whose per-task paths carry the task's params schema", () => {
    expect(doc.openapi).toBe("3.1.0");
    const body = doc.paths["/api/tasks/greet/runs"].post.requestBody.content["application/json"].schema;
    expect(body.properties.params).toMatchObject({ type: "object", properties: { name: { type: "string", description: "who" }, times: { type: "integer", default: 1 } }, required: ["name"] });
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(["Run", "TaskDetail", "RunList", "ApiError", "Status"]));
  });

  it("the contract check rejects an answer the document does not describe", () => {
    expect(() => check("GET", "/healthz", 200, { status: "fine", uptimeMs: 1 })).toThrow(/does not match/);
    expect(() => check("GET", "/api/runs", 200, { runs: [{ id: "x" }], nextCursor: null })).toThrow(/does not match/);
    expect(() => check("GET", "/api/runs", 200, { runs: [], nextCursor: null })).not.toThrow();
  });

  it("GET /healthz, /readyz and /api/status", async () => {
    expect((await call("GET", "/healthz", "/healthz")).body.status).toBe("ok");
    const ready = await call("GET", "/readyz", "/readyz");
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ ready: true });
    const status = await call("GET", "/api/status", "/api/status");
    expect(status.body.daemon).toMatchObject({ pid: process.pid, broker: "sqlite", tasks: 4 });
    expect(status.body.upcoming[0]).toMatchObject({ task: "hourly" });
  });

  it("GET /api/tasks and /api/tasks/:name: schedule, next fires, enabled, params schema", async () => {
    const list = await call("GET", "/api/tasks", "/api/tasks");
    expect(list.body.tasks.map((t: { name: string }) => t.name)).toEqual(["boom", "greet", "hourly", "nap"]);
    const hourly = list.body.tasks.find((t: { name: string }) => t.name === "hourly");
    expect(hourly).toMatchObject({ enabled: true, schedule: { kind: "every", describe: "every 1h" } });
    expect(hourly.nextFire).toBeGreaterThan(Date.now());
    const detail = await call("GET", "/api/tasks/{name}", "/api/tasks/hourly");
    expect(detail.body.nextFires).toHaveLength(5);
    expect(detail.body.nextFires[1] - detail.body.nextFires[0]).toBe(3_600_000);
    const greet = await call("GET", "/api/tasks/{name}", "/api/tasks/greet");
    expect(greet.body.paramsSchema).toMatchObject({ type: "object", required: ["name"] });
    const unknown = await call("GET", "/api/tasks/{name}", "/api/tasks/nope");
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("unknown_task");
  });

  it("PATCH /api/tasks/:name disables and enables a task, with a reason", async () => {
    const off = await call("PATCH", "/api/tasks/{name}", "/api/tasks/hourly", { auth: true, json: { enabled: false, reason: "maintenance" } });
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ enabled: false, disabledReason: "maintenance", nextFire: null });
    expect(api.d.daemon.taskStates().get("hourly")).toMatchObject({ enabled: false, reason: "maintenance" });
    const on = await call("PATCH", "/api/tasks/{name}", "/api/tasks/hourly", { auth: true, json: { enabled: true } });
    expect(on.body).toMatchObject({ enabled: true, disabledReason: null });
    const bad = await call("PATCH", "/api/tasks/{name}", "/api/tasks/hourly", { auth: true, json: { enabled: "no" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toEqual(["enabled"]);
  });

  it("POST /api/tasks/:name/runs queues (201), waits (200), and answers 422 with the zod issues", async () => {
    const queued = await call("POST", "/api/tasks/{name}/runs", "/api/tasks/greet/runs", { auth: true, json: { params: { name: "ann" } } });
    expect(queued.status).toBe(201);
    expect(queued.res.headers.get("location")).toBe(`/api/runs/${queued.body.run.id}`);
    expect(queued.body.run).toMatchObject({ task: "greet", trigger: "queue", params: { name: "ann", times: 1 } });

    const waited = await call("POST", "/api/tasks/{name}/runs", "/api/tasks/greet/runs?wait=10s", { auth: true, json: { params: { name: "bob", times: 2 } } });
    expect(waited.status).toBe(200);
    expect(waited.body.run).toMatchObject({ state: "success", result: "hello bob" });

    const failed = await call("POST", "/api/tasks/{name}/runs", "/api/tasks/boom/runs?wait=10s", { auth: true });
    expect(failed.body.run).toMatchObject({ state: "failure", error: { message: "boom" } });
    expect(failed.body.run.error.stack).toBeUndefined();

    const invalid = await call("POST", "/api/tasks/{name}/runs", "/api/tasks/greet/runs", { auth: true, json: { params: { name: 3, times: 0 } } });
    expect(invalid.status).toBe(422);
    expect(invalid.body.error.code).toBe("invalid_params");
    expect(invalid.body.error.issues.map((i: { path: string[] }) => i.path.join("."))).toEqual(["name", "times"]);

    const timedOut = await call("POST", "/api/tasks/{name}/runs", "/api/tasks/nap/runs?wait=50ms", { auth: true, json: { params: { ms: 400 } } });
    expect(timedOut.status).toBe(202);
    expect(timedOut.body).toMatchObject({ timedOut: true, run: { task: "nap" } });
  });

  it("GET /api/runs filters like fluid history and pages with a cursor", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await call("POST", "/api/tasks/{name}/runs", "/api/tasks/greet/runs?wait=10s", { auth: true, json: { params: { name: `p${i}` } } })).body.run.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { body: { runs: Array<{ id: string; task: string }>; nextCursor: string | null } } = await call("GET", "/api/runs", `/api/runs?task=greet&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.body.runs.length).toBeLessThanOrEqual(2);
      for (const r of page.body.runs) expect(r.task).toBe("greet");
      seen.push(...page.body.runs.map((r) => r.id));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor && pages < 20);
    expect(new Set(seen).size).toBe(seen.length); // no run twice
    expect(seen).toEqual(expect.arrayContaining(ids));
    expect(seen.indexOf(ids[4]!)).toBeLessThan(seen.indexOf(ids[0]!)); // newest first
    const failures = await call("GET", "/api/runs", "/api/runs?state=failure&since=1h");
    expect(failures.body.runs.length).toBeGreaterThan(0);
    for (const r of failures.body.runs) expect(r.state).toBe("failure");
    const bad = await call("GET", "/api/runs", "/api/runs?state=exploded");
    expect(bad.status).toBe(400);
    const badCursor = await call("GET", "/api/runs", "/api/runs?cursor=xyz");
    expect(badCursor.status).toBe(400);
  });

  it("GET /api/runs/:id and its logs; POST cancel removes a queued run", async () => {
    const run = (await call("POST", "/api/tasks/{name}/runs", "/api/tasks/greet/runs?wait=10s", { auth: true, json: { params: { name: "cy", times: 3 } } })).body.run;
    const detail = await call("GET", "/api/runs/{id}", `/api/runs/${run.id.slice(0, 10)}`);
    expect(detail.body.run.id).toBe(run.id);
    expect(detail.body.logs.map((l: { message: string }) => l.message)).toEqual(["hello cy", "hello cy", "hello cy"]);
    const logs = await call("GET", "/api/runs/{id}/logs", `/api/runs/${run.id}/logs`);
    expect(logs.body).toMatchObject({ id: run.id, droppedLogLines: 0 });
    expect(logs.body.logs).toHaveLength(3);
    expect((await call("GET", "/api/runs/{id}", "/api/runs/ffffffffffff")).status).toBe(404);

    // nap runs one at a time: the second waits in the queue and can be removed from it.
    await call("POST", "/api/tasks/{name}/runs", "/api/tasks/nap/runs", { auth: true, json: { params: { ms: 1000 } } });
    const second = (await call("POST", "/api/tasks/{name}/runs", "/api/tasks/nap/runs", { auth: true, json: { params: { ms: 1000 } } })).body.run;
    const cancelled = await call("POST", "/api/runs/{id}/cancel", `/api/runs/${second.id}/cancel`, { auth: true });
    expect(cancelled.body).toMatchObject({ outcome: "removed", run: { id: second.id, state: "cancelled" } });
    const again = await call("POST", "/api/runs/{id}/cancel", `/api/runs/${second.id}/cancel`, { auth: true });
    expect(again.body.outcome).toBe("ended");
  });

  it("GET /api/events streams run-queued, run-start and run-end; the log stream ends with the run", async () => {
    const res = await api.call("/api/events");
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const eventsP = readEvents(res, (es) => es.some((e) => e.event === "run-end" && (e.data as { task: string }).task === "greet"));
    await new Promise((r) => setTimeout(r, 50));
    const id = (await call("POST", "/api/tasks/{name}/runs", "/api/tasks/greet/runs", { auth: true, json: { params: { name: "live" } } })).body.run.id;
    const events = await eventsP;
    expect(events[0]!.event).toBe("hello");
    expect(events.filter((e) => (e.data as { id?: string }).id === id).map((e) => e.event)).toEqual(["run-queued", "run-start", "run-end"]);
    expect(events.find((e) => e.event === "run-end")!.data).toMatchObject({ id, state: "success", task: "greet" });

    const slow = (await call("POST", "/api/tasks/{name}/runs", "/api/tasks/nap/runs", { auth: true, json: { params: { ms: 300 } } })).body.run.id;
    const stream = await api.call(`/api/runs/${slow}/logs/stream`);
    const logEvents = await readEvents(stream, (es) => es.some((e) => e.event === "end"));
    expect(logEvents.map((e) => e.event)).toEqual(["log", "end"]);
    expect(logEvents[0]!.data).toMatchObject({ message: "napping", level: "info", attempt: 1 });
    expect(logEvents[1]!.data).toMatchObject({ id: slow, state: "success" });
    const unknown = await api.call("/api/runs/ffffffffffff/logs/stream");
    expect(unknown.status).toBe(404);
  });
});
