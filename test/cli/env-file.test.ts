import { describe, expect, it } from "vitest";
import { fluid, useTempProjects } from "../helpers/cli.js";
import { useServe } from "../helpers/serve.js";

// Environment files reach the tasks: the config's `envFile` and `fluid serve --environment-file`
// (also spelt --env-file, which Node itself intercepts when the file is missing: docs/service.md).

const TASKS = `
import { task } from "fluid-tasks";
export const env = task({}, async () => [process.env.FROM_CONFIG, process.env.FROM_FLAG, process.env.BOTH, process.env.REAL].join(","));
`;
const CONFIG = `import { defineConfig } from "fluid-tasks";
// A value the config module reads at its top level comes from --environment-file (loaded before it).
export default defineConfig({ tasks: ["./tasks/*.ts"], envFile: "./.env", concurrency: Number(process.env.FROM_FLAG === "flag" ? 3 : 1) });
`;
const project = useTempProjects();
const serve = useServe();

describe("environment files", () => {
  it("fluid serve --environment-file / --env-file and the config's envFile reach the tasks; the flag wins over the config, the real environment over both", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS,
      ".env": "# the project's\nFROM_CONFIG=config\nBOTH=config\nREAL=file\n",
      "extra.env": "export FROM_FLAG='flag'\nBOTH=\"flag\"\n",
    });
    const s = serve(dir, { args: ["--env-file", "extra.env", "--environment-file", "-missing.env"], env: { REAL: "real" } });
    await s.started();
    expect(s.lines.find((l) => l.event === "started")).toMatchObject({ summary: { concurrency: 3 } });
    const r = await fluid(["queue", "env", "--wait"], { cwd: dir });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe("config,flag,flag,real");
  });

  it("fluid run loads the config's envFile too", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS, ".env": "FROM_CONFIG=config\n" });
    const r = await fluid(["run", "env"], { cwd: dir });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe("config,,,");
  });

  it("a bad line or a missing file stops fluid serve with exit 2, naming file:line", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS, ".env": "A=1\nB = \"unclosed\n", "ok.env": "X=1\n" });
    const bad = await fluid(["serve"], { cwd: dir });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/\.env:2: the value of B opens a " quote that is never closed/);
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const missing = await fluid(["serve", "--environment-file", "nope.env"], { cwd: dir });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/cannot read the environment file nope\.env: no such file/);
  });
});
