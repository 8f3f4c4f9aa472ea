import { afterEach, describe, expect, it } from "vitest";
import { waitForRun } from "../../src/daemon/client.js";
import { isFluidError } from "../../src/core/errors.js";
import { fluid, tempProject, CONFIG } from "../helpers/cli.js";
import { startDaemon, type TestDaemon } from "./helpers.js";

const TASKS = `
import { every, task } from "fluid-tasks";
export const heavy = task({ tags: ["cpu", "big"] }, async () => process.pid);
export const light = task({ tags: ["io"] }, async () => process.pid);
export const other = task({}, async () => process.pid);
export const tick = task({ schedule: every("1s") }, async () => process.pid);
`;

describe("fluid serve routing, embedded (SQLite broker)", () => {
  let d: TestDaemon | undefined;
  afterEach(async () => {
    await d?.close();
    d = undefined;
  });

  it("--tasks: runs only the named tasks' runs; the others stay queued", async () => {
    d = await startDaemon(TASKS, { routing: { tasks: ["light"] } });
    expect(d.daemon.summary).toMatchObject({ serves: ["light"], firesSchedules: true, broker: "sqlite" });
    const heavy = await d.daemon.queue("heavy");
    const other = await d.daemon.queue("other");
    const light = await d.daemon.queue("light");
    const target = { store: d.daemon.store!, broker: d.daemon.broker };
    expect(await waitForRun(target, light, { timeoutMs: 5000 })).toMatchObject({ state: "success", result: process.pid });
    // A few more claims go by: the others are still queued, untouched.
    await new Promise((r) => setTimeout(r, 300));
    expect(await d.daemon.broker.has(heavy)).toBe(true);
    expect(await d.daemon.broker.has(other)).toBe(true);
    expect(d.daemon.store!.getRun(heavy).run).toMatchObject({ state: "queued" });
    expect(d.events.filter((e) => e.type === "run-start").map((e) => (e as { run: { task: string } }).run.task)).not.toContain("heavy");
  });

  it("--tags: the tasks with any of the tags; with --tasks, either", async () => {
    d = await startDaemon(TASKS, { routing: { tags: ["big", "io"], tasks: ["other"] } });
    expect(d.daemon.summary.serves).toEqual(["heavy", "light", "other"]);
    const target = { store: d.daemon.store!, broker: d.daemon.broker };
    for (const task of ["heavy", "light", "other"]) {
      expect(await waitForRun(target, await d.daemon.queue(task), { timeoutMs: 5000 })).toMatchObject({ state: "success" });
    }
    // The schedule fires here (routing does not stop the timer), and its runs wait for a daemon serving tick.
    const fire = await d.waitFor((e) => e.type === "fire", 3000);
    expect(await d.daemon.broker.has((fire as { runId: string }).runId)).toBe(true);
  });

  it("schedules: false fires nothing but runs queued runs", async () => {
    d = await startDaemon(TASKS, { schedules: false });
    expect(d.daemon.summary.firesSchedules).toBe(false);
    expect(d.daemon.summary.schedules).toEqual([]); // the start line lists no schedule it will not fire
    expect(d.daemon.upcoming(5)).toEqual([]);
    const target = { store: d.daemon.store!, broker: d.daemon.broker };
    expect(await waitForRun(target, await d.daemon.queue("tick"), { timeoutMs: 5000 })).toMatchObject({ state: "success" });
    await new Promise((r) => setTimeout(r, 1500)); // more than one slot of every("1s")
    expect(d.events.filter((e) => e.type === "fire" || e.type === "fire-skipped")).toEqual([]);
  });

  it("an unknown task or a tag no task has stops the start with a usage error and a hint", async () => {
    const started = (routing: { tasks?: string[]; tags?: string[] }) => startDaemon(TASKS, { routing }).then(
      async (daemon) => {
        await daemon.close();
        throw new Error("started");
      },
      (error: unknown) => error,
    );
    const unknown = await started({ tasks: ["light", "hevy"] });
    expect(isFluidError(unknown) && unknown.code).toBe("FLUID_USAGE");
    expect(unknown).toMatchObject({ message: '--tasks names an unknown task "hevy"', hint: 'did you mean "heavy"? (fluid ls lists the tasks)' });
    const tag = await started({ tags: ["network"] });
    expect(tag).toMatchObject({ code: "FLUID_USAGE", message: '--tags names a tag no task has: "network"', hint: "tags of the tasks: big, cpu, io" });
  });

  it("the CLI: --tasks and --tags reach the daemon; mistakes exit 2 without a stack trace", async () => {
    const project = tempProject({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    try {
      const unknown = await fluid(["serve", "--tasks", "light,nope"], { cwd: project.dir });
      expect(unknown.exitCode).toBe(2);
      expect(unknown.stderr).toContain('--tasks names an unknown task "nope"');
      expect(unknown.stderr).not.toMatch(/\n\s+at /);
      const empty = await fluid(["serve", "--tags", " , "], { cwd: project.dir });
      expect(empty.exitCode).toBe(2);
      expect(empty.stderr).toContain("--tags needs at least one tag");
    } finally {
      project.cleanup();
    }
  });
});
