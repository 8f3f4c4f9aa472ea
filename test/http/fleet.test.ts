import { hostname } from "node:os";
import { describe, expect } from "vitest";
import { fluid, useTempProjects } from "../helpers/cli.js";
import { useServe, type Served } from "../helpers/serve.js";
import { BACKENDS, useOwnNamespace } from "../fleet/backends.js";
import type { BackendTarget } from "../../src/fleet/backend-url.js";

const TASKS = `import { task } from "fluid-tasks";
import { z } from "zod";
export const hello = task({ params: z.object({ name: z.string() }) }, async (ctx) => {
  ctx.log.info("hello from " + ctx.params.name);
  return "hi " + ctx.params.name;
});
export const slow = task({ params: z.object({ ms: z.number() }) }, async (ctx) => {
  ctx.log.info("slow starts");
  await new Promise((r) => { const t = setTimeout(r, ctx.params.ms); ctx.signal.addEventListener("abort", () => (clearTimeout(t), r(undefined))); });
  ctx.log.info("slow ends");
});
export const boom = task({}, async () => { throw new Error("boom on purpose"); });
export const other = task({}, async () => "other");
`;

const config = (store: boolean) => `import { defineConfig } from "fluid-tasks";
export default defineConfig({ tasks: ["./tasks/*.ts"]${store ? "" : ", store: false"} });
`;

/** The backend URL with the test's own namespace in it, as FLUID_BACKEND_URL takes it. */
function urlOf(url: string, t: BackendTarget): string {
  return t.kind === "redis" ? `${url}?prefix=${t.prefix}` : `${url}?schema=${t.schema}`;
}

async function until<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type Run = { id: string; task: string; state: string; host: string; pid: number; attempt: number };

