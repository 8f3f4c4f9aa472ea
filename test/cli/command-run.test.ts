import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { waitUntil } from "../executor/fixture.js";
import { fluid, useTempProjects } from "../helpers/cli.js";
import { killMarked, markedProcesses, uniqueMark } from "../helpers/marked-processes.js";

// `fluid run` of command tasks: from the config's `commands` and from a task module.

const project = useTempProjects();
const marks: string[] = [];
afterEach(() => {
  for (const m of marks.splice(0)) killMarked("FLUID_TEST_MARK", m);
});

const CONFIG = `import { defineConfig } from "fluid-tasks";
export default defineConfig({
  tasks: ["./tasks/*.ts"],
  commands: {
    ok: { command: "echo to stdout; echo to stderr >&2" },
    fail: { command: "echo working; echo 'fatal: no such remote' >&2; exit 3" },
    slow: { command: "sleep 100 & sleep 101 | cat; wait", timeout: "1s", killGrace: "300ms" },
  },
});
`;
const MODULE = `import { command } from "fluid-tasks";
import { z } from "zod";
import { writeFileSync } from "node:fs";
writeFileSync(new URL("../loaded", import.meta.url), "yes"); // says this module was evaluated
export const greet = command("greet", 'echo "hi $FLUID_PARAM_NAME"', { params: z.object({ name: z.string().describe("who") }) });
`;

const files = (): Record<string, string> => ({ "fluid.config.ts": CONFIG, "tasks/greet.ts": MODULE });

describe("fluid run <command task>", () => {
  it("exits 0 and prints { exitCode: 0 }; the output goes to stderr as the run's log, and `fluid logs` keeps it", async () => {
    const dir = project(files());
    const r = await fluid(["run", "ok", "--json"], { cwd: dir });
    expect(r.exitCode).toBe(0);
    const outcome = JSON.parse(r.stdout) as { id: string; state: string; result: unknown };
    expect(outcome).toMatchObject({ state: "success", result: { exitCode: 0 } });
    expect(r.stderr).toMatch(/STDOUT ok +[0-9a-f]{8} {2}to stdout/);
    expect(r.stderr).toMatch(/STDERR ok +[0-9a-f]{8} {2}to stderr/);
    const logs = await fluid(["logs", outcome.id], { cwd: dir });
    expect(logs.exitCode).toBe(0);
    expect(logs.stdout).toMatch(/STDOUT ok +[0-9a-f]{8} {2}to stdout$/m);
    expect(logs.stdout).toMatch(/STDERR ok +[0-9a-f]{8} {2}to stderr$/m);
  });

  it("exits 1 for a command that fails: the exit code and its last stderr lines in the message, once", async () => {
    const dir = project(files());
    const r = await fluid(["run", "fail"], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`failure in`);
    expect(r.stderr).toContain(`command "echo working; echo 'fatal: no such remote' >&2; exit 3" exited with code 3\nlast lines on stderr:\n  fatal: no such remote\nhint: `);
    expect(r.stderr.split("last lines on stderr").length).toBe(2);
    const json = await fluid(["run", "fail", "--json"], { cwd: dir });
    expect(json.exitCode).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ state: "failure", error: { code: "FLUID_EXEC", childExitCode: 3 } });
    const show = await fluid(["show", (JSON.parse(json.stdout) as { id: string }).id, "--json"], { cwd: dir });
    expect(JSON.parse(show.stdout)).toMatchObject({ run: { state: "failure", error: { childExitCode: 3 } } });
  });

  it("at the timeout: kills a pipeline with background children, exits 1, leaves no process", async () => {
    const dir = project(files());
    const mark = uniqueMark();
    marks.push(mark);
    const r = await fluid(["run", "slow"], { cwd: dir, env: { FLUID_TEST_MARK: mark } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/slow .* timeout in/);
    await waitUntil(() => markedProcesses("FLUID_TEST_MARK", mark).length === 0, 10_000, "no process of the command left");
  });

  it("flags come from the params schema; a value of $(touch pwned) reaches the command as text", async () => {
    const dir = project(files());
    const r = await fluid(["run", "greet", "--name", "$(touch pwned)"], { cwd: dir });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/STDOUT greet +[0-9a-f]{8} {2}hi \$\(touch pwned\)/);
    expect(existsSync(join(dir, "pwned"))).toBe(false);
    const help = await fluid(["run", "greet", "--help"], { cwd: dir });
    expect(help.stdout).toMatch(/--name <string>/);
    expect(help.stdout).toMatch(/task\s+default: none/);
    expect(help.stdout).toContain('echo "hi $FLUID_PARAM_NAME"'); // the description: the command line
  });

  it("a command of the config runs without loading the task modules once the task index is made", async () => {
    const dir = project(files());
    expect((await fluid(["ls"], { cwd: dir })).exitCode).toBe(0);
    rmSync(join(dir, "loaded"));
    expect((await fluid(["run", "ok"], { cwd: dir })).exitCode).toBe(0);
    expect(existsSync(join(dir, "loaded"))).toBe(false);
    expect((await fluid(["run", "greet", "--name", "x"], { cwd: dir })).exitCode).toBe(0);
    expect(existsSync(join(dir, "loaded"))).toBe(true);
  });

  it("fluid ls lists config commands with their command line and no timeout", async () => {
    const dir = project(files());
    const r = await fluid(["ls", "--json"], { cwd: dir });
    expect(r.exitCode).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{ name: string; description: string; timeoutMs: number }>;
    expect(rows.find((t) => t.name === "ok")).toMatchObject({ description: "echo to stdout; echo to stderr >&2", timeoutMs: 0 });
    expect(rows.find((t) => t.name === "slow")).toMatchObject({ timeoutMs: 1000 });
  });

  it("a command named as a module's task: exit 2 and a config error", async () => {
    const dir = project({ ...files(), "fluid.config.ts": CONFIG.replace("ok:", "greet:") });
    const r = await fluid(["run", "greet", "--name", "x"], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/the command "greet" in `commands` has the name of a task of tasks\/greet\.ts/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace for a user mistake
  });
});
