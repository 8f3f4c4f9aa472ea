import { beforeAll, describe, expect, it } from "vitest";
import { createServer } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fluid, useTempProjects } from "../helpers/cli.js";
import { useServe } from "../helpers/serve.js";
import { serve } from "../../src/daemon/serve.js";
import { connect, enqueue, waitForRun } from "../../src/daemon/client.js";
import { loadProject } from "../../src/config/load.js";
import { useHookServers, type HookServer } from "./hook-server.js";

const project = useTempProjects();
const startServer = useHookServers();
const served = useServe();

function files(hook: HookServer): Record<string, string> {
  return {
    "fluid.config.ts": `import { defineConfig } from "fluid-tasks";
export default defineConfig({
  tasks: ["./tasks/*.ts"],
  notify: { webhook: { url: "${hook.url}/all", retryDelay: 20 }, logLines: 5, command: 'echo "$FLUID_KIND $FLUID_TASK $FLUID_RUN_ID" >> alerts.log' },
});
`,
    "tasks/t.ts": `import { task } from "fluid-tasks";
import { z } from "zod";
export const job = task(
  { params: z.object({ fail: z.boolean().default(false) }), retry: { attempts: 2, delay: 50 }, notify: { healthchecks: "${hook.url}/hc" } },
  async (ctx) => {
    ctx.log.info("working, attempt " + ctx.attempt);
    if (ctx.params.fail) throw new Error("boom on attempt " + ctx.attempt);
    return "ok";
  },
);
export const quiet = task({ notify: false }, async () => { throw new Error("nobody hears this"); });
export const deadhook = task({ notify: { webhook: { url: "http://127.0.0.1:${deadPort}/", attempts: 1 } } }, async () => { throw new Error("the pager is down too"); });
`,
  };
}

/** A local port nothing listens on. */
let deadPort = 0;
beforeAll(async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  deadPort = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
});

const settle = () => new Promise((r) => setTimeout(r, 300));

