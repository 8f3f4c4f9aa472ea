import { describe, expect, it } from "vitest";
import { waitForRun } from "../../src/daemon/client.js";
import { CONFIG, fluid, tempProject } from "../helpers/cli.js";
import { startDaemon } from "./helpers.js";

const TASKS = `
import { task } from "fluid-tasks";
import { z } from "zod";
export const where = task({ cpuBound: true, params: z.object({ secret: z.string().default("") }) }, async () => ({ pid: process.pid }));
export const spin = task({ cpuBound: true, timeout: "300ms" }, async () => { for (;;) {} });
export const crash = task({ cpuBound: true }, async () => { process.exit(7); });
`;

describe("cpu-bound tasks", () => {
  it("run in a child process under the daemon; a busy loop is killed at its timeout and the daemon stays responsive", async () => {
    const d = await startDaemon(TASKS, {}, CONFIG.replace("tasks:", "pool: { size: 2 }, tasks:"));
    try {
      const conn = { store: d.daemon.store!, broker: d.daemon.broker };
      const where = await waitForRun(conn, await d.daemon.queue("where"), { timeoutMs: 20_000 });
      expect(where.state).toBe("success");
      expect((where.result as { pid: number }).pid).not.toBe(process.pid);

      let ticks = 0;
      const ticker = setInterval(() => ticks++, 20);
      const spun = await waitForRun(conn, await d.daemon.queue("spin"), { timeoutMs: 20_000 });
      clearInterval(ticker);
      expect(spun).toMatchObject({ state: "timeout", error: { code: "FLUID_TIMEOUT" } });
      expect(ticks).toBeGreaterThan(5); // our event loop kept turning while the child spun

      const crashed = await waitForRun(conn, await d.daemon.queue("crash"), { timeoutMs: 20_000 });
      expect(crashed).toMatchObject({ state: "failure", exitCode: 7 });
      expect(crashed.error?.message).toMatch(/exit(ed)? (with )?(code )?7|code 7/);
      expect(d.daemon.summary.pool).not.toBeNull();
    } finally {
      await d.close();
    }
  });

  it("fluid run runs a cpu-bound task in a child process and kills it at its timeout", async () => {
    const p = tempProject({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    try {
      const ok = await fluid(["run", "where", "--json"], { cwd: p.dir });
      expect(ok.exitCode).toBe(0);
      expect(typeof JSON.parse(ok.stdout).result.pid).toBe("number");
      const spun = await fluid(["run", "spin"], { cwd: p.dir });
      expect(spun.exitCode).toBe(1);
      expect(spun.stderr).toMatch(/timed out after 300ms/);
    } finally {
      p.cleanup();
    }
  });
});