describe.each(BACKENDS)("HTTP API of a fleet daemon on $name", ({ name, url, up }) => {
  const project = useTempProjects();
  const serve = useServe();
  const { test, target } = useOwnNamespace({ name, url, up });

  test("serves the runs another daemon ran (one with store: false): lists with filters and cursor, a run, its logs and live stream, cancel, the task's last run", async () => {
    const env = { FLUID_BACKEND_URL: urlOf(url, target()) };
    // B runs everything and keeps no local store; A serves the API and runs only `other`.
    const b: Served = serve(project({ "fluid.config.ts": config(false), "tasks/t.ts": TASKS }), { env, args: ["--http", "0"] });
    const bPort = (await b.waitFor((l) => l.event === "http", 30_000)).port as number;
    const a: Served = serve(project({ "fluid.config.ts": config(true), "tasks/t.ts": TASKS }), { env, args: ["--http", "0", "--tasks", "other"] });
    const port = (await a.waitFor((l) => l.event === "http", 30_000)).port as number;
    const base = `http://127.0.0.1:${port}`;
    const get = async (path: string) => {
      const res = await fetch(base + path);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const post = (path: string, body?: unknown) => fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, ...(body ? { body: JSON.stringify(body) } : {}) });
    // A has no token: changes are refused; read routes are what this test is about, so queue through the CLI.
    expect((await post("/api/tasks/hello/runs", { params: { name: "x" } })).status).toBe(403);
    const queue = async (args: string[]) => {
      const r = await fluid(["queue", ...args, "--wait", "--json"], { cwd: project({ "fluid.config.ts": config(true), "tasks/t.ts": TASKS }), env });
      expect(r.stderr).toMatch(/queued/);
      if (!/^\{/.test(r.stdout)) throw new Error(`fluid queue --wait said: ${r.stdout} ${r.stderr}`);
      return JSON.parse(r.stdout) as Run;
    };
    const ann = await queue(["hello", "--name", "ann"]);
    expect(ann).toMatchObject({ state: "success", id: expect.any(String) });
    const bob = await queue(["hello", "--name", "bob"]);
    const failed = await queue(["boom"]);
    expect(failed.state).toBe("failure");

    // Every run B ran, with B's host and pid, as A's API lists them.
    const all = await get("/api/runs");
    expect(all.status).toBe(200);
    const runs = all.body.runs as Run[];
    expect(runs.map((r) => r.id)).toEqual([failed.id, bob.id, ann.id]);
    for (const r of runs) expect(r).toMatchObject({ host: hostname(), pid: b.child.pid });
    const page1 = await get("/api/runs?task=hello&limit=1");
    expect((page1.body.runs as Run[]).map((r) => r.id)).toEqual([bob.id]);
    const page2 = await get(`/api/runs?task=hello&limit=1&cursor=${page1.body.nextCursor as string}`);
    expect((page2.body.runs as Run[]).map((r) => r.id)).toEqual([ann.id]);
    expect(page2.body.nextCursor).toBeNull();
    expect(((await get("/api/runs?state=failure")).body.runs as Run[]).map((r) => r.id)).toEqual([failed.id]);
    // B, without a store of its own, is ready and serves the same runs.
    const ready = await fetch(`http://127.0.0.1:${bPort}/readyz`);
    expect(await ready.json()).toMatchObject({ ready: true, checks: expect.arrayContaining([{ name: "store", ok: true, detail: "no store (store: false)" }]) });
    const fromB = (await (await fetch(`http://127.0.0.1:${bPort}/api/runs`)).json()) as { runs: Run[] };
    expect(fromB.runs.map((r) => r.id)).toEqual([failed.id, bob.id, ann.id]);

    const one = await get(`/api/runs/${ann.id.slice(0, 10)}`);
    expect(one.status).toBe(200);
    expect(one.body.run).toMatchObject({ id: ann.id, state: "success", result: "hi ann", pid: b.child.pid });
    expect((one.body.logs as Array<{ message: string }>).map((l) => l.message)).toEqual(["hello from ann"]);
    expect(((await get(`/api/runs/${ann.id}/logs`)).body.logs as Array<{ message: string }>).map((l) => l.message)).toEqual(["hello from ann"]);
    expect((await get("/api/runs/nope")).body).toMatchObject({ error: { code: "unknown_run" } });

    const tasks = (await get("/api/tasks")).body.tasks as Array<{ name: string; lastRun: Run | null }>;
    expect(tasks.find((t) => t.name === "hello")!.lastRun).toMatchObject({ id: bob.id, state: "success" });
    expect(tasks.find((t) => t.name === "boom")!.lastRun).toMatchObject({ id: failed.id, state: "failure" });
    expect(((await get("/api/tasks/hello")).body.recentRuns as Run[]).map((r) => r.id)).toEqual([bob.id, ann.id]);

    // A live stream of a run B runs: its lines as they come, then the end.
    const elsewhere = project({ "fluid.config.ts": config(true), "tasks/t.ts": TASKS });
    const slowId = (await fluid(["queue", "slow", "--ms", "1500"], { cwd: elsewhere, env })).stdout.trim();
    await until(async () => ((await get(`/api/runs/${slowId}`)).body.run as Run | undefined)?.state === "running" || undefined, "the slow run to start");
    const stream = await fetch(`${base}/api/runs/${slowId}/logs/stream`);
    expect(stream.headers.get("content-type")).toMatch(/text\/event-stream/);
    const text = await stream.text(); // the server ends the stream once the run ended
    const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => [m[1], JSON.parse(m[2]!)] as const);
    expect(events.filter(([e]) => e === "log").map(([, d]) => d.message)).toEqual(["slow starts", "slow ends"]);
    expect(events.at(-1)).toEqual(["end", expect.objectContaining({ id: slowId, state: "success", pid: b.child.pid })]);

    // Cancel, through A's API with a token, of a run that runs on B.
    const c = serve(project({ "fluid.config.ts": config(true), "tasks/t.ts": TASKS }), { env: { ...env, FLUID_TOKEN: "tok-123" }, args: ["--http", "0", "--tasks", "other"] });
    const cPort = (await c.waitFor((l) => l.event === "http", 30_000)).port as number;
    const longId = (await fluid(["queue", "slow", "--ms", "30000"], { cwd: elsewhere, env })).stdout.trim();
    await until(async () => ((await get(`/api/runs/${longId}`)).body.run as Run | undefined)?.state === "running" || undefined, "the long run to start");
    const cancel = await fetch(`http://127.0.0.1:${cPort}/api/runs/${longId}/cancel`, { method: "POST", headers: { authorization: "Bearer tok-123" } });
    expect(cancel.status).toBe(200);
    expect(await cancel.json()).toMatchObject({ outcome: "flagged", run: { id: longId } });
    const ended = await until(async () => {
      const r = (await get(`/api/runs/${longId}`)).body.run as Run;
      return r.state !== "running" ? r : undefined;
    }, "the cancelled run to end");
    expect(ended).toMatchObject({ state: "cancelled", pid: b.child.pid });
  }, 90_000);
});
