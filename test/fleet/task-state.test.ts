import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { describe, expect, onTestFinished } from "vitest";
import { CONFIG, fluid, useTempProjects } from "../helpers/cli.js";
import { useServe } from "../helpers/serve.js";
import { BACKENDS, ownTarget, useOwnNamespace } from "./backends.js";
import type { BackendTarget } from "../../src/fleet/backend-url.js";

const TASKS = `import { every, task } from "fluid-tasks";
export const tick = task({ schedule: every("1s"), catchUp: "latest" }, async () => {});
export const hello = task({}, async () => {});
`;

/** The backend URL with the test's own prefix / schema. */
function urlOf(url: string, t: BackendTarget): string {
  return t.kind === "redis" ? `${url}?prefix=${t.prefix}` : `${url}?schema=${t.schema}`;
}

/** The time of a daemon's JSON line. */
const at = (line: Record<string, unknown>): number => Date.parse(line.ts as string);

describe.each(BACKENDS)("fleet task state on $name", ({ name, url, up }) => {
  const project = useTempProjects();
  const serve = useServe();
  const { test, target } = useOwnNamespace({ name, url, up });

  test("fluid disable from another working directory stops a schedule and holds queued runs on both daemons; ls / next there show it; enable resumes", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    // Another working directory (another machine): the same tasks, a store of its own, the backend in the environment.
    const elsewhere = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const backend = urlOf(url, target());
    const env = { FLUID_BACKEND_URL: backend };
    const daemons = ["a", "b"].map((n) => serve(dir, { args: ["--backend", backend], env: { FLUID_STORE: join(dir, `${n}.db`) } }));
    await Promise.all(daemons.map((d) => d.started()));
    await Promise.all(daemons.map((d) => d.waitFor((l) => l.event === "fire" && l.task === "tick")));

    const off = await fluid(["disable", "tick", "--reason", "maintenance"], { cwd: elsewhere, env });
    expect(off.exitCode).toBe(0);
    expect(off.stderr).toContain("disabled tick (maintenance) on the fleet");
    const offAt = Date.now();
    expect((await fluid(["disable", "hello"], { cwd: elsewhere, env })).exitCode).toBe(0);
    // Daemons read the fleet's states every second: a run queued sooner may start before they know.
    await sleep(2000);
    const queued = await fluid(["queue", "hello"], { cwd: elsewhere, env });
    expect(queued.exitCode).toBe(0);
    const helloId = queued.stdout.trim();

    const ls = await fluid(["ls", "--json"], { cwd: elsewhere, env });
    expect(ls.exitCode).toBe(0);
    const rows = JSON.parse(ls.stdout) as Array<{ name: string; enabled: boolean; disabledReason: string | null }>;
    expect(rows.find((r) => r.name === "tick")).toMatchObject({ enabled: false, disabledReason: "maintenance" });
    expect(rows.find((r) => r.name === "hello")).toMatchObject({ enabled: false });
    const next = await fluid(["next", "tick", "-n", "2"], { cwd: elsewhere, env });
    expect(next.exitCode).toBe(0);
    expect(next.stderr).toMatch(/tick: every 1s.*disabled \(maintenance\): these fires start no run until `fluid enable tick`/);
    // The store of that directory was not written: the state is the fleet's.
    const local = await fluid(["ls", "--json"], { cwd: elsewhere, env: { FLUID_BACKEND_URL: "" } });
    expect((JSON.parse(local.stdout) as Array<{ name: string; enabled: boolean }>).find((r) => r.name === "tick")).toMatchObject({ enabled: true });

    // Each daemon reads the fleet's states every second: after that, no fire of tick and hello stays queued.
    await sleep(4000);
    for (const d of daemons) {
      expect(d.lines.filter((l) => l.event === "fire" && l.task === "tick" && at(l) > offAt + 1500)).toEqual([]);
      expect(d.lines.filter((l) => l.event === "run-start" && l.id === helloId)).toEqual([]);
    }

    const onAt = Date.now();
    expect((await fluid(["enable", "tick"], { cwd: elsewhere, env })).stderr).toContain("enabled tick on the fleet");
    expect((await fluid(["enable", "hello"], { cwd: elsewhere, env })).exitCode).toBe(0);
    await Promise.all(daemons.map((d) => d.waitFor((l) => l.event === "fire" && l.task === "tick" && at(l) > onAt, 10_000)));
    expect(await Promise.any(daemons.map((d) => d.waitFor((l) => l.event === "run-end" && l.id === helloId, 10_000)))).toMatchObject({ state: "success" });
    const relisted = JSON.parse((await fluid(["ls", "--json"], { cwd: elsewhere, env })).stdout) as Array<{ name: string; enabled: boolean }>;
    expect(relisted.find((r) => r.name === "tick")).toMatchObject({ enabled: true });
    for (const d of daemons) d.child.kill("SIGTERM");
    await Promise.all(daemons.map((d) => d.child));
  }, 120_000);

  test("PATCH /api/tasks/:name on one daemon disables the task for the fleet", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const backend = urlOf(url, target());
    const a = serve(dir, { args: ["--backend", backend, "--http", "0"], env: { FLUID_STORE: join(dir, "a.db"), FLUID_TOKEN: "fleet-token" } });
    const line = await a.waitFor((l) => l.event === "http");
    const res = await fetch(`${line.url as string}api/tasks/hello`, {
      method: "PATCH", headers: { authorization: "Bearer fleet-token", "content-type": "application/json" }, body: JSON.stringify({ enabled: false, reason: "from the API" }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: "hello", enabled: false });
    const ls = await fluid(["ls", "--json"], { cwd: dir, env: { FLUID_BACKEND_URL: backend, FLUID_STORE: join(dir, "client.db") } });
    expect((JSON.parse(ls.stdout) as Array<{ name: string; enabled: boolean; disabledReason: string | null }>).find((r) => r.name === "hello")).toMatchObject({ enabled: false, disabledReason: "from the API" });
    await fluid(["enable", "hello"], { cwd: dir, env: { FLUID_BACKEND_URL: backend, FLUID_STORE: join(dir, "client.db") } });
    a.child.kill("SIGTERM");
    await a.child;
  }, 90_000);

  test("a daemon new to a machine plans catch-up from the fleet's last fire, not from nothing", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    // A namespace of its own: no last fire of tick from the other tests.
    const own = ownTarget(url);
    onTestFinished(() => own.drop());
    const backend = urlOf(url, own.target);
    const a = serve(dir, { args: ["--backend", backend], env: { FLUID_STORE: join(dir, "a.db") } });
    await a.started();
    await a.waitFor((l) => l.event === "fire" && l.task === "tick");
    a.child.kill("SIGTERM");
    await a.child;
    const lastFire = Math.max(...a.lines.filter((l) => l.event === "fire" && l.task === "tick").map((l) => Date.parse(l.scheduledAt as string)));
    await sleep(2500);
    // A store of its own, never used: only the backend knows when tick last fired.
    const b = serve(dir, { args: ["--backend", backend], env: { FLUID_STORE: join(dir, "b.db") } });
    const catchUp = await b.waitFor((l) => l.event === "scheduler" && l.type === "catch-up");
    expect(catchUp).toMatchObject({ reason: "start" });
    expect(catchUp.missed).toBeGreaterThanOrEqual(2);
    // Planned from the fleet's last fire (the slot a fired last; a's last write may not have landed before it stopped).
    const from = (catchUp.tasks as Array<{ task: string; from: number }>).find((t) => t.task === "tick")!.from;
    expect(from).toBeLessThanOrEqual(lastFire);
    expect(from).toBeGreaterThanOrEqual(lastFire - 1000);
    b.child.kill("SIGTERM");
    await b.child;
  }, 90_000);
});
