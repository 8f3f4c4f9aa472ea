import { describe, expect } from "vitest";
import { fluid, useTempProjects } from "../helpers/cli.js";
import { useServe } from "../helpers/serve.js";
import { BACKENDS, useOwnNamespace } from "../fleet/backends.js";
import type { BackendTarget } from "../../src/fleet/backend-url.js";

const TASKS = `import { task } from "fluid-tasks";
import { z } from "zod";
export const hello = task({ params: z.object({ name: z.string() }) }, async (ctx) => "hi " + ctx.params.name);
export const boom = task({}, async () => { throw new Error("boom on purpose"); });
`;
const CONFIG = `import { defineConfig } from "fluid-tasks";
export default defineConfig({ tasks: ["./tasks/*.ts"] });
`;

function urlOf(url: string, t: BackendTarget): string {
  return t.kind === "redis" ? `${url}?prefix=${t.prefix}` : `${url}?schema=${t.schema}`;
}

describe.each(BACKENDS)("commands that read the fleet on $name", ({ name, url, up }) => {
  const project = useTempProjects();
  const serve = useServe();
  const { test, target } = useOwnNamespace({ name, url, up });

  test("fluid status's last failure and fluid ls's LAST RUN are another daemon's; fluid run refuses a task disabled on the fleet", async () => {
    const env = { FLUID_BACKEND_URL: urlOf(url, target()) };
    const daemon = serve(project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS }), { env });
    await daemon.started();
    // Another directory, another store: only the backend is shared.
    const here = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const failed = await fluid(["queue", "boom", "--wait", "--json"], { cwd: here, env });
    const boom = JSON.parse(failed.stdout) as { id: string; state: string };
    expect(boom.state).toBe("failure");
    const ok = JSON.parse((await fluid(["queue", "hello", "--name", "ann", "--wait", "--json"], { cwd: here, env })).stdout) as { id: string };

    const status = await fluid(["status", "--json"], { cwd: here, env });
    expect(JSON.parse(status.stdout)).toMatchObject({ lastFailure: { id: boom.id, task: "boom", state: "failure", error: "boom on purpose" }, running: [] });
    const text = await fluid(["status"], { cwd: here, env });
    expect(text.stdout).toMatch(new RegExp(`boom ${boom.id.slice(0, 12)}`));

    const ls = JSON.parse((await fluid(["ls", "--json"], { cwd: here, env })).stdout) as Array<{ name: string; lastRun: { id: string; state: string } | null }>;
    expect(ls.find((t) => t.name === "hello")!.lastRun).toMatchObject({ id: ok.id, state: "success" });
    expect(ls.find((t) => t.name === "boom")!.lastRun).toMatchObject({ id: boom.id, state: "failure" });
    expect((await fluid(["ls"], { cwd: here, env })).stdout).toMatch(/hello\s+on\s+success/);

    // Disabled from a third directory: `fluid run` here refuses it (exit 2), --force runs it.
    expect((await fluid(["disable", "hello", "--reason", "maintenance"], { cwd: project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS }), env })).exitCode).toBe(0);
    const refused = await fluid(["run", "hello", "--name", "x"], { cwd: here, env });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/task "hello" is disabled \(maintenance\)/);
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    expect((await fluid(["run", "hello", "--name", "x", "--force"], { cwd: here, env })).exitCode).toBe(0);
  }, 90_000);
});
