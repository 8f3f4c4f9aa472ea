import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { task, isFluidError, loadProject, type FinishedRun, type RunRecord, type TaskHandle } from "../../src/index.js";
import { queueAndWait, waitForRun, connect, enqueue, runTask } from "../../src/index.js";
import { startDaemon, type TestDaemon } from "../daemon/helpers.js";

/**
 * Typed task handles (`sayHi.queue`, `sayHi.queueAndWait`) from a script that shares the
 * project's store with a running daemon: in this process through src/, and in a separate
 * `node` process through the built package.
 */

const TASKS = `
  import { task } from "fluid-tasks";
  import { z } from "zod";
  export const sayHi = task(
    { name: "say_hi", params: z.object({ name: z.string().min(1), times: z.number().default(1) }) },
    async (ctx) => ({ greeted: ctx.params.name.repeat(ctx.params.times) }),
  );
  export const fail = task({ name: "fail" }, async () => { throw new Error("nope"); });
`;

// The same definitions as a script would import them (the daemon runs the project's copy).
const sayHi = task(
  { name: "say_hi", params: z.object({ name: z.string().min(1), times: z.number().default(1) }) },
  async (ctx) => ({ greeted: ctx.params.name.repeat(ctx.params.times) }),
);
const fail = task({ name: "fail" }, async (): Promise<number> => {
  throw new Error("nope");
});

let d: TestDaemon;
beforeAll(async () => {
  d = await startDaemon(TASKS);
});
afterAll(async () => {
  await d?.close();
});

describe("task handles", () => {
  it("queueAndWait resolves with the final attempt and the task's result", async () => {
    const run = await sayHi.queueAndWait({ name: "bob", times: 2 }, { cwd: d.dir, env: {}, timeoutMs: 10_000 });
    expect(run).toMatchObject({ task: "say_hi", state: "success", result: { greeted: "bobbob" }, trigger: "queue" });
    expectTypeOf(run.result).toEqualTypeOf<{ greeted: string } | undefined>();
  });

  it("queue resolves with the run id, once the run is queued and recorded", async () => {
    const id = await sayHi.queue({ name: "ann" }, { cwd: d.dir, env: {}, id: "handle-queue-1" });
    expect(id).toBe("handle-queue-1");
    expectTypeOf(id).toEqualTypeOf<string>();
    const project = await loadProject({ cwd: d.dir, env: {} });
    const conn = await connect(project);
    try {
      expect(await waitForRun(conn, id, { timeoutMs: 10_000 })).toMatchObject({ state: "success", result: { greeted: "ann" } });
    } finally {
      await conn.close();
    }
  });

  it("a failing run resolves with its state and error; invalid params reject before anything is queued", async () => {
    const run = await fail.queueAndWait(undefined, { cwd: d.dir, env: {}, timeoutMs: 10_000 });
    expect(run).toMatchObject({ state: "failure", error: { message: "nope" } });
    expect(run.result).toBeUndefined();
    const bad = await sayHi.queue({ name: "" }, { cwd: d.dir, env: {} }).catch((e: unknown) => e);
    expect(isFluidError(bad) && bad.code).toBe("FLUID_PARAMS");
  });

  it("a task without a name says how to name it", async () => {
    const unnamed = task(async () => 1);
    const error = await unnamed.queue(undefined, { cwd: d.dir, env: {} }).catch((e: unknown) => e);
    expect(isFluidError(error) && error.code).toBe("FLUID_USAGE");
    expect(String((error as Error).message)).toContain("no name");
    expect((error as { hint: string }).hint).toContain('task({ name: "say_hi"');
  });

  it("the handle methods work detached from the task (destructured)", async () => {
    const { queueAndWait: greet } = sayHi;
    expect(await greet({ name: "gus" }, { cwd: d.dir, env: {}, timeoutMs: 10_000 })).toMatchObject({ result: { greeted: "gus" } });
  });

  it("the loose call by name still works, with an untyped result", async () => {
    const run = await queueAndWait("say_hi", { name: "cy" }, { cwd: d.dir, env: {}, timeoutMs: 10_000 });
    expect(run).toMatchObject({ state: "success", result: { greeted: "cy" } });
    expectTypeOf(run.result).toEqualTypeOf<unknown>();
    const typed = await queueAndWait(sayHi, { name: "di" }, { cwd: d.dir, env: {}, timeoutMs: 10_000 });
    expect(typed.result).toEqual({ greeted: "di" });
    expectTypeOf(typed).toEqualTypeOf<FinishedRun<{ greeted: string }>>();
  });

  it("from a separate node process through the built package", async () => {
    const script = join(d.dir, "script.mjs");
    writeFileSync(
      script,
      `import { task } from "fluid-tasks";
import { z } from "zod";
const sayHi = task({ name: "say_hi", params: z.object({ name: z.string() }) }, async () => ({}));
const run = await sayHi.queueAndWait({ name: "eve" }, { timeoutMs: 10000 });
console.log(JSON.stringify({ state: run.state, result: run.result }));
`,
    );
    const r = await execa("node", [script], { cwd: d.dir, env: { FLUID_CONFIG: "", FLUID_STORE: "" }, timeout: 30_000 });
    expect(JSON.parse(r.stdout)).toEqual({ state: "success", result: { greeted: "eve" } });
  });
});

describe("handle and client types", () => {
  it("params are typed from the schema's input; required keys are required", () => {
    expectTypeOf(sayHi).toExtend<TaskHandle>();
    expectTypeOf(sayHi.queue).parameter(0).toEqualTypeOf<{ name: string; times?: number | undefined }>();
    expectTypeOf(fail.queueAndWait).returns.resolves.toEqualTypeOf<FinishedRun<number>>();
    expectTypeOf<FinishedRun<number>["state"]>().toEqualTypeOf<RunRecord["state"]>();
    if (Math.random() > 2) {
      // Type checks only (never run): a task without params needs none.
      void fail.queue();
      // @ts-expect-error name is required
      void sayHi.queue({});
      // @ts-expect-error name is a string
      void sayHi.queueAndWait({ name: 1 });
      // @ts-expect-error params are required
      void sayHi.queue();
      // @ts-expect-error unknown option
      void sayHi.queue({ name: "x" }, { dely: "5s" });
    }
  });

  it("enqueue checks params against the task's schema", () => {
    expectTypeOf(enqueue<typeof sayHi.params>).parameter(2).toEqualTypeOf<{ name: string; times?: number | undefined }>();
  });

  it("runTask checks params and types the result", async () => {
    const end = await runTask(sayHi, { params: { name: "fay" } });
    expect(end).toMatchObject({ state: "success", result: { greeted: "fay" } });
    expectTypeOf(end.result).toEqualTypeOf<{ greeted: string } | undefined>();
    // @ts-expect-error name is a string
    if (Math.random() > 2) await runTask(sayHi, { params: { name: 1 } });
  });

  it("ctx.queue takes a task handle, its params typed", () => {
    task({ name: "parent" }, async (ctx) => {
      expectTypeOf(ctx.queue(sayHi, { name: "x" })).toEqualTypeOf<Promise<string>>();
      if (Math.random() > 2) {
        // @ts-expect-error name is a string
        await ctx.queue(sayHi, { name: 1 });
        // @ts-expect-error params are required when the schema requires a key
        await ctx.queue(sayHi);
        await ctx.queue(fail);
        await ctx.queue("say_hi", { anything: 1 });
      }
    });
  });
});
