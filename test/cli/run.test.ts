import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, ROOT, fluid, type CliResult } from "../helpers/cli.js";

// Runs record into a store of this file's own, not the repo's .fluid/fluid.db (shared with
// colleagues and other test files, where a `fluid disable` would change what `run` does).
const scratch = mkdtempSync(join(tmpdir(), "fluid-run-test-"));
const ENV = { FLUID_STORE: join(scratch, "fluid.db") };
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** `fluid <args>` at the repo root (its fluid.config.ts loads tasks/*.ts). */
function run(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return fluid(args, { cwd: ROOT, env: { ...ENV, ...env } });
}

/** Parses stdout as exactly one JSON object on one line, and nothing else (execa strips the final newline). */
function onlyJson(stdout: string): Record<string, unknown> {
  expect(stdout.split("\n")).toHaveLength(1);
  const value = JSON.parse(stdout) as unknown;
  expect(typeof value === "object" && value !== null && !Array.isArray(value)).toBe(true);
  return value as Record<string, unknown>;
}

const STACK_FRAME = "    at ";
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/;
const ANSI_ALL = new RegExp(ANSI.source, "g");

describe("fluid run: params from flags", () => {
  it("runs say_hi --name bob: exit 0, the log on stderr, the result on stdout", async () => {
    const r = await run(["run", "say_hi", "--name", "bob"]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain("Hi bob!");
    expect(r.stderr).toMatch(/say_hi [0-9a-f]{20} success in \d+ms/);
    expect(JSON.parse(r.stdout)).toEqual({ greeted: "bob" });
  });

  it("accepts --name=value", async () => {
    const r = await run(["run", "say_hi", "--name=eve", "--json"]);
    expect(r.exitCode).toBe(0);
    expect(onlyJson(r.stdout).result).toEqual({ greeted: "eve" });
  });

  it("exits 2 naming the missing required flag, without a stack trace", async () => {
    const r = await run(["run", "say_hi"]);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain('error: invalid params for task "say_hi"');
    expect(r.stderr).toContain("--name: required, but not given");
    expect(r.stderr).toContain("hint: see `fluid run say_hi --help`");
    expect(r.stderr).not.toContain(STACK_FRAME);
  });

  it("exits 2 for a value the schema rejects, naming the flag", async () => {
    const r = await run(["run", "say_hi", "--name", ""]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--name: .*(>=1|at least 1|too small)/i);
    expect(r.stderr).not.toContain(STACK_FRAME);
  });

  it("exits 2 for an unknown task, suggesting the close one", async () => {
    const r = await run(["run", "say_hy", "--name", "bob"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('error: unknown task "say_hy"');
    expect(r.stderr).toContain('did you mean "say_hi"');
    expect(r.stderr).not.toContain(STACK_FRAME);
  });

  it("exits 2 for an unknown flag", async () => {
    const r = await run(["run", "say_hi", "--name", "bob", "--nmae", "x"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--nmae");
    expect(r.stderr).not.toContain("Hi bob!"); // nothing ran
  });

  it("exits 2 for a number flag given text, naming the flag", async () => {
    const r = await run(["run", "resize", "--width", "abc"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--width");
    expect(r.stderr).toContain('expected a number, got "abc"');
    expect(r.stderr).not.toContain(STACK_FRAME);
  });

  it("exits 2 for a number that fails the schema (not an integer)", async () => {
    const r = await run(["run", "resize", "--width", "2.5"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--width: .*int/i);
  });

  it("exits 2 for an invalid enum value, listing the choices", async () => {
    const r = await run(["run", "resize", "--width", "10", "--format", "gif"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--format");
    expect(r.stderr).toContain("gif");
    expect(r.stderr).toMatch(/png.*jpeg.*webp/);
    expect(r.stderr).not.toContain(STACK_FRAME);
  });

  it("maps every kind of flag of resize into the params, and redacts the secret", async () => {
    const r = await run([
      "run", "resize", "--width", "640", "--height", "480", "--format", "webp", "--sharpen",
      "--files", "a.png", "--files", "b.png", "--api-token", "tok-s3cret-9", "--json",
    ]);
    expect(r.exitCode).toBe(0);
    const out = onlyJson(r.stdout);
    expect(out).toMatchObject({
      task: "resize",
      state: "success",
      attempts: 1,
      params: { width: 640, height: 480, format: "webp", sharpen: true, files: ["a.png", "b.png"], apiToken: "[redacted]" },
      result: { resized: 2, width: 640, height: 480, format: "webp" },
    });
    expect(out.id).toMatch(/^[0-9a-f]{20}$/);
    expect(Date.parse(out.started as string)).toBeLessThanOrEqual(Date.parse(out.ended as string));
    expect(typeof out.durationMs).toBe("number");
    expect(r.stdout + r.stderr).not.toContain("tok-s3cret-9");
    expect(r.stderr).toContain("resizing 2 file(s) to 640x480 webp (sharpened)");
  });

  it("fills in defaults and leaves out optional params that are not given", async () => {
    const r = await run(["run", "resize", "--width", "5", "--json"]);
    expect(r.exitCode).toBe(0);
    const out = onlyJson(r.stdout);
    expect(out.params).toEqual({ width: 5, format: "png", sharpen: false, files: [] });
    expect(out.result).toEqual({ resized: 0, width: 5, height: null, format: "png" });
  });

  it("--no-sharpen sets the boolean to false, and the last of --sharpen/--no-sharpen wins", async () => {
    const off = await run(["run", "resize", "--width", "5", "--no-sharpen", "--json"]);
    expect(off.exitCode).toBe(0);
    expect((onlyJson(off.stdout).params as Record<string, unknown>).sharpen).toBe(false);
    const last = await run(["run", "resize", "--width", "5", "--no-sharpen", "--sharpen", "--json"]);
    expect((onlyJson(last.stdout).params as Record<string, unknown>).sharpen).toBe(true);
  });
});

describe("fluid run --params", () => {
  it("takes all params as JSON", async () => {
    const r = await run(["run", "resize", "--params", '{"width":5,"files":["x"]}', "--json"]);
    expect(r.exitCode).toBe(0);
    expect(onlyJson(r.stdout).params).toEqual({ width: 5, format: "png", sharpen: false, files: ["x"] });
  });

  it("reads @file.json, and flags win over it for the keys they give", async () => {
    const file = join(scratch, "params.json");
    writeFileSync(file, JSON.stringify({ width: 9, format: "jpeg", sharpen: true }));
    const r = await run(["run", "resize", "-p", `@${file}`, "--width", "11", "--no-sharpen", "--json"]);
    expect(r.exitCode).toBe(0);
    expect(onlyJson(r.stdout).params).toEqual({ width: 11, format: "jpeg", sharpen: false, files: [] });
  });

  it("exits 2 for invalid JSON, with an example in the hint", async () => {
    const r = await run(["run", "resize", "--params", "{width:5}"]);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("error: --params is not valid JSON");
    expect(r.stderr).toMatch(/hint: .*--params '\{/);
    expect(r.stderr).not.toContain(STACK_FRAME);
  });

  it("exits 2 when the JSON is not an object", async () => {
    const r = await run(["run", "resize", "--params", "[1,2]"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--params must be a JSON object");
  });

  it("exits 2 naming the file when @file cannot be read", async () => {
    const r = await run(["run", "resize", "--params", `@${join(scratch, "nope.json")}`]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("nope.json");
    expect(r.stderr).toContain("ENOENT");
  });

  it("validates params given with --params against the schema", async () => {
    const r = await run(["run", "resize", "--params", '{"width":"wide"}']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--width: .*number/i);
  });
});

describe("fluid run help", () => {
  it("run resize --help lists the flags with descriptions, defaults and choices", async () => {
    const r = await run(["run", "resize", "--help"]);
    expect(r.exitCode).toBe(0);
    const help = r.stdout.replace(/\s+/g, " "); // commander wraps long lines
    expect(help).toContain("Usage: fluid run resize [options]");
    expect(help).toContain("--width <number> target width in pixels (required) (env: FLUID_PARAM_WIDTH)");
    expect(help).toContain("--height <number> target height; keeps the aspect ratio when left out (optional) (env: FLUID_PARAM_HEIGHT)");
    expect(help).toMatch(/--format <choice> output format \(default: "png"\) \(env: FLUID_PARAM_FORMAT\) \(choices: "png", "jpeg", "webp"\)/);
    expect(help).toContain("--sharpen sharpen after resizing (default: false) (env: FLUID_PARAM_SHARPEN)");
    expect(help).toContain("--no-sharpen");
    expect(help).toMatch(/--files <string> files to resize \(default: \[\]\) \(env: FLUID_PARAM_FILES\) \(repeatable\)/);
    expect(help).toMatch(/--api-token <string> token for the image service \(optional\) \(secret: prefer the variable, which keeps it off the command line\) \(env: FLUID_PARAM_API_TOKEN\)/);
    for (const option of ["--params <json>", "--run-id <id>", "--timeout <duration>", "--json", "--config <path>"]) {
      expect(help).toContain(option);
    }
    expect(help).toContain("task default: 30s");
  });

  it("run say_hi -h works like --help", async () => {
    const r = await run(["run", "say_hi", "-h"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("--name <string>");
    expect(r.stdout).toContain("who to greet (required)");
  });

  it("run --help exits 0 and lists the tasks", async () => {
    const r = await run(["run", "--help"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("Usage: fluid run <task>");
    for (const name of ["say_hi", "resize", "sleepy", "welcome_team", "fib"]) expect(r.stdout).toContain(name);
  });

  it("run without a task exits 2", async () => {
    const r = await run(["run"]);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/error: .*task/);
    expect(r.stderr).not.toContain(STACK_FRAME);
  });

  // Rough edge: runCommand has a UsageError("missing the task name") whose hint lists the
  // tasks, but commander rejects the missing `<task>` argument first ("missing required
  // argument 'task'", no hint), so that branch is dead.
  it("run without a task lists the tasks in a hint", async () => {
    const r = await run(["run"]);
    expect(r.stderr).toMatch(/hint: .*say_hi/);
  });
});

describe("fluid run exit codes", () => {
  it("exits 1 for a failed run, with the error", async () => {
    const r = await run(["run", "fail"]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/fail [0-9a-f]{20} failure in .*: something broke/);
  });

  it("exits 1 with --json, the error in the JSON", async () => {
    const r = await run(["run", "fail", "--message", "disk full", "--json"]);
    expect(r.exitCode).toBe(1);
    const out = onlyJson(r.stdout);
    expect(out.state).toBe("failure");
    expect(out.error).toMatchObject({ name: "Error", message: "disk full" });
    expect(out).not.toHaveProperty("result");
  });

  it("exits 3 for a run that aborted itself", async () => {
    const r = await run(["run", "maybe_abort"]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/maybe_abort [0-9a-f]{20} aborted .*nothing to do/);
    expect(r.stderr).not.toMatch(/retrying/); // aborts are never retried
  });

  it("exits 0 for flaky after retries, saying it retried", async () => {
    const r = await run(["run", "flaky", "--json"]);
    expect(r.exitCode).toBe(0);
    const out = onlyJson(r.stdout);
    expect(out).toMatchObject({ state: "success", attempts: 3, result: { attempts: 3 } });
    expect(r.stderr.match(/retrying in \d+ms/g)).toHaveLength(2);
    expect(r.stderr).toContain("attempt 1/4 ended failure");
  });

  it("exits 1 when every retry fails", async () => {
    const r = await run(["run", "flaky", "--fail-times", "9"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("after 4 attempts");
    expect(r.stderr).toContain("attempt 4 failed on purpose");
  });

  it("exits 1 on --timeout, saying it timed out", async () => {
    const started = Date.now();
    const r = await run(["run", "sleepy", "--seconds", "5", "--timeout", "200ms"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('task "sleepy" timed out after 200ms');
    expect(r.stderr).toContain("hint:");
    expect(Date.now() - started).toBeLessThan(4_500); // did not sleep the 5 s
    // The record holds no stack of fluid's own timer: `fluid show` prints the message alone.
    const json = await run(["run", "sleepy", "--seconds", "5", "--timeout", "200ms", "--json"]);
    const shown = await run(["show", (JSON.parse(json.stdout) as { id: string }).id]);
    expect(shown.stdout).toContain('task "sleepy" timed out after 200ms');
    expect(shown.stdout).not.toMatch(/^\s+at /m);
  });

  it("exits 2 for an invalid --timeout", async () => {
    const r = await run(["run", "sleepy", "--timeout", "soon"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('invalid --timeout "soon"');
  });

  it("uses the --run-id given", async () => {
    const r = await run(["run", "say_hi", "--name", "bob", "--run-id", "my-id-1", "--json"]);
    expect(r.exitCode).toBe(0);
    expect(onlyJson(r.stdout)).toMatchObject({ id: "my-id-1", task: "say_hi", state: "success" });
  });

  it("exits 2 for an invalid --run-id", async () => {
    const r = await run(["run", "say_hi", "--name", "bob", "--run-id", "no spaces/please"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('invalid run id "no spaces/please"');
    expect(r.stderr).not.toContain("Hi bob!");
  });

  it("runs the say_hi runs welcome_team queues before exiting", async () => {
    const r = await run(["run", "welcome_team", "--members", "a", "--members", "b", "--json"]);
    expect(r.exitCode).toBe(0);
    const out = onlyJson(r.stdout);
    expect(out).toMatchObject({ task: "welcome_team", state: "success", params: { members: ["a", "b"] } });
    const queued = (out.result as { queued: string[] }).queued;
    expect(queued).toHaveLength(2);
    expect(r.stderr).toContain("Hi a!");
    expect(r.stderr).toContain("Hi b!");
    for (const id of queued) expect(r.stderr).toMatch(new RegExp(`chained say_hi ${id.slice(0, 8)} success`));
  });
});

/**
 * Waits until run `id` has started. Nothing is printed before the end when stderr is not a
 * TTY, so: at least 1.5 s, and until the store lists the run as running (at most 15 s, for a
 * loaded machine), as long as `fluid history` answers.
 */
async function startedRunning(id: string): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < 15_000) {
    const h = await run(["history", "sleepy", "--state", "running", "--json"]);
    if (h.exitCode !== 0) break;
    if ((JSON.parse(h.stdout) as Array<{ id: string }>).some((r) => r.id === id)) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const left = 1_500 - (Date.now() - started);
  if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
}

describe("fluid run: Ctrl-C", () => {
  it("interrupts a running task on SIGINT and exits 130", async () => {
    const id = `ctrl-c-${process.pid}`;
    const child = execa("node", [BIN, "run", "sleepy", "--seconds", "30", "--run-id", id], {
      cwd: ROOT,
      reject: false,
      env: { NO_COLOR: "1", FLUID_CONFIG: "", ...ENV },
    });
    try {
      await startedRunning(id);
      expect(child.exitCode).toBeNull(); // still running
      const sent = Date.now();
      child.kill("SIGINT");
      const r = await Promise.race([
        child,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no exit within 5 s of SIGINT")), 5_000)),
      ]);
      expect(Date.now() - sent).toBeLessThan(5_000);
      expect(r.signal).toBeUndefined(); // handled, not killed by the signal
      expect(r.exitCode).toBe(130);
      expect(String(r.stderr)).toContain("interrupting sleepy");
      expect(String(r.stderr)).toContain(`sleepy ${id} interrupted`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await child.catch(() => {});
      }
    }
  });
});

describe("fluid run: colour", () => {
  it("prints no ANSI escapes with NO_COLOR", async () => {
    const r = await run(["run", "say_hi", "--name", "c"], { NO_COLOR: "1" });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain("Hi c!");
    expect(r.stderr).not.toMatch(ANSI);
    expect(r.stdout).not.toMatch(ANSI);
  });

  it("prints ANSI escapes with FORCE_COLOR=1 (even though stderr is not a TTY)", async () => {
    const r = await run(["run", "say_hi", "--name", "c"], { NO_COLOR: "", FORCE_COLOR: "1" });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(ANSI);
    expect(r.stderr.replace(ANSI_ALL, "")).toContain("Hi c!");
  });

  it("--no-color wins over FORCE_COLOR", async () => {
    const r = await run(["run", "say_hi", "--name", "c", "--no-color"], { NO_COLOR: "", FORCE_COLOR: "1" });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain("Hi c!");
    expect(r.stderr).not.toMatch(ANSI);
  });
});
