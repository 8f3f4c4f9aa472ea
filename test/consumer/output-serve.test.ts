/** Output capture and the result rule under the real `fluid serve`, driven by `fluid queue --wait`. */
import { execa, type ResultPromise } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { BIN, CONFIG, fluid, useTempProjects } from "../helpers/cli.js";

const TASKS = `
import { task } from "fluid-tasks";
export const noisy = task({ name: "noisy" }, async (ctx) => {
  console.log("console-out");
  await new Promise((r) => setTimeout(r, 5));
  process.stderr.write("direct-err\\n");
  ctx.log.info("ctx-line");
  return "done";
});
export const big = task({ name: "big" }, async () => ({ n: 10n }));
`;

const project = useTempProjects();
const children: ResultPromise[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null) child.kill("SIGKILL");
    await child.catch(() => {});
  }
});

describe("fluid serve: output and results of IO-bound runs", () => {
  it("records what a run printed as its log lines, refuses a reused --run-id, and fails a result JSON cannot store", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const child = execa("node", [BIN, "serve", "--log-format", "json"], { cwd: dir, reject: false, env: { NO_COLOR: "1", FLUID_CONFIG: "" } });
    children.push(child);
    let stderr = "";
    let stdout = "";
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
    const deadline = Date.now() + 20_000;
    while (!stderr.includes('"started"') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));

    const q = await fluid(["queue", "noisy", "--wait", "--json", "--run-id", "nightly-1"], { cwd: dir });
    expect(q.exitCode).toBe(0);
    const { id } = JSON.parse(q.stdout) as { id: string };
    expect(id).toBe("nightly-1");
    const logs = await fluid(["logs", id, "--json"], { cwd: dir });
    expect((JSON.parse(logs.stdout) as Array<{ level: string; message: string }>).map((l) => `${l.level}:${l.message}`)).toEqual([
      "stdout:console-out", "stderr:direct-err", "info:ctx-line",
    ]);
    // The daemon shows them as log events of the run, not as stray output.
    const events = stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.filter((e) => e.event === "log" && e.id === id).map((e) => e.message)).toEqual(["console-out", "direct-err", "ctx-line"]);
    expect(stdout).not.toContain("console-out");
    expect(stderr).not.toMatch(/^console-out$/m);

    // The id is taken: neither queue nor run may reuse it (the earlier record stays).
    for (const cmd of ["queue", "run"]) {
      const again = await fluid([cmd, "big", "--run-id", "nightly-1"], { cwd: dir });
      expect(again.exitCode).toBe(2);
      expect(again.stderr).toContain('a run with id "nightly-1" is already recorded');
      expect(again.stderr).toContain("hint: run ids must be unique; omit --run-id to get a fresh one");
    }
    const shown = await fluid(["show", "nightly-1", "--json"], { cwd: dir });
    expect(JSON.parse(shown.stdout)).toMatchObject({ run: { task: "noisy", state: "success", result: "done" } });

    const bad = await fluid(["queue", "big", "--wait"], { cwd: dir });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain('the result of task "big" cannot be stored as JSON: it holds a BigInt; return plain data');
    child.kill("SIGTERM");
    expect((await child).exitCode).toBe(0);
  });
});
