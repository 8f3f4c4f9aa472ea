import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fluid, useTempProjects } from "../helpers/cli.js";
import { useServe } from "../helpers/serve.js";
import { checkBackend } from "../../src/fleet/check-backend.js";
import { BACKENDS, freePort, HAS_REDIS_SERVER, ownTarget, startRedisServer, stopChild, tcpProxy } from "./backends.js";

const TASKS = `import { task } from "fluid-tasks";
export const slow = task({}, async () => { await new Promise((r) => setTimeout(r, 1500)); return "slept"; });
export const quick = task({}, async () => "done");
`;

describe("a daemon whose Redis is restarted mid-run", () => {
  const project = useTempProjects();
  const serve = useServe();
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it.runIf(HAS_REDIS_SERVER)("keeps running, says so once when it goes and once when it is back, and loses no queued run; fluid queue meanwhile is exit 2", async () => {
    const data = mkdtempSync(join(tmpdir(), "fluid-redis-"));
    cleanups.push(() => rmSync(data, { recursive: true, force: true }));
    const port = await freePort();
    let server = await startRedisServer(port, data);
    cleanups.push(() => stopChild(server));
    const backend = `redis://127.0.0.1:${port}/0?prefix=outage`;
    const dir = project({
      "fluid.config.ts": `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"], backend: ${JSON.stringify(backend)} });\n`,
      "tasks/t.ts": TASKS,
    });
    const env = { FLUID_STORE: join(dir, "client.db") };
    const queue = async (...args: string[]): Promise<string> => {
      const queued = await fluid(["queue", ...args], { cwd: dir, env });
      expect(queued.exitCode, queued.stderr).toBe(0);
      return queued.stdout.trim();
    };
    const daemon = serve(dir, { env: { FLUID_STORE: join(dir, "daemon.db") } });
    await daemon.started();

    // Before: a run in progress, and runs queued for later that wait in Redis through the outage.
    const slow = await queue("slow");
    await daemon.waitFor((l) => l.event === "run-start" && l.id === slow);
    const before = [];
    for (let n = 0; n < 4; n++) before.push(await queue("quick", "--delay", "2s"));

    await stopChild(server);
    await daemon.waitFor((l) => l.event === "backend" && l.state === "down");
    // During: `fluid queue` fails at once with a clear message, exit 2.
    const refused = await fluid(["queue", "quick"], { cwd: dir, env });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/cannot reach the Redis backend redis:\/\/127\.0\.0\.1:\d+/);
    expect(refused.stderr).not.toMatch(/\n\s+at /); // no stack trace
    // Several polls (100 ms each) go by with the backend down.
    await new Promise((r) => setTimeout(r, 1500));

    server = await startRedisServer(port, data);
    await daemon.waitFor((l) => l.event === "backend" && l.state === "up", 20_000);
    // After: new runs are claimed as usual.
    const after = [];
    for (let n = 0; n < 4; n++) after.push(await queue("quick"));

    const queued = [slow, ...before, ...after];
    for (const id of queued) await daemon.waitFor((l) => l.event === "run-end" && l.id === id, 20_000);
    daemon.child.kill("SIGTERM");
    await daemon.child;
    expect(daemon.child.exitCode).toBe(0);

    const ends = daemon.lines.filter((l) => l.event === "run-end");
    expect(ends.map((l) => l.id).sort()).toEqual([...queued].sort()); // each queued run ran, once
    expect(ends.every((l) => l.state === "success")).toBe(true);
    const outage = daemon.lines.filter((l) => l.event === "backend");
    expect(outage.map((l) => l.state)).toEqual(["down", "up"]);
    expect(outage[0]!.message).toMatch(/unreachable .*reconnecting with backoff/);
    expect(outage[1]!.message).toMatch(/reachable again after [\d.]+ s/);
    expect(daemon.lines.filter((l) => l.event === "error")).toEqual([]);
    // The fleet's run history lost no record either: every run, success, read from the backend.
    const history = JSON.parse((await fluid(["history", "--json"], { cwd: dir, env })).stdout) as Array<{ id: string; state: string }>;
    expect(history.map((r) => r.id).sort()).toEqual([...queued].sort());
    expect(history.every((r) => r.state === "success")).toBe(true);
  }, 60_000); // an outage of a few seconds, nine runs and a look at the run history: slower than most on a loaded machine
});

