import { describe, expect } from "vitest";
import { useTempProjects } from "../helpers/cli.js";
import { fluid } from "../helpers/cli.js";
import { useServe } from "../helpers/serve.js";
import { BACKENDS, useOwnNamespace } from "../fleet/backends.js";
import { useHookServers } from "./hook-server.js";
import type { BackendTarget } from "../../src/fleet/backend-url.js";

function urlOf(url: string, t: BackendTarget): string {
  return t.kind === "redis" ? `${url}?prefix=${t.prefix}` : `${url}?schema=${t.schema}`;
}

describe.each(BACKENDS)("alerts of a fleet on $name", ({ name, url, up }) => {
  const project = useTempProjects();
  const serve = useServe();
  const hooks = useHookServers();
  const { test, target } = useOwnNamespace({ name, url, up });

  test("a success after a failure another daemon recorded is a recovery", async () => {
    const hook = await hooks();
    const files = {
      "fluid.config.ts": `import { defineConfig } from "fluid-tasks";
export default defineConfig({ tasks: ["./tasks/*.ts"], notify: { webhook: { url: "${hook.url}/alerts", retryDelay: 20 } } });
`,
      "tasks/t.ts": `import { task } from "fluid-tasks";
import { z } from "zod";
export const flip = task({ params: z.object({ fail: z.boolean() }) }, async (ctx) => {
  if (ctx.params.fail) throw new Error("flip failed");
  return "ok";
});
`,
    };
    const env = { FLUID_BACKEND_URL: urlOf(url, target()) };
    const elsewhere = project(files);
    // Daemon one runs the failure, and stops.
    const one = serve(project(files), { env });
    await one.started();
    const failed = JSON.parse((await fluid(["queue", "flip", "--params", '{"fail":true}', "--wait", "--json"], { cwd: elsewhere, env })).stdout) as { id: string; state: string };
    expect(failed.state).toBe("failure");
    await hook.waitFor(1);
    one.child.kill("SIGTERM");
    await one.child;
    // Daemon two, with a store of its own that never saw the failure, runs the success.
    const two = serve(project(files), { env });
    await two.started();
    const ok = JSON.parse((await fluid(["queue", "flip", "--params", '{"fail":false}', "--wait", "--json"], { cwd: elsewhere, env })).stdout) as { id: string; state: string };
    expect(ok.state).toBe("success");
    const [first, second] = await hook.waitFor(2);
    expect(first!.json).toMatchObject({ kind: "failure", runId: failed.id });
    expect(second!.json).toMatchObject({ kind: "recovery", runId: ok.id, failures: 1 });
    two.child.kill("SIGTERM");
    await two.child;
  }, 90_000);
});
