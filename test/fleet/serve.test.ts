import { join } from "node:path";
import { describe, expect, onTestFinished } from "vitest";
import { CONFIG, fluid, useTempProjects } from "../helpers/cli.js";
import { useServe } from "../helpers/serve.js";
import { BACKENDS, ownTarget, useOwnNamespace } from "./backends.js";

const TASKS = `import { every, task } from "fluid-tasks";
export const tick = task({ schedule: every("1s") }, async () => {});
export const hello = task({}, async () => {});
`;

describe.each(BACKENDS)("fluid serve --backend on $name", ({ name, url, up }) => {
  const project = useTempProjects();
  const serve = useServe();
  const { test, target } = useOwnNamespace({ name, url, up });

  test("two daemons fire every slot of a schedule once; fluid queue and cancel from a third store reach the fleet", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const t = target();
    const backend = t.kind === "redis" ? `${url}?prefix=${t.prefix}` : `${url}?schema=${t.schema}`;
    // Two daemons of one project on one machine: a store file each (each holds its store's lease).
    const daemons = ["a", "b"].map((n) => serve(dir, { args: ["--backend", backend], env: { FLUID_STORE: join(dir, `${n}.db`) } }));
    await Promise.all(daemons.map((d) => d.started()));
    expect(daemons[0]!.lines[0]).toMatchObject({ event: "started", summary: { broker: "bullmq" } });
    // `fluid queue` and `fluid cancel` from elsewhere (a store of their own): the backend's queue.
    const env = { FLUID_STORE: join(dir, "client.db"), FLUID_BACKEND_URL: backend };
    const queued = await fluid(["queue", "hello"], { cwd: dir, env });
    expect(queued.exitCode).toBe(0);
    expect(queued.stderr).not.toMatch(/no fluid serve is running/);
    const later = await fluid(["queue", "hello", "--delay", "1h"], { cwd: dir, env });
    const cancelled = await fluid(["cancel", later.stdout.trim()], { cwd: dir, env });
    expect(cancelled.exitCode).toBe(0);
    const id = queued.stdout.trim();
    await Promise.any(daemons.map((d) => d.waitFor((l) => l.event === "run-end" && l.id === id)));
    await new Promise((r) => setTimeout(r, 2500));
    const stopAt = Date.now();
    for (const d of daemons) d.child.kill("SIGTERM");
    await Promise.all(daemons.map((d) => d.child));
    // A slot fired as the daemons stop may be enqueued after both stopped claiming: it stays
    // queued for the next start, rightly. So only the slots fired half a second before count.
    const firedBefore = (l: Record<string, unknown>) => l.event === "fire" && Date.parse(l.ts as string) < stopAt - 500;
    const fires = daemons.map((d) => new Set(d.lines.filter(firedBefore).map((l) => l.id as string)));
    const ends = daemons.flatMap((d) => d.lines.filter((l) => l.event === "run-end" && l.task === "tick").map((l) => l.id as string));
    // Both timers fired the same slots under the same run ids...
    const both = [...fires[0]!].filter((id) => fires[1]!.has(id));
    expect(both.length).toBeGreaterThanOrEqual(2);
    // ...and every slot ran once, on one daemon or the other.
    expect(new Set(ends).size).toBe(ends.length);
    for (const id of both) expect(ends).toContain(id);
    // The slot another daemon enqueued first is this fire's run, not an overlap to skip.
    expect(daemons.flatMap((d) => d.lines.filter((l) => l.event === "fire-skipped"))).toEqual([]);
    const hello = daemons.flatMap((d) => d.lines.filter((l) => l.event === "run-end" && l.task === "hello").map((l) => l.id));
    expect(hello).toEqual([id]); // ran once, and the cancelled one never
  });

  test("a daemon killed with SIGKILL mid-run: another daemon runs the run after the stall window; fluid cancel stops it there", async () => {
    // A namespace of its own: BullMQ's stall check runs at most once per interval per queue, and
    // the other test's daemons (30 s windows) would hold it off for 30 s.
    const own = ownTarget(url);
    onTestFinished(() => own.drop());
    const t = own.target;
    const prefix = t.kind === "redis" ? t.prefix : t.schema;
    const dir = project({
      "fluid.config.ts": `import { defineConfig } from "fluid-tasks";
export default defineConfig({ tasks: ["./tasks/*.ts"], backend: { url: ${JSON.stringify(url)}, prefix: ${JSON.stringify(prefix)}, stallMs: 1500 } });
`,
      "tasks/t.ts": `import { task } from "fluid-tasks";
export const slow = task({}, async () => { await new Promise((r) => setTimeout(r, 20_000)); });
`,
    });
    const a = serve(dir, { env: { FLUID_STORE: join(dir, "a.db") } });
    await a.started();
    const queued = await fluid(["queue", "slow"], { cwd: dir, env: { FLUID_STORE: join(dir, "client.db") } });
    const id = queued.stdout.trim();
    await a.waitFor((l) => l.event === "run-start" && l.id === id);
    a.child.kill("SIGKILL");
    await a.child;
    const b = serve(dir, { env: { FLUID_STORE: join(dir, "b.db") } });
    await b.started();
    expect(await b.waitFor((l) => l.event === "run-start" && l.id === id, 20_000)).toMatchObject({ task: "slow", id });
    // `fluid cancel` from another store reaches the daemon that runs it now.
    const cancelled = await fluid(["cancel", id], { cwd: dir, env: { FLUID_STORE: join(dir, "client.db") } });
    expect(cancelled.exitCode).toBe(0);
    expect(await b.waitFor((l) => l.event === "run-end" && l.id === id)).toMatchObject({ state: "cancelled" });
  });

  test("a backend that cannot be reached is a clear error, exit 2", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const bad = url.startsWith("redis") ? "redis://127.0.0.1:1/0" : "postgres://postgres@127.0.0.1:1/test";
    const r = await fluid(["serve", "--backend", bad], { cwd: dir, env: { FLUID_STORE: join(dir, "x.db") } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/cannot reach the (Redis|PostgreSQL) backend/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
