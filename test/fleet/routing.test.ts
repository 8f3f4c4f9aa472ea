import { join } from "node:path";
import { hostname } from "node:os";
import { describe, expect } from "vitest";
import { CONFIG, useTempProjects } from "../helpers/cli.js";
import { useServe } from "../helpers/serve.js";
import { BACKENDS, plainQueue, useOwnNamespace } from "./backends.js";

// Each run returns where it ran, so BullMQ's completed job says which daemon ran it.
const TASKS = `import { every, task } from "fluid-tasks";
import { hostname } from "node:os";
const where = () => ({ host: hostname(), pid: process.pid });
export const heavy = task({ tags: ["cpu"] }, async () => where());
export const light = task({ tags: ["io"] }, async () => where());
export const tick = task({ tags: ["cpu"], schedule: every("1s") }, async () => where());
`;

describe.each(BACKENDS)("routing on a fleet ($name): fluid serve --tasks / --tags / --no-schedules", ({ name, url, up }) => {
  const project = useTempProjects();
  const serve = useServe();
  const { test, target } = useOwnNamespace({ name, url, up });

  test("each run runs on a daemon that serves its task; a --no-schedules daemon fires nothing", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const t = target();
    const backend = t.kind === "redis" ? `${url}?prefix=${t.prefix}` : `${url}?schema=${t.schema}`;
    const heavy = serve(dir, { args: ["--backend", backend, "--tasks", "heavy", "--tags", "cpu"], env: { FLUID_STORE: join(dir, "heavy.db") } });
    const light = serve(dir, { args: ["--backend", backend, "--tasks", "light", "--no-schedules"], env: { FLUID_STORE: join(dir, "light.db") } });
    await Promise.all([heavy.started(), light.started()]);
    expect(heavy.lines[0]).toMatchObject({ summary: { serves: ["heavy", "tick"], firesSchedules: true } });
    expect(light.lines[0]).toMatchObject({ summary: { serves: ["light"], firesSchedules: false } });
    // Plain BullMQ jobs, interleaved: both daemons claim both kinds and must leave the other's.
    const plain = plainQueue(t);
    try {
      for (let i = 0; i < 6; i++) await plain.queue.add(i % 2 ? "light" : "heavy", {});
      const ended = (task: string) => [heavy, light].flatMap((d) => d.lines.filter((l) => l.event === "run-end" && l.task === task));
      const deadline = Date.now() + 20_000;
      while ((ended("heavy").length < 3 || ended("light").length < 3 || ended("tick").length < 2) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const pids = { heavy: heavy.child.pid, light: light.child.pid };
      const completed = await plain.queue.getCompleted();
      const where = (task: string) => completed.filter((j) => j.name === task).map((j) => j.returnvalue as { host: string; pid: number });
      expect(where("heavy")).toEqual(Array(3).fill({ host: hostname(), pid: pids.heavy }));
      expect(where("light")).toEqual(Array(3).fill({ host: hostname(), pid: pids.light }));
      expect(where("tick").length).toBeGreaterThanOrEqual(2);
      for (const w of where("tick")) expect(w.pid).toBe(pids.heavy);
      // The daemons' own lines agree: each started only the runs of its tasks.
      const started = (d: typeof heavy) => new Set(d.lines.filter((l) => l.event === "run-start").map((l) => l.task));
      expect([...started(heavy)].sort()).toEqual(["heavy", "tick"]);
      expect([...started(light)]).toEqual(["light"]);
      // Schedules: fired by the daemon that has them on, never by the --no-schedules one.
      expect(heavy.lines.filter((l) => l.event === "fire").length).toBeGreaterThanOrEqual(2);
      expect(light.lines.filter((l) => l.event === "fire" || l.event === "fire-skipped")).toEqual([]);
      expect([heavy, light].flatMap((d) => d.lines.filter((l) => l.event === "error"))).toEqual([]);
    } finally {
      await plain.close();
    }
  });
});
