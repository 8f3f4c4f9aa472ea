import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProject } from "../../src/config/load.js";
import { executeAttempt } from "../../src/executor/execute-attempt.js";
import type { RunLogLine } from "../../src/task/context.js";
import { tempProject } from "../helpers/cli.js";
import { testPool, type TestPool } from "./fixture.js";

const TASKS = `
import { task } from "fluid-tasks";
export const heavy = task({ name: "heavy", cpuBound: true, timeout: "300ms", env: { FLUID_TEST_ENV: "from-task" } }, (ctx) => {
  ctx.log.info("in the worker");
  console.log("printed");
  return { pid: process.pid, env: process.env.FLUID_TEST_ENV };
});
export const spin = task({ name: "spin", cpuBound: true, timeout: "200ms" }, () => { for (;;) {} });
export const light = task({ name: "light" }, () => ({ pid: process.pid }));
`;

let project: { dir: string; configFile: string; cleanup: () => void };
let t: TestPool;

beforeAll(async () => {
  const p = tempProject({ "fluid.config.ts": `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"] });\n`, "tasks/t.ts": TASKS });
  project = { ...p, configFile: `${p.dir}/fluid.config.ts` };
  t = testPool(project, { size: 1 });
});
afterAll(async () => {
  await t.close();
  project.cleanup();
});

describe("executeAttempt", () => {
  it("runs a cpu-bound task in the pool with the task's env, tagging its lines with the run", async () => {
    const { registry } = await loadProject({ config: project.configFile, cwd: project.dir, env: {} });
    const lines: RunLogLine[] = [];
    const task = registry.get("heavy");
    const out = await executeAttempt(
      { task, id: "run-a", params: {}, attempt: 1, deps: undefined, log: (l) => lines.push(l), queue: async () => "x" },
      { timeoutMs: task.timeoutMs, pool: t.pool },
    );
    expect(out).toMatchObject({ state: "success", result: { env: "from-task" } });
    expect((out.result as { pid: number }).pid).not.toBe(process.pid);
    expect(lines.map((l) => [l.level, l.message, l.task, l.runId, l.attempt]).sort()).toEqual([
      ["info", "in the worker", "heavy", "run-a", 1],
      ["stdout", "printed", "heavy", "run-a", 1],
    ]);
  });

  it("kills a cpu-bound task at its timeout, and runs other tasks inline", async () => {
    const { registry } = await loadProject({ config: project.configFile, cwd: project.dir, env: {} });
    const base = { params: {}, attempt: 1, deps: undefined, log: () => {}, queue: async () => "x" };
    const spin = registry.get("spin");
    const timedOut = await executeAttempt({ ...base, task: spin, id: "run-b" }, { timeoutMs: spin.timeoutMs, pool: t.pool });
    expect(timedOut).toMatchObject({ state: "timeout", error: { code: "FLUID_TIMEOUT" } });
    const light = await executeAttempt({ ...base, task: registry.get("light"), id: "run-c" }, { timeoutMs: 1000, pool: t.pool });
    expect(light).toMatchObject({ state: "success", result: { pid: process.pid } });
    // Without a pool, even a cpu-bound task runs inline.
    const heavyInline = await executeAttempt({ ...base, task: registry.get("heavy"), id: "run-d" }, { timeoutMs: 1000 });
    expect(heavyInline).toMatchObject({ state: "success", result: { pid: process.pid } });
  });
});
