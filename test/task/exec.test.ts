import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runTask } from "../../src/consumer/run-task.js";
import type { RunLogLine } from "../../src/task/context.js";
import { task } from "../../src/task/task.js";
import { alive, waitUntil } from "../executor/fixture.js";
import { CONFIG, fluid, useTempProjects } from "../helpers/cli.js";

const lines = (logs: RunLogLine[]): string[] => logs.map((l) => `${l.level}: ${l.message}`);

const project = useTempProjects();
let leftovers: number[] = [];
afterEach(() => {
  for (const pid of leftovers) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  leftovers = [];
});

describe("ctx.exec in an IO-bound task", () => {
  it("resolves with the output, and puts each line in the run's log with its stream", async () => {
    const logs: RunLogLine[] = [];
    const t = task({ name: "prog" }, (ctx) => ctx.exec("sh", ["-c", 'echo "one $GREETING"; echo two >&2; printf "no newline"'], { env: { GREETING: "hi" } }));
    const r = await runTask(t, { log: (l) => logs.push(l) });
    expect(r).toMatchObject({ state: "success", result: { exitCode: 0, stdout: "one hi\nno newline", stderr: "two" } });
    expect(lines(logs)).toEqual(expect.arrayContaining(["stdout: one hi", "stderr: two", "stdout: no newline"]));
    expect(logs.every((l) => l.runId === r.id && l.task === "prog")).toBe(true);
  });

  it("passes input, cwd and shell", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fluid-exec-"));
    try {
      const t = task({ name: "io" }, async (ctx) => ({
        upper: (await ctx.exec("tr", ["a-z", "A-Z"], { input: "shout" })).stdout,
        cwd: (await ctx.exec("pwd", [], { cwd: dir })).stdout,
        shell: (await ctx.exec("echo $((6 * 7)) | cat", [], { shell: true })).stdout,
      }));
      const r = await runTask(t);
      expect(r.result).toEqual({ upper: "SHOUT", cwd: dir, shell: "42" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails the run with FLUID_EXEC, the exit code and the last stderr lines", async () => {
    const t = task({ name: "bad" }, (ctx) => ctx.exec("sh", ["-c", "echo working; echo 'fatal: no such remote' >&2; exit 3"]));
    const r = await runTask(t);
    expect(r.state).toBe("failure");
    expect(r.error).toMatchObject({ name: "ExecError", code: "FLUID_EXEC" });
    expect(r.error!.message).toContain(`command "sh -c 'echo working; echo '\\''fatal: no such remote'\\'' >&2; exit 3'" exited with code 3`);
    expect(r.error!.message).toContain("last lines on stderr:\n  fatal: no such remote");
    const caught = task({ name: "caught" }, async (ctx) => {
      try {
        await ctx.exec("sh", ["-c", "exit 4"]);
      } catch (error) {
        return { code: (error as { code: string }).code, exit: (error as { childExitCode: number }).childExitCode };
      }
    });
    expect((await runTask(caught)).result).toEqual({ code: "FLUID_EXEC", exit: 4 });
  });

  it("says when a program cannot be started", async () => {
    const r = await runTask(task({ name: "missing" }, (ctx) => ctx.exec("no-such-program-fluid")));
    expect(r.error).toMatchObject({ code: "FLUID_EXEC" });
    expect(r.error!.message).toMatch(/command "no-such-program-fluid" could not be started: .*ENOENT/);
  });

  it("kills the program's whole tree at its own timeout", async () => {
    const t = task({ name: "slowprog" }, (ctx) => ctx.exec("sh", ["-c", "sleep 60 & echo $!; exec sleep 61"], { timeout: 300, killGrace: 200 }));
    const logs: RunLogLine[] = [];
    const r = await runTask(t, { log: (l) => logs.push(l) });
    expect(r.error).toMatchObject({ code: "FLUID_EXEC" });
    expect(r.error!.message).toContain("timed out after 300ms and was killed");
    const sleep = Number(logs.find((l) => l.level === "stdout")!.message);
    leftovers.push(sleep);
    await waitUntil(() => !alive(sleep), 5000, "the background sleep to be killed");
  });

  it("kills the program and everything it started, also a detached descendant, when the run times out", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fluid-exec-"));
    const file = join(dir, "pids");
    try {
      // The program: itself, a child in its group, and a child in a session of its own.
      const script = `sleep 60 & a=$!; setsid sleep 62 & b=$!; echo "$$ $a $b" > ${file}; exec sleep 61`;
      const t = task({ name: "tree", timeout: "1s" }, (ctx) => ctx.exec("sh", ["-c", script], { killGrace: 500 }));
      const r = await runTask(t);
      expect(r.state).toBe("timeout");
      const pids = readFileSync(file, "utf8").trim().split(" ").map(Number);
      leftovers.push(...pids);
      expect(pids).toHaveLength(3);
      await waitUntil(() => pids.every((pid) => !alive(pid)), 5000, "the program's tree to be killed");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("kills the program when the run is cancelled", async () => {
    const controller = new AbortController();
    const logs: RunLogLine[] = [];
    const t = task({ name: "cancelme" }, (ctx) => ctx.exec("sh", ["-c", "echo $$; exec sleep 60"]));
    const running = runTask(t, { signal: controller.signal, log: (l) => logs.push(l) });
    await waitUntil(() => logs.length > 0, 5000, "the program to start");
    const pid = Number(logs[0]!.message);
    leftovers.push(pid);
    const { RunCancelledError } = await import("../../src/core/errors.js");
    controller.abort(new RunCancelledError("cancelled by request"));
    expect((await running).state).toBe("cancelled");
    await waitUntil(() => !alive(pid), 5000, "the program to be killed");
  });

  it("under fluid run: the program's tree is gone when fluid exits after the run's timeout", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/t.ts": `import { task } from "fluid-tasks";
import { z } from "zod";
export const slow = task({ timeout: "1s", params: z.object({ file: z.string() }) }, (ctx) =>
  ctx.exec("sh", ["-c", 'sleep 60 & a=$!; setsid sleep 62 & echo "$$ $a $!" > ' + ctx.params.file + "; exec sleep 61"]));
`,
    });
    const file = join(dir, "pids");
    const r = await fluid(["run", "slow", "--file", file], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/timed out after 1s/);
    const pids = readFileSync(file, "utf8").trim().split(" ").map(Number);
    leftovers.push(...pids);
    expect(pids).toHaveLength(3);
    await waitUntil(() => pids.every((pid) => !alive(pid)), 5000, "the program's tree to be gone");
  }, 60_000);
});
