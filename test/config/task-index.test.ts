import { existsSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readTaskIndex } from "../../src/config/compile.js";
import { loadProject } from "../../src/config/load.js";
import { CONFIG, fluid, useTempProjects } from "../helpers/cli.js";

/** Temp projects made by the current test, removed after it. */
const project = useTempProjects();

/** A task module that writes `<name>.loaded` into the project when it is evaluated. */
function module(name: string, body: string): string {
  return [
    `import { writeFileSync } from "node:fs";`,
    `import { join } from "node:path";`,
    `import { task } from "fluid-tasks";`,
    `import { z } from "zod";`,
    `writeFileSync(join(import.meta.dirname, "..", ${JSON.stringify(`${name}.loaded`)}), "");`,
    body,
    "",
  ].join("\n");
}

const A = module("a", `export const a_task = task({ name: "a_task", params: z.object({ n: z.number().default(1) }) }, async (ctx) => "a" + ctx.params.n);`);
const B = module("b", `export const b_task = task({ name: "b_task" }, async () => "b");\nexport const b_other = task({ name: "b_other" }, async () => "b2");`);

/** Rewrites a file and moves its mtime, so the compile cache sees the change even within one mtime tick. */
function rewrite(path: string, text: string): void {
  writeFileSync(path, text);
  const later = new Date(Date.now() + 5_000);
  utimesSync(path, later, later);
}

describe("the task index", () => {
  it("loads only the module of the task asked for, once a full load made the index", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/a.ts": A, "tasks/b.ts": B });
    // Cold: no index yet, so every module is loaded (and the index made).
    const cold = await loadProject({ cwd: dir, env: {}, task: "a_task" });
    expect(cold.registry.complete).toBe(true);
    expect(cold.registry.list().map((t) => t.name)).toEqual(["a_task", "b_other", "b_task"]);
    const files = [join(dir, "tasks", "a.ts"), join(dir, "tasks", "b.ts")];
    expect(readTaskIndex(files, join(dir, ".fluid", "cache"))).toEqual({ a_task: files[0], b_task: files[1], b_other: files[1] });

    const warm = await loadProject({ cwd: dir, env: {}, task: "b_task" });
    expect(warm.registry.complete).toBe(false);
    expect(warm.registry.list().map((t) => t.name)).toEqual(["b_other", "b_task"]);
    expect(warm.registry.origin("b_task")).toEqual({ file: files[1], exportName: "b_task" });
  });

  it("loads another module on demand (ensure), and suggests names from every module", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/a.ts": A, "tasks/b.ts": B });
    await loadProject({ cwd: dir, env: {} });
    const { registry } = await loadProject({ cwd: dir, env: {}, task: "a_task" });
    expect(registry.has("b_task")).toBe(false);
    let unknown: (Error & { hint?: string }) | undefined;
    try {
      registry.get("b_tsk");
    } catch (error) {
      unknown = error as Error & { hint?: string };
    }
    expect(unknown?.hint).toContain('did you mean "b_task"');
    await registry.ensure("b_task");
    expect(registry.get("b_task").name).toBe("b_task");
    expect(registry.has("b_other")).toBe(true);
    await registry.ensure("nothing_of_that_name"); // unknown everywhere: nothing to load
    expect(registry.has("nothing_of_that_name")).toBe(false);
  });

  it("loads every module again after a module changed, and reports a name two modules now export", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/a.ts": A, "tasks/b.ts": B });
    await loadProject({ cwd: dir, env: {} });
    rewrite(join(dir, "tasks", "b.ts"), B + `export const b_new = task({ name: "b_new" }, async () => "new");\n`);
    const changed = await loadProject({ cwd: dir, env: {}, task: "a_task" });
    expect(changed.registry.complete).toBe(true);
    expect(changed.registry.has("b_new")).toBe(true);

    rewrite(join(dir, "tasks", "b.ts"), B + `export const clash = task({ name: "a_task" }, async () => "clash");\n`);
    await expect(loadProject({ cwd: dir, env: {}, task: "a_task" })).rejects.toThrow(/duplicate task name "a_task"/);
  });

  it("loads every module for a name the index does not know (so the error lists them all)", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/a.ts": A, "tasks/b.ts": B });
    await loadProject({ cwd: dir, env: {} });
    const { registry } = await loadProject({ cwd: dir, env: {}, task: "nope" });
    expect(registry.complete).toBe(true);
    expect(registry.size).toBe(3);
  });

  it("`fluid run` evaluates only its task's module on a warm start, and still runs a task it queues from another", async () => {
    const chain = module("c", `export const c_task = task({ name: "c_task" }, async (ctx) => { await ctx.queue("b_task", {}); return "c"; });`);
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/a.ts": A, "tasks/b.ts": B, "tasks/c.ts": chain });
    const first = await fluid(["run", "a_task", "--no-record"], { cwd: dir });
    expect(first.exitCode).toBe(0);
    expect(existsSync(join(dir, "b.loaded"))).toBe(true); // cold: every module
    for (const name of ["a", "b", "c"]) rmSync(join(dir, `${name}.loaded`));

    const warm = await fluid(["run", "a_task", "--n", "2", "--json", "--no-record"], { cwd: dir });
    expect(warm.exitCode).toBe(0);
    expect(JSON.parse(warm.stdout).result).toBe("a2");
    expect(existsSync(join(dir, "a.loaded"))).toBe(true);
    expect(existsSync(join(dir, "b.loaded"))).toBe(false);
    expect(existsSync(join(dir, "c.loaded"))).toBe(false);

    const chained = await fluid(["run", "c_task", "--no-record"], { cwd: dir });
    expect(chained.exitCode).toBe(0);
    expect(chained.stderr).toMatch(/chained.*b_task.*success/);
    expect(existsSync(join(dir, "b.loaded"))).toBe(true);
  }, 60_000);
});
