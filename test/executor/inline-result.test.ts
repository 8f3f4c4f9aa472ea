import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadProject } from "../../src/config/load.js";
import type { Registry } from "../../src/config/registry.js";
import { executeAttempt } from "../../src/executor/execute-attempt.js";
import { tempProject } from "../helpers/cli.js";
import { testPool, type TestPool } from "./fixture.js";

// The same tasks inline and in a worker: one rule for results, wherever the task ran.
const TASKS = `
import { task } from "fluid-tasks";
const big = () => ({ n: 10n });
const cycle = () => { const o: any = { a: 1 }; o.self = o; return o; };
const fn = () => () => 1;
const plain = () => ({ list: [1, "two", null], nested: { ok: true } });
const none = () => undefined;
export const t1 = task({ name: "big" }, big);
export const t2 = task({ name: "bigCpu", cpuBound: true }, big);
export const t3 = task({ name: "cycle" }, cycle);
export const t4 = task({ name: "cycleCpu", cpuBound: true }, cycle);
export const t5 = task({ name: "fn" }, fn);
export const t6 = task({ name: "fnCpu", cpuBound: true }, fn);
export const t7 = task({ name: "plain" }, plain);
export const t8 = task({ name: "plainCpu", cpuBound: true }, plain);
export const t9 = task({ name: "none" }, none);
export const t10 = task({ name: "noneCpu", cpuBound: true }, none);
`;

let project: { dir: string; configFile: string; cleanup: () => void };
let t: TestPool;
let registry: Registry;

beforeAll(async () => {
  const p = tempProject({ "fluid.config.ts": `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"] });\n`, "tasks/t.ts": TASKS });
  project = { ...p, configFile: `${p.dir}/fluid.config.ts` };
  t = testPool(project, { size: 1 });
  registry = (await loadProject({ config: project.configFile, cwd: project.dir, env: {} })).registry;
});
afterAll(async () => {
  await t.close();
  project.cleanup();
});

const attempt = (name: string) =>
  executeAttempt(
    { task: registry.get(name), id: `run-${name}`, params: {}, attempt: 1, deps: undefined, log: () => {}, queue: async () => "x" },
    { timeoutMs: 10_000, pool: t.pool },
  );

describe("executeAttempt: results JSON cannot store", () => {
  it.each([
    ["big", "it holds a BigInt"],
    ["cycle", "it holds a circular reference"],
    ["fn", "a function is not data"],
  ])("%s fails with FLUID_RESULT, inline and in a worker", async (name, why) => {
    for (const task of [name, `${name}Cpu`]) {
      const out = await attempt(task);
      expect(out).toMatchObject({ state: "failure", error: { code: "FLUID_RESULT", name: "ResultError" } });
      expect(out.error!.message).toMatch(/^the result of task "\w+" cannot be stored as JSON: /);
      expect(out.error!.message).toContain(`: ${why}; return plain data`);
      expect(out.result).toBeUndefined();
    }
  });

  it("plain data and no result succeed", async () => {
    for (const task of ["plain", "plainCpu"]) {
      expect(await attempt(task)).toMatchObject({ state: "success", result: { list: [1, "two", null], nested: { ok: true } } });
    }
    for (const task of ["none", "noneCpu"]) expect(await attempt(task)).toMatchObject({ state: "success", result: undefined });
  });
});
