import { writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONFIG, fluid, useTempProjects } from "../helpers/cli.js";

const project = useTempProjects();

const HELLO = `import { task } from "fluid-tasks";\nexport const hello = task({ name: "hello" }, async () => "hi");\n`;
const BROKEN = `import { task } from "fluid-tasks";\nexport const broken = task(async () => {\n  const x = ;\n});\n`;

describe("one broken task module", () => {
  it("does not block the commands that need no task: history, show, logs, enable, disable, cancel; it is named", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/hello.ts": HELLO });
    const run = await fluid(["run", "hello", "--json"], { cwd: dir });
    const id = (JSON.parse(run.stdout) as { id: string }).id;
    // The module breaks after a run was recorded.
    writeFileSync(`${dir}/tasks/broken.ts`, BROKEN);

    for (const args of [["history"], ["history", "--json"], ["show", id]]) {
      const r = await fluid(args, { cwd: dir });
      expect(r.exitCode, args.join(" ")).toBe(0);
      expect(r.stdout, args.join(" ")).toContain(id.slice(0, 12));
    }
    const logs = await fluid(["logs", id, "--json"], { cwd: dir });
    expect(logs.exitCode).toBe(0);
    expect(logs.stdout).toBe("[]");
    const filtered = await fluid(["history", "hello"], { cwd: dir });
    expect(filtered.exitCode).toBe(0);
    expect(filtered.stdout).toContain(id.slice(0, 12));
    expect(filtered.stderr).toMatch(/^warning: (\S*\/)?tasks\/broken\.ts:3:13: /);

    const disabled = await fluid(["disable", "broken", "--reason", "fixing it"], { cwd: dir });
    expect(disabled.exitCode).toBe(0);
    expect(disabled.stderr).toMatch(/warning: (\S*\/)?tasks\/broken\.ts:3:13/);
    expect(disabled.stderr).toContain("disabled broken (fixing it)");
    expect((await fluid(["enable", "hello"], { cwd: dir })).exitCode).toBe(0);

    const cancel = await fluid(["cancel", id], { cwd: dir });
    expect(cancel.exitCode).toBe(2);
    expect(cancel.stderr).toContain("is not queued or running: it ended success");

    // A command that runs or lists tasks still stops at the broken module, naming it.
    for (const args of [["ls"], ["run", "hello"]]) {
      const r = await fluid(args, { cwd: dir });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/^error: (\S*\/)?tasks\/broken\.ts:3:13: /);
    }
  });

  it("a typo in enable/disable is still refused when every module loads", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/hello.ts": HELLO });
    const r = await fluid(["disable", "helo"], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('did you mean "hello"?');
  });

  it("a module that throws a non-Error value is named, among several", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/hello.ts": HELLO, "tasks/zz.ts": `export const x = 1;\nthrow { reason: "no token" };\n` });
    const r = await fluid(["ls"], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^error: (\S*\/)?tasks\/zz\.ts: it threw \{"reason":"no token"\}, not an Error\n/);
    expect(r.stderr).toContain("hint: throw an Error");
  });
});

describe("the config is checked at every depth", () => {
  it("an unknown nested key is refused, naming its path, with a did-you-mean", async () => {
    const dir = project({ "fluid.config.ts": `export default { tasks: ["./tasks/*.ts"], store: { retention: { dayz: 7 } } };\n`, "tasks/hello.ts": HELLO });
    const r = await fluid(["history"], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('error: fluid.config.ts: unknown key "store.retention.dayz"');
    expect(r.stderr).toContain('hint: did you mean "store.retention.days"?');
  });
});
