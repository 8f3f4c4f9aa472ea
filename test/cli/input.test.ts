import { describe, expect, it } from "vitest";
import { CONFIG, fluid, useTempProjects } from "../helpers/cli.js";

const project = useTempProjects();

const TASKS = `import { task } from "fluid-tasks";
import { z } from "zod";
export const build = task({ name: "build", params: z.object({
  name: z.string(),
  mode: z.enum(["dev", "prod"]),
  minify: z.boolean().default(false),
  count: z.number().default(1),
  tags: z.array(z.string()).default([]),
}) }, async (ctx) => ctx.params);
export const loose = task({ name: "loose", params: z.looseObject({ name: z.string() }) }, async (ctx) => ctx.params);
`;

function setup(): string {
  return project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
}

/** stdout as the one JSON error object --json prints for a usage or config error. */
function jsonError(stdout: string): { code: string; message: string; hint: string | null } {
  expect(stdout.split("\n")).toHaveLength(1);
  const body = JSON.parse(stdout) as { error: { code: string; message: string; hint: string | null } };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(typeof body.error.code).toBe("string");
  expect(typeof body.error.message).toBe("string");
  expect("hint" in body.error).toBe(true);
  return body.error;
}

describe("fluid run: params from standard input and the environment", () => {
  it("--params @- reads the JSON object from standard input", async () => {
    const dir = setup();
    const r = await fluid(["run", "build", "--params", "@-", "--json", "--no-record"], { cwd: dir, input: '{"name":"web","mode":"prod"}' });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: "success", result: { name: "web", mode: "prod" } });
    const bad = await fluid(["run", "build", "--params", "@-", "--no-record"], { cwd: dir, input: "{oops" });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("error: --params @- is not valid JSON");
  });

  it("FLUID_PARAM_<NAME> gives a param; --params and flags win over it; --help names the variable", async () => {
    const dir = setup();
    const env = { FLUID_PARAM_NAME: "from-env", FLUID_PARAM_MODE: "dev", FLUID_PARAM_MINIFY: "true", FLUID_PARAM_COUNT: "3", FLUID_PARAM_TAGS: '["a","b"]' };
    const r = await fluid(["run", "build", "--json", "--no-record"], { cwd: dir, env });
    expect(r.exitCode).toBe(0);
    expect((JSON.parse(r.stdout) as { result: unknown }).result).toEqual({ name: "from-env", mode: "dev", minify: true, count: 3, tags: ["a", "b"] });
    const over = await fluid(["run", "build", "--json", "--no-record", "--params", '{"name":"from-params","mode":"prod"}', "--no-minify"], { cwd: dir, env });
    expect((JSON.parse(over.stdout) as { result: unknown }).result).toMatchObject({ name: "from-params", mode: "prod", minify: false, count: 3 });
    const help = await fluid(["run", "build", "--help"], { cwd: dir });
    expect(help.stdout).toMatch(/--name <string>.*\(env: FLUID_PARAM_NAME\)/);
    expect(help.stdout).toMatch(/--minify .*\(env: FLUID_PARAM_MINIFY\)/);
  });

  it("an invalid FLUID_PARAM_ value is a usage error naming the variable; an empty one counts as not set", async () => {
    const dir = setup();
    const bad = await fluid(["run", "build", "--name", "x", "--mode", "dev", "--no-record"], { cwd: dir, env: { FLUID_PARAM_MINIFY: "maybe" } });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('error: FLUID_PARAM_MINIFY: expected true or false (also 1/0, yes/no, on/off), got "maybe"');
    const empty = await fluid(["run", "build", "--mode", "dev", "--no-record"], { cwd: dir, env: { FLUID_PARAM_NAME: "" } });
    expect(empty.exitCode).toBe(2);
    expect(empty.stderr).toContain("--name: required, but not given");
  });
});

describe("fluid run: one clear message per kind of mistake", () => {
  it("an unknown key in --params is refused with exit 2, naming it, with a did-you-mean", async () => {
    const dir = setup();
    const r = await fluid(["run", "build", "--params", '{"nmae":"x","mode":"dev","name":"y"}', "--no-record"], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('nmae: unknown param; did you mean "name" (--name)?');
    const far = await fluid(["run", "build", "--params", '{"zzzzzzzz":1,"mode":"dev","name":"y"}', "--no-record"], { cwd: dir });
    expect(far.exitCode).toBe(2);
    expect(far.stderr).toContain("zzzzzzzz: unknown param; known params: name, mode, minify, count, tags");
  });

  it("a loose schema (z.looseObject) keeps unknown keys", async () => {
    const dir = setup();
    const r = await fluid(["run", "loose", "--params", '{"name":"x","extra":1}', "--json", "--no-record"], { cwd: dir });
    expect(r.exitCode).toBe(0);
    expect((JSON.parse(r.stdout) as { result: unknown }).result).toEqual({ name: "x", extra: 1 });
  });

  it("a missing enum param says 'required, but not given' like any other", async () => {
    const dir = setup();
    const r = await fluid(["run", "build", "--no-record"], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--name: required, but not given");
    expect(r.stderr).toContain("--mode: required, but not given");
    expect(r.stderr).not.toContain("Invalid option");
  });

  it("a value after a boolean flag says the flag is boolean, not 'too many arguments'", async () => {
    const dir = setup();
    for (const args of [["--minify", "false"], ["--minify=false"]]) {
      const r = await fluid(["run", "build", "--name", "x", "--mode", "dev", ...args, "--no-record"], { cwd: dir });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain('error: --minify is a boolean flag and takes no value (got "false"): use --minify or --no-minify');
    }
    const stray = await fluid(["run", "build", "--name", "x", "y", "--mode", "dev", "--no-record"], { cwd: dir });
    expect(stray.exitCode).toBe(2);
    expect(stray.stderr).toContain('error: unexpected argument "y"');
  });
});

describe("--json: a usage or config error is a JSON object on stdout too", () => {
  it("for every command that takes --json, with the exit code unchanged", async () => {
    const dir = setup();
    const cases: Array<[string[], string]> = [
      [["run", "build", "--json", "--no-record"], "FLUID_PARAMS"],
      [["run", "nope", "--json"], "FLUID_UNKNOWN_TASK"],
      [["queue", "build", "--json", "--bogus"], "FLUID_USAGE"],
      [["ls", "--json", "--bogus"], "FLUID_USAGE"],
      [["history", "--json", "--limit", "x"], "FLUID_USAGE"],
      [["show", "nosuchrun", "--json"], "FLUID_STORE"],
      [["logs", "--json"], "FLUID_USAGE"],
      [["next", "build", "--json"], "FLUID_USAGE"],
    ];
    for (const [args, code] of cases) {
      const r = await fluid(args, { cwd: dir });
      expect(r.exitCode, args.join(" ")).toBe(2);
      expect(jsonError(r.stdout).code, args.join(" ")).toBe(code);
      expect(r.stderr, args.join(" ")).toMatch(/^error: /);
    }
    const params = JSON.parse((await fluid(["run", "build", "--json", "--no-record"], { cwd: dir })).stdout) as { error: { issues: unknown[] } };
    expect(params.error.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: "name", flag: "--name", message: "required, but not given" })]));
  });

  it("a config error too", async () => {
    const dir = project({ "fluid.config.ts": `export default { tasks: ["./tasks/*.ts"], concurency: 4 };\n`, "tasks/t.ts": TASKS });
    const r = await fluid(["ls", "--json"], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(jsonError(r.stdout)).toMatchObject({ code: "FLUID_CONFIG", hint: 'did you mean "concurrency"?' });
  });
});
