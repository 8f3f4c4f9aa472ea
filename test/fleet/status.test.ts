import { join } from "node:path";
import { afterEach, describe, expect } from "vitest";
import { checkBackend } from "../../src/fleet/check-backend.js";
import { fluid, useTempProjects } from "../helpers/cli.js";
import { useServe } from "../helpers/serve.js";
import { BACKENDS, freePort, tcpProxy, useOwnNamespace } from "./backends.js";

const TASKS = `import { task } from "fluid-tasks";
export const quick = task({}, async () => {});
`;

describe.each(BACKENDS)("the status of a daemon whose backend ($name) goes away (a TCP proxy of the test's own, cut and restored)", ({ name, url, up }) => {
  const project = useTempProjects();
  const serve = useServe();
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const { test, target } = useOwnNamespace({ name, url, up });

  test("/api/status and /readyz say the backend is down (and up again); fluid status says it is unreachable, with the fleet's counts when it is back", async () => {
    const t = target();
    await checkBackend(t); // the PostgreSQL schema, made before the proxy is cut
    const port = await freePort();
    const proxy = tcpProxy(port, t.kind === "redis" ? 6379 : 5432);
    await proxy.start();
    cleanups.push(() => proxy.stop());
    const backend = t.kind === "redis" ? `redis://127.0.0.1:${port}/0?prefix=${t.prefix}` : `postgres://postgres@127.0.0.1:${port}/test?schema=${t.schema}`;
    const dir = project({
      "fluid.config.ts": `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"], backend: ${JSON.stringify(backend)} });\n`,
      "tasks/t.ts": TASKS,
    });
    const env = { FLUID_STORE: join(dir, "daemon.db") };
    const daemon = serve(dir, { args: ["--http", "0"], env });
    await daemon.started();
    const http = (await daemon.waitFor((l) => l.event === "http")).url as string;
    const get = async (path: string) => {
      const res = await fetch(new URL(path, http));
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const status = async () => {
      const r = await fluid(["status", "--json"], { cwd: dir, env });
      return { exitCode: r.exitCode, json: JSON.parse(r.stdout) as Record<string, unknown> };
    };

    const before = await get("/api/status");
    expect(before.body).toMatchObject({ backend: { state: "up", url: expect.stringContaining(`127.0.0.1:${port}`) }, queue: { ready: 0, delayed: 0, claimed: 0 } });
    expect((await get("/readyz")).status).toBe(200);
    expect(await status()).toMatchObject({ exitCode: 0, json: { serving: true, backend: { reachable: true, queue: { ready: 0 } } } });

    await proxy.stop();
    await daemon.waitFor((l) => l.event === "backend" && l.state === "down");
    const down = await get("/api/status");
    expect(down.status).toBe(200);
    expect(down.body).toMatchObject({ backend: { state: "down", message: expect.stringContaining("unreachable") }, queue: null });
    const ready = await get("/readyz");
    expect(ready.status).toBe(503);
    expect(ready.body.reasons).toEqual([expect.stringMatching(/^backend down since \d{4}-\d\d-\d\dT.*unreachable/)]);
    // fluid status asks the backend itself, gives up within its timeout, and says why; the daemon still serves (exit 0).
    const cut = await status();
    expect(cut).toMatchObject({ exitCode: 0, json: { serving: true, backend: { reachable: false, error: expect.any(String) } } });

    await proxy.start();
    await daemon.waitFor((l) => l.event === "backend" && l.state === "up", 20_000);
    expect((await get("/api/status")).body).toMatchObject({ backend: { state: "up" }, queue: { ready: 0 } });
    expect((await get("/readyz")).status).toBe(200);
    expect(await status()).toMatchObject({ json: { backend: { reachable: true } } });
    expect(daemon.lines.filter((l) => l.event === "error")).toEqual([]);
  });
});