const postgres = BACKENDS.find((b) => b.name === "postgres")!;

describe("a daemon whose PostgreSQL goes away mid-run (a TCP proxy of the test's own, cut and restored)", () => {
  const project = useTempProjects();
  const serve = useServe();
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it.runIf(postgres.up)("keeps running, says so once when it goes and once when it is back, and loses no queued run; fluid queue meanwhile is exit 2", async () => {
    const own = ownTarget(postgres.url);
    cleanups.push(() => own.drop());
    await checkBackend(own.target); // the schema, made before the proxy is cut
    const port = await freePort();
    const proxy = tcpProxy(port, 5432);
    await proxy.start();
    cleanups.push(() => proxy.stop());
    const schema = own.target.kind === "postgres" ? own.target.schema : "";
    const backend = `postgres://postgres@127.0.0.1:${port}/test?schema=${schema}`;
    const dir = project({
      "fluid.config.ts": `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"], backend: ${JSON.stringify(backend)} });\n`,
      "tasks/t.ts": TASKS,
    });
    const env = { FLUID_STORE: join(dir, "client.db") };
    const queue = async (...args: string[]): Promise<string> => {
      const queued = await fluid(["queue", ...args], { cwd: dir, env });
      expect(queued.exitCode, queued.stderr).toBe(0);
      return queued.stdout.trim();
    };
    const daemon = serve(dir, { env: { FLUID_STORE: join(dir, "daemon.db") } });
    await daemon.started();

    const slow = await queue("slow");
    await daemon.waitFor((l) => l.event === "run-start" && l.id === slow);
    const before = [];
    for (let n = 0; n < 4; n++) before.push(await queue("quick", "--delay", "2s"));

    await proxy.stop();
    await daemon.waitFor((l) => l.event === "backend" && l.state === "down");
    const refused = await fluid(["queue", "quick"], { cwd: dir, env });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/cannot reach the PostgreSQL backend postgres:\/\/postgres@127\.0\.0\.1:\d+/);
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    await new Promise((r) => setTimeout(r, 1500));

    await proxy.start();
    await daemon.waitFor((l) => l.event === "backend" && l.state === "up", 20_000);
    const after = [];
    for (let n = 0; n < 4; n++) after.push(await queue("quick"));

    const queued = [slow, ...before, ...after];
    for (const id of queued) await daemon.waitFor((l) => l.event === "run-end" && l.id === id, 20_000);
    daemon.child.kill("SIGTERM");
    await daemon.child;
    expect(daemon.child.exitCode).toBe(0);

    const ends = daemon.lines.filter((l) => l.event === "run-end");
    expect(ends.map((l) => l.id).sort()).toEqual([...queued].sort());
    expect(ends.every((l) => l.state === "success")).toBe(true);
    const outage = daemon.lines.filter((l) => l.event === "backend");
    expect(outage.map((l) => l.state)).toEqual(["down", "up"]);
    expect(outage[0]!.message).toMatch(/unreachable \(.+\); reconnecting with backoff/);
    expect(outage[1]!.message).toMatch(/reachable again after [\d.]+ s/);
    expect(daemon.lines.filter((l) => l.event === "error")).toEqual([]);
    // The fleet's run history lost no record either: every run, success, read from the backend.
    const history = JSON.parse((await fluid(["history", "--json"], { cwd: dir, env })).stdout) as Array<{ id: string; state: string }>;
    expect(history.map((r) => r.id).sort()).toEqual([...queued].sort());
    expect(history.every((r) => r.state === "success")).toBe(true);
  }, 60_000); // an outage of a few seconds, nine runs and a look at the run history: slower than most on a loaded machine
});
