/**
 * What an IO-bound task prints, returns, and how runs that do not end are told, through the
 * real `fluid` command: output capture, the log cap, results JSON cannot store, a task that
 * never settles, a reused --run-id.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG, fluid, useTempProjects } from "../helpers/cli.js";

const project = useTempProjects();

const TASKS = `
import { task } from "fluid-tasks";
export const noisy = task({ name: "noisy" }, async (ctx) => {
  console.log("console-out %d", 1);
  console.error("console-err");
  console.info({ k: "v" });
  process.stdout.write("part-");
  await new Promise((r) => setTimeout(r, 5));
  process.stdout.write("ial\\nbytes ");
  process.stdout.write(Buffer.from("as buffer\\n"));
  process.stderr.write("direct-err\\n");
  ctx.log.info("ctx-line");
  setTimeout(() => console.log("from a timer of the run"), 1);
  await new Promise((r) => setTimeout(r, 20));
  process.stdout.write("no newline at the end");
  return { ok: true };
});
export const many = task({ name: "many" }, async () => {
  for (let i = 0; i < 3000; i++) console.log("line " + i);
  throw new Error("failed at the end");
});
export const big = task({ name: "big" }, async () => 10n);
export const cycle = task({ name: "cycle" }, async () => { const o: any = { a: 1 }; o.self = o; return o; });
export const fn = task({ name: "fn" }, async () => () => 1);
export const hang = task({ name: "hang", timeout: 0 }, () => new Promise(() => {}));
export const hi = task({ name: "hi" }, async () => "hi");
`;

function setup(config = CONFIG): { dir: string; env: Record<string, string> } {
  const dir = project({ "fluid.config.ts": config, "tasks/t.ts": TASKS });
  return { dir, env: { FLUID_STORE: join(dir, "runs.db") } };
}

const run = (p: { dir: string; env: Record<string, string> }, args: string[]) => fluid(args, { cwd: p.dir, env: p.env });

describe("fluid run: output of an IO-bound task", () => {
  it("--json: stdout carries only the JSON; what the task printed is in its log with its stream", async () => {
    const p = setup();
    const r = await run(p, ["run", "noisy", "--json"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split("\n")).toHaveLength(1);
    const out = JSON.parse(r.stdout) as { id: string; result: unknown };
    expect(out.result).toEqual({ ok: true });
    // Still visible to the user: on stderr, tagged like ctx.log lines.
    expect(r.stderr).toMatch(/STDOUT noisy [0-9a-f]{8} {2}console-out 1/);
    expect(r.stderr).toMatch(/STDERR noisy [0-9a-f]{8} {2}console-err/);

    const logs = await run(p, ["logs", out.id, "--json"]);
    expect(logs.exitCode).toBe(0);
    const lines = (JSON.parse(logs.stdout) as Array<{ level: string; message: string }>).map((l) => `${l.level}:${l.message}`);
    expect(lines).toEqual([
      "stdout:console-out 1",
      "stderr:console-err",
      "stdout:{ k: 'v' }",
      "stdout:part-ial",
      "stdout:bytes as buffer",
      "stderr:direct-err",
      "info:ctx-line",
      "stdout:from a timer of the run",
      "stdout:no newline at the end",
    ]);
  });

  it("without --json: the captured lines are on stderr, the result alone on stdout", async () => {
    const p = setup();
    const r = await run(p, ["run", "noisy"]);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ok: true });
    expect(r.stderr).toContain("console-out 1");
    expect(r.stderr).toContain("no newline at the end");
  });

  it("keeps the head and the tail of a long log, saying how many lines and bytes were dropped", async () => {
    const p = setup(`import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"], store: { logCap: 10 } });\n`);
    const r = await run(p, ["run", "many", "--json"]);
    expect(r.exitCode).toBe(1);
    const { id } = JSON.parse(r.stdout) as { id: string };
    const logs = await run(p, ["logs", id]);
    const messages = logs.stdout.split("\n").map((l) => l.split(`${id.slice(0, 8)}  `)[1]);
    const bytes = Array.from({ length: 2990 }, (_, i) => `line ${i + 5}`.length).reduce((a, b) => a + b, 0);
    expect(messages).toEqual([
      "line 0", "line 1", "line 2", "line 3", "line 4",
      `[fluid] … 2990 lines (${bytes} bytes) dropped … (logCap: the store keeps the first and the last lines of an attempt)`,
      "line 2995", "line 2996", "line 2997", "line 2998", "line 2999",
    ]);
  });
});

describe("fluid run: a result JSON cannot store", () => {
  it.each([
    ["big", "it holds a BigInt"],
    ["cycle", "it holds a circular reference"],
    ["fn", "a function is not data"],
  ])("%s: a failure (exit 1) with a clear message, recorded as a failure", async (name, why) => {
    const p = setup();
    const r = await run(p, ["run", name]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`the result of task "${name}" cannot be stored as JSON: ${why}; return plain data`);
    expect(r.stderr).not.toContain("internal error");
    expect(r.stderr).not.toContain("success");
    const json = await run(p, ["run", name, "--json"]);
    expect(json.exitCode).toBe(1);
    const out = JSON.parse(json.stdout) as { id: string; state: string; error: { code: string } };
    expect(out).toMatchObject({ state: "failure", error: { code: "FLUID_RESULT" } });
    const shown = await run(p, ["show", out.id, "--json"]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ run: { state: "failure", error: { code: "FLUID_RESULT" } } });
  });
});

describe("fluid run: a task that never settles", () => {
  it("ends as a failure (exit 1) with a clear message, recorded, instead of Node's silent exit 13", async () => {
    const p = setup();
    const r = await run(p, ["run", "hang", "--json"]);
    expect(r.exitCode).toBe(1);
    const out = JSON.parse(r.stdout) as { id: string; state: string; error: { code: string; message: string } };
    expect(out).toMatchObject({ state: "failure", error: { code: "FLUID_NEVER_SETTLED" } });
    expect(out.error.message).toContain('task "hang" never settled');
    const shown = await run(p, ["show", out.id, "--json"]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ run: { state: "failure", error: { code: "FLUID_NEVER_SETTLED" } } });
    const plain = await run(p, ["run", "hang"]);
    expect(plain.exitCode).toBe(1);
    expect(plain.stderr).toContain("never settled");
  });
});

describe("fluid run --run-id", () => {
  it("refuses an id already recorded (exit 2) and keeps the earlier run's record", async () => {
    const p = setup();
    const first = await run(p, ["run", "hi", "--run-id", "nightly-1"]);
    expect(first.exitCode).toBe(0);
    const again = await run(p, ["run", "noisy", "--run-id", "nightly-1"]);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain('a run with id "nightly-1" is already recorded');
    expect(again.stderr).toContain("hint: run ids must be unique; omit --run-id to get a fresh one");
    expect(again.stderr).not.toContain("console-out");
    const shown = await run(p, ["show", "nightly-1", "--json"]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ run: { task: "hi", state: "success", result: "hi" }, attempts: [{ attempt: 1 }] });
  });
});
