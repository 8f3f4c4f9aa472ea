import { afterEach, describe, expect, it } from "vitest";
import { useServe } from "../helpers/serve.js";
import { CONFIG, fluid, tempProject } from "../helpers/cli.js";

// The real `fluid serve --http 0` in a child process: it prints the address it bound.

const TASKS = `
import { task } from "fluid-tasks";
import { z } from "zod";
export const echo = task({ params: z.object({ v: z.number() }) }, async (ctx) => ctx.params.v * 2);
`;

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function project(config = CONFIG): string {
  const p = tempProject({ "fluid.config.ts": config, "tasks/t.ts": TASKS });
  cleanups.push(p.cleanup);
  return p.dir;
}

const serve = useServe();

describe("fluid serve --http", () => {
  it("listens on an ephemeral loopback port, says where, runs a task through the API, and stops on SIGTERM", async () => {
    const s = serve(project(), { args: ["--http", "0"], env: { FLUID_TOKEN: "cli-test-token" } });
    const line = await s.waitFor((l) => l.event === "http");
    expect(line).toMatchObject({ host: "127.0.0.1", url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/$/), auth: "token required for changes" });
    expect(line.port).toBeGreaterThan(0);
    const url = line.url as string;
    expect(await (await fetch(`${url}healthz`)).json()).toMatchObject({ status: "ok" });
    const res = await fetch(`${url}api/tasks/echo/runs?wait=10s`, {
      method: "POST", headers: { authorization: "Bearer cli-test-token", "content-type": "application/json" }, body: JSON.stringify({ params: { v: 21 } }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ run: { task: "echo", state: "success", result: 42 } });
    s.child.kill("SIGTERM");
    expect((await s.child).exitCode).toBe(0);
  });

  it("takes the port, host and token from the config", async () => {
    const config = `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"], http: { port: 0, host: "localhost", token: "config-token-1" } });\n`;
    const s = serve(project(config));
    const line = await s.waitFor((l) => l.event === "http");
    const res = await fetch(`${line.url as string}api/tasks/echo/runs`, { method: "POST", headers: { authorization: "Bearer config-token-1", "content-type": "application/json" }, body: '{"params":{"v":1}}' });
    expect(res.status).toBe(201);
    s.child.kill("SIGTERM");
    expect((await s.child).exitCode).toBe(0);
  });

  it("refuses to start on a public address without a token, before the daemon starts", async () => {
    const r = await fluid(["serve", "--http", "0.0.0.0:0", "--log-format", "json"], { cwd: project(), env: { FLUID_TOKEN: "" } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/would open the API beyond this machine without a token/);
    expect(r.stderr).toMatch(/FLUID_TOKEN/);
    expect(r.stderr).not.toMatch(/"started"/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("refuses a bad --http value and a bad config", async () => {
    const r = await fluid(["serve", "--http", "localhost:99999"], { cwd: project() });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--http must be \[host:\]port/);
    const bad = `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"], http: { prot: 80 } });\n`;
    const c = await fluid(["serve"], { cwd: project(bad) });
    expect(c.exitCode).toBe(2);
    expect(c.stderr).toMatch(/unknown key "http\.prot".*\n.*did you mean "http\.port"/);
  });
});