describe("alerts through a real fluid serve", () => {
  it("alert on the final failure only, recovery once, nothing on success, pings in order; a dead notifier changes no outcome", async () => {
    const hook = await startServer();
    const dir = project(files(hook));
    const daemon = served(dir);
    const conn = await connect(await loadProject({ cwd: dir, env: {} }));
    const all = (r: { path: string }) => r.path === "/all";
    /** Queues a run into the served daemon's store, as `fluid queue` does, and waits for its end. */
    const queue = async (name: string, params: Record<string, unknown> = {}) => {
      const run = await enqueue(conn, conn.project.registry.get(name), params);
      return waitForRun(conn, run.id, { timeoutMs: 15_000 });
    };
    try {
      await daemon.started();

      // Fails twice (attempt 1 is retried): one alert, for attempt 2, with that attempt's log lines.
      expect((await queue("job", { fail: true })).state).toBe("failure");
      const [failure] = await hook.waitFor(1, all);
      expect(failure!.json).toMatchObject({
        kind: "failure", task: "job", attempt: 2, maxAttempts: 2, state: "failure", trigger: "queue",
        error: { name: "Error", message: "boom on attempt 2" }, failures: 1,
      });
      expect((failure!.json!.logLines as Array<{ message: string }>).map((l) => l.message)).toContain("working, attempt 2");
      expect(JSON.stringify(failure!.json!.logLines)).not.toContain("attempt 1");

      // The next success is a recovery; the one after it says nothing.
      expect((await queue("job")).state).toBe("success");
      const [, recovery] = await hook.waitFor(2, all);
      expect(recovery!.json).toMatchObject({ kind: "recovery", task: "job", state: "success", failures: 1, error: null });
      expect((await queue("job")).state).toBe("success");

      // notify: false
      expect((await queue("quiet")).state).toBe("failure");
      // A webhook nobody listens on: the run ends as it would have, and one line says the alert was lost.
      expect(await queue("deadhook")).toMatchObject({ state: "failure", error: { message: "the pager is down too" } });
      const lost = await daemon.waitFor((l) => l.event === "notify-failed");
      expect(lost).toMatchObject({ notifier: "webhook", what: "failure", task: "deadhook", message: `http://127.0.0.1:${deadPort}: ECONNREFUSED` });

      await settle();
      expect(hook.received.filter(all).map((r) => r.json?.kind)).toEqual(["failure", "recovery"]);
      expect(hook.received.filter((r) => r.path.startsWith("/hc")).map((r) => r.path)).toEqual([
        "/hc/start", "/hc/start", "/hc/fail", // the failing run: two attempts, one fail ping
        "/hc/start", "/hc", "/hc/start", "/hc",
      ]);
      expect(daemon.lines.filter((l) => l.event === "notify-failed")).toHaveLength(1);
      // The command notifier (a child process of the daemon) ran for each alert, deadhook's included.
      expect(readFileSync(join(dir, "alerts.log"), "utf8").trim().split("\n").map((l) => l.split(" ").slice(0, 2).join(" "))).toEqual([
        "failure job", "recovery job", "failure deadhook",
      ]);
    } finally {
      await conn.close();
    }
    daemon.child.kill("SIGTERM");
    expect((await daemon.child).exitCode).toBe(0);
  });

  it("fluid run alerts too (unless --no-notify), and sees a recovery from the store's history", async () => {
    const hook = await startServer();
    const dir = project(files(hook));
    const all = (r: { path: string }) => r.path === "/all";
    expect((await fluid(["run", "job", "--fail", "--no-notify"], { cwd: dir })).exitCode).toBe(1);
    await settle();
    expect(hook.received).toHaveLength(0);

    const failed = await fluid(["run", "job", "--fail"], { cwd: dir });
    expect(failed.exitCode).toBe(1);
    // fluid run waits for its alerts before it exits: they are there already.
    expect(hook.received.filter(all).map((r) => r.json)).toMatchObject([{ kind: "failure", trigger: "cli", attempt: 2, failures: 2 }]);
    expect(hook.received.filter((r) => r.path.startsWith("/hc")).map((r) => r.path)).toEqual(["/hc/start", "/hc/start", "/hc/fail"]);

    expect((await fluid(["run", "job"], { cwd: dir })).exitCode).toBe(0);
    expect(hook.received.filter(all).map((r) => r.json?.kind)).toEqual(["failure", "recovery"]);
    expect(hook.received.filter(all)[1]!.json).toMatchObject({ failures: 2 });
    expect(readFileSync(join(dir, "alerts.log"), "utf8")).toMatch(/^failure job \w+\nrecovery job \w+\n$/);
  });

  it("a daemon started after a failure sees the recovery (its health comes from the store)", async () => {
    const hook = await startServer();
    const dir = project(files(hook));
    const all = (r: { path: string }) => r.path === "/all";
    const first = await serve({ cwd: dir, env: {}, graceMs: 1000 });
    try {
      const id = await first.queue("job", { fail: true });
      await waitForRun({ store: first.store!, broker: first.broker }, id, { timeoutMs: 10_000 });
    } finally {
      await first.stop();
    }
    // Shutdown waited for the alert.
    expect(hook.received.filter(all).map((r) => r.json?.kind)).toEqual(["failure"]);
    const second = await serve({ cwd: dir, env: {}, graceMs: 1000 });
    try {
      const id = await second.queue("job", {});
      await waitForRun({ store: second.store!, broker: second.broker }, id, { timeoutMs: 10_000 });
      await hook.waitFor(2, all);
      expect(second.notifier.stats()).toMatchObject({ alerts: { failure: 0, timeout: 0, recovery: 1 } });
    } finally {
      await second.stop();
    }
    expect(hook.received.filter(all).map((r) => r.json?.kind)).toEqual(["failure", "recovery"]);
    expect(second.notifier.stats().sent).toMatchObject({ webhook: 1, healthchecks: 2 });
  });
});
