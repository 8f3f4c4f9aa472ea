import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, onTestFinished } from "vitest";
import { CONFIG, fluid, useTempProjects } from "../helpers/cli.js";
import { useServe } from "../helpers/serve.js";
import { BACKENDS, ownTarget, useOwnNamespace } from "./backends.js";
import type { BackendTarget } from "../../src/fleet/backend-url.js";

const TASKS = `import { task } from "fluid-tasks";
import { z } from "zod";
export const hello = task({ params: z.object({ name: z.string() }) }, async (ctx) => {
  ctx.log.info("hello from " + ctx.params.name);
  return { greeted: ctx.params.name };
});
export const slow = task({}, async (ctx) => {
  ctx.log.info("slow starts");
  await new Promise((r) => setTimeout(r, Number(process.env.SLOW_MS ?? 20_000)));
  return "slow done";
});
`;

/** The backend URL with the test's own namespace in it, as FLUID_BACKEND_URL takes it. */
function urlOf(url: string, t: BackendTarget): string {
  return t.kind === "redis" ? `${url}?prefix=${t.prefix}` : `${url}?schema=${t.schema}`;
}

describe.each(BACKENDS)("run history in the $name backend", ({ name, url, up }) => {
  const project = useTempProjects();
  const serve = useServe();
  const { test, target } = useOwnNamespace({ name, url, up });

  test("runs of a daemon in one project are seen from another directory: history, show, logs with the host; queue --wait and cancel from there", async () => {
    const backend = urlOf(url, target());
    const here = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const elsewhere = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const daemon = serve(here, { env: { FLUID_BACKEND_URL: backend } });
    await daemon.started();
    // Another working directory, another store: only the backend URL is shared.
    const env = { FLUID_BACKEND_URL: backend };
    const waited = await fluid(["queue", "hello", "--name", "ann", "--wait", "--json"], { cwd: elsewhere, env });
    expect(waited.stderr).toMatch(/queued hello/);
    expect(waited.exitCode).toBe(0);
    const end = JSON.parse(waited.stdout) as { id: string; state: string; result: unknown };
    expect(end).toMatchObject({ state: "success", result: { greeted: "ann" } });

    const history = await fluid(["history", "--json"], { cwd: elsewhere, env });
    expect(history.exitCode).toBe(0);
    const runs = JSON.parse(history.stdout) as Array<Record<string, unknown>>;
    expect(runs).toEqual([expect.objectContaining({ id: end.id, task: "hello", state: "success", host: hostname(), trigger: "queue", params: { name: "ann" } })]);
    const table = await fluid(["history"], { cwd: elsewhere, env });
    expect(table.stdout).toMatch(new RegExp(`${end.id.slice(0, 12)}\\s+hello\\s+success`));

    const show = await fluid(["show", end.id.slice(0, 10)], { cwd: elsewhere, env });
    expect(show.exitCode).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`host\\s+${hostname()} pid \\d+`));
    expect(show.stdout).toMatch(/state\s+success/);
    expect(show.stdout).toMatch(/hello from ann/);
    const logs = await fluid(["logs", end.id, "--json"], { cwd: elsewhere, env });
    expect(JSON.parse(logs.stdout)).toEqual([expect.objectContaining({ attempt: 1, level: "info", message: "hello from ann" })]);
    const unknown = await fluid(["show", "nope"], { cwd: elsewhere, env });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/no run with id "nope"/);
    expect(unknown.stderr).not.toMatch(/\n\s+at /);

    // Queued from the daemon's directory (its own client store), cancelled from elsewhere.
    const later = await fluid(["queue", "slow", "--delay", "1h"], { cwd: here, env: { ...env, FLUID_STORE: join(here, "client.db") } });
    const laterId = later.stdout.trim();
    const cancelled = await fluid(["cancel", laterId], { cwd: elsewhere, env });
    expect(cancelled.stderr).toMatch(new RegExp(`cancelled slow ${laterId} \\(it was queued\\)`));
    expect(cancelled.exitCode).toBe(0);
    const after = JSON.parse((await fluid(["history", "slow", "--json"], { cwd: elsewhere, env })).stdout) as Array<Record<string, unknown>>;
    expect(after).toEqual([expect.objectContaining({ id: laterId, state: "cancelled" })]);
    daemon.child.kill("SIGTERM");
    await daemon.child;
  });

  test("a daemon killed with SIGKILL mid-run: the next daemon's attempt follows it, and the history says the first was interrupted", async () => {
    // A namespace of its own: BullMQ's stall check runs at most once per interval per queue.
    const own = ownTarget(url);
    onTestFinished(() => own.drop());
    const t = own.target;
    const prefix = t.kind === "redis" ? t.prefix : t.schema;
    const dir = project({
      "fluid.config.ts": `import { defineConfig } from "fluid-tasks";
export default defineConfig({ tasks: ["./tasks/*.ts"], backend: { url: ${JSON.stringify(url)}, prefix: ${JSON.stringify(prefix)}, stallMs: 1500 } });
`,
      "tasks/t.ts": TASKS,
    });
    const elsewhere = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const a = serve(dir, { env: { FLUID_STORE: join(dir, "a.db") } });
    await a.started();
    const queued = await fluid(["queue", "slow"], { cwd: dir, env: { FLUID_STORE: join(dir, "client.db") } });
    const id = queued.stdout.trim();
    await a.waitFor((l) => l.event === "run-start" && l.id === id);
    await new Promise((r) => setTimeout(r, 300)); // its `running` record and first log line reach the backend
    a.child.kill("SIGKILL");
    await a.child;
    const b = serve(dir, { env: { FLUID_STORE: join(dir, "b.db"), SLOW_MS: "200" } });
    await b.started();
    expect(await b.waitFor((l) => l.event === "run-end" && l.id === id, 20_000)).toMatchObject({ state: "success" });
    b.child.kill("SIGTERM");
    await b.child;

    const env = { FLUID_BACKEND_URL: urlOf(url, t) };
    const details = JSON.parse((await fluid(["show", id, "--json"], { cwd: elsewhere, env })).stdout) as {
      run: Record<string, unknown>; attempts: Array<Record<string, unknown>>; logs: Array<Record<string, unknown>>;
    };
    expect(details.run).toMatchObject({ id, state: "success", attempt: 2, result: "slow done" });
    expect(details.attempts).toEqual([
      expect.objectContaining({ attempt: 1, state: "interrupted", error: expect.objectContaining({ code: "FLUID_INTERRUPTED", message: expect.stringMatching(/^interrupted: the process running it \(pid \d+ on .+\) is gone$/) }) }),
      expect.objectContaining({ attempt: 2, state: "success" }),
    ]);
    expect(details.logs.map((l) => [l.attempt, l.message])).toEqual([
      [1, "slow starts"],
      [2, expect.stringMatching(/^\[fluid\] attempt 1 was interrupted: .* runs it again as attempt 2$/)],
      [2, "slow starts"],
    ]);
    const history = await fluid(["history", "--json"], { cwd: elsewhere, env });
    expect(JSON.parse(history.stdout)).toEqual([expect.objectContaining({ id, attempt: 2, state: "success" })]);
    // The task plans one attempt: the plain form says why there is a second.
    const plain = await fluid(["show", id], { cwd: elsewhere, env });
    expect(plain.stdout).toMatch(/attempt\s+2 \(1 planned; run again after an interruption\)/);
  });
});
