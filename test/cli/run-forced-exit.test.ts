import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { BIN, CONFIG, fluid, useTempProjects } from "../helpers/cli.js";

const project = useTempProjects();

// A task that never looks at ctx.signal, so only a forced exit ends `fluid run`.
const TASKS = `import { writeFileSync } from "node:fs";
import { task } from "fluid-tasks";
export const stubborn = task({ name: "stubborn", timeout: 0 }, async () => {
  writeFileSync("started", "");
  await new Promise((r) => setTimeout(r, 60_000));
});
`;

describe("fluid run exiting before its task stops", () => {
  it("a second signal exits 130 at once and records the attempt interrupted, not running", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const child = execa("node", [BIN, "run", "stubborn"], { cwd: dir, reject: false, env: { NO_COLOR: "1", FLUID_CONFIG: "" } });
    for (let i = 0; i < 300 && !existsSync(join(dir, "started")); i++) await sleep(50);
    child.kill("SIGTERM");
    await sleep(200);
    child.kill("SIGTERM");
    const r = await child;
    expect(r.exitCode).toBe(130);
    const history = await fluid(["history", "--json"], { cwd: dir });
    const runs = JSON.parse(history.stdout) as Array<{ task: string; state: string; error?: { code?: string } }>;
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ task: "stubborn", state: "interrupted", error: { code: "FLUID_INTERRUPTED" } });
  });
});
