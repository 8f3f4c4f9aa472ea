import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exitCodeOf } from "../../src/cli/run.js";
import { ExitCode } from "../../src/core/errors.js";
import { FINAL_STATES, type RunState } from "../../src/core/types.js";
import { CONFIG, ROOT, fluid, useTempProjects } from "../helpers/cli.js";

const project = useTempProjects();

describe("exit codes", () => {
  it("every final state has the code the README's table gives it", () => {
    const expected: Record<string, number> = { success: 0, failure: 1, timeout: 1, rate_limited: 1, aborted: 3, interrupted: 130, cancelled: 130 };
    expect([...FINAL_STATES].sort()).toEqual(Object.keys(expected).sort());
    for (const state of FINAL_STATES) expect(exitCodeOf(state as RunState), state).toBe(expected[state]);
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const table = readme.slice(readme.indexOf("### Exit codes"), readme.indexOf("### Environment variables"));
    const rows = new Map([...table.matchAll(/^\| (\d+) \| (.*) \|$/gm)].map((m) => [Number(m[1]), m[2]!]));
    expect([...rows.keys()]).toEqual([...new Set(Object.values(ExitCode))].sort((a, b) => a - b));
    for (const [state, code] of Object.entries(expected)) {
      if (state === "success") continue;
      expect(rows.get(code), `${state} in the row of ${code}`).toContain(`\`${state}\``);
    }
  });

  it("FLUID_STORE pointing at a directory: a usage error that says so, not a disk error", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": `import { task } from "fluid-tasks";\nexport const t = task(async () => 1);\n` });
    for (const args of [["history"], ["run", "t"]]) {
      const r = await fluid(args, { cwd: dir, env: { FLUID_STORE: dir } });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain(`error: FLUID_STORE is ${dir}, a directory; the store is a file`);
      expect(r.stderr).toContain(`hint: point FLUID_STORE at a file, e.g. ${join(dir, "fluid.db")}`);
      expect(r.stderr).not.toMatch(/I\/O|disk/);
    }
  });
});
