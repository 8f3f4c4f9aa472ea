import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG, ROOT, fluid, type CliResult, useTempProjects } from "../helpers/cli.js";

const project = useTempProjects();

const HELLO = `import { task } from "fluid-tasks";\nexport const hello = task({ name: "hello" }, async () => "hi");\n`;

/** A user error, as the CLI should print it: exit 2, an `error:` line, a `hint:` line, no stack. */
function expectUserError(r: CliResult): void {
  expect(r.exitCode).toBe(2);
  expect(r.stdout).toBe("");
  const lines = r.stderr.split("\n");
  expect(lines[0]).toMatch(/^error: \S/);
  expect(lines.some((l) => /^hint: \S/.test(l))).toBe(true);
  expect(r.stderr).not.toContain("    at ");
  expect(r.stderr).not.toContain("internal error");
}

describe("fluid: errors in the project", () => {
  it("a config error: exit 2, error and hint, no stack", async () => {
    const dir = project({
      "fluid.config.ts": `export default { tasks: ["./tasks/*.ts"], concurency: 4 };\n`,
      "tasks/hello.ts": HELLO,
    });
    for (const args of [["ls"], ["run", "hello"]]) {
      const r = await fluid(args, { cwd: dir });
      expectUserError(r);
      expect(r.stderr).toContain('fluid.config.ts: unknown key "concurency"');
      expect(r.stderr).toContain('hint: did you mean "concurrency"?');
    }
  });

  it("no config at all: exit 2, naming the directory", async () => {
    const dir = project({ "tasks/hello.ts": HELLO });
    const r = await fluid(["ls"], { cwd: dir });
    expectUserError(r);
    expect(r.stderr).toContain(`no fluid.config.ts found in ${dir}`);
  });

  it("--config pointing nowhere: exit 2, naming the path", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/hello.ts": HELLO });
    const r = await fluid(["run", "hello", "--config", "elsewhere.config.ts"], { cwd: dir });
    expectUserError(r);
    expect(r.stderr).toContain(`config file not found: ${join(dir, "elsewhere.config.ts")}`);
  });

  it("a syntax error in a task module: exit 2, file:line:col, no stack", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/hello.ts": HELLO,
      "tasks/broken.ts": `import { task } from "fluid-tasks";\nexport const broken = task(async () => {\n  const x = ;\n});\n`,
    });
    for (const args of [["ls"], ["run", "hello"]]) {
      const r = await fluid(args, { cwd: dir });
      expectUserError(r);
      expect(r.stderr).toMatch(/^error: (\S*\/)?tasks\/broken\.ts:3:13: /);
      expect(r.stderr).toContain("const x = ;");
    }
  });

  it("a task module that throws on import: exit 2, file:line of the throw, no stack", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/hello.ts": HELLO,
      "tasks/needs-env.ts": `import { task } from "fluid-tasks";\n\nconst url = process.env.DATABASE_URL_FOR_TEST;\nif (!url) throw new Error("DATABASE_URL_FOR_TEST is not set");\nexport const migrate = task(async () => url);\n`,
    });
    const r = await fluid(["run", "hello"], { cwd: dir });
    expectUserError(r);
    expect(r.stderr).toMatch(/^error: (\S*\/)?tasks\/needs-env\.ts:4:\d+: DATABASE_URL_FOR_TEST is not set/);
    expect(r.stderr).not.toContain(".fluid/cache");
  });

  it("invalid task options: exit 2, naming the task, the option and the file", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/hello.ts": `import { task } from "fluid-tasks";\nexport const hello = task({ name: "hello", priority: "urgent" }, async () => 1);\n`,
    });
    const r = await fluid(["ls"], { cwd: dir });
    expectUserError(r);
    expect(r.stderr).toMatch(/^error: (\S*\/)?tasks\/hello\.ts:2:\d+: task "hello": invalid priority "urgent"/);
    expect(r.stderr).toContain('hint: use "high", "medium" or "low"');
  });

  it("a project without errors runs the task (control)", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/hello.ts": HELLO });
    const r = await fluid(["run", "hello"], { cwd: dir });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("hi");
  });
});

describe("fluid: the command line itself", () => {
  it("--version prints the package version and exits 0", async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const r = await fluid([flag]);
      expect(r.exitCode).toBe(0);
      expect(r.stdout.trim()).toBe(pkg.version);
    }
  });

  it("--help lists the commands and exits 0", async () => {
    const r = await fluid(["--help"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/Usage: fluid/);
    expect(r.stdout).toMatch(/\brun\b/);
    expect(r.stdout).toMatch(/\bls\b/);
  });

  it("an unknown command exits 2 and says so", async () => {
    const r = await fluid(["frobnicate"]);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("unknown command 'frobnicate'");
    expect(r.stderr).not.toContain("    at ");
  });

  it("a mistyped command exits 2 and suggests the right one", async () => {
    const r = await fluid(["rn", "say_hi"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/Did you mean run\?/i);
  });

  it("an unknown global option exits 2", async () => {
    const r = await fluid(["--frobnicate", "ls"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--frobnicate");
  });
});
