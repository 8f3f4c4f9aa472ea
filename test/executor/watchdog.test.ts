import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { BIN, CONFIG, fluid, useTempProjects } from "../helpers/cli.js";
import { alive, waitUntil } from "./fixture.js";

const TASKS = `
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { task } from "fluid-tasks";
import { z } from "zod";
export const spin = task({ cpuBound: true, timeout: 0, params: z.object({ file: z.string() }) }, (ctx) => {
  const inGroup = spawn("sleep", ["60"], { stdio: "ignore" }).pid;
  const detached = spawn("sleep", ["60"], { stdio: "ignore", detached: true }).pid;
  const end = Date.now() + 200; // let the sleeps start
  while (Date.now() < end) {}
  writeFileSync(ctx.params.file, JSON.stringify({ worker: process.pid, inGroup, detached }));
  for (;;) {} // never yields: the worker's event loop cannot notice anything
});
`;

const project = useTempProjects();

describe("a cpu-bound worker whose parent dies", () => {
  it("dies within about a second, with its process group and a detached grandchild, even in a busy loop", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const file = join(dir, "pids.json");
    const cli = execa("node", [BIN, "run", "spin", "--file", file], { cwd: dir, reject: false, env: { NO_COLOR: "1", FLUID_CONFIG: "" } });
    let pids: number[] = [];
    try {
      await waitUntil(() => existsSync(file) && readFileSync(file, "utf8").length > 0, 30_000, "the task to spin");
      const o = JSON.parse(readFileSync(file, "utf8")) as { worker: number; inGroup: number; detached: number };
      pids = [o.worker, o.inGroup, o.detached];
      expect(pids.every(alive)).toBe(true);
      cli.kill("SIGKILL");
      await cli;
      // The watchdog checks every 200 ms; allow for a loaded machine.
      await waitUntil(() => pids.every((pid) => !alive(pid)), 3000, "the worker, its group and the detached sleep to die");
      expect(pids.filter(alive)).toEqual([]);
    } finally {
      cli.kill("SIGKILL");
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
    }
  }, 60_000);

  it("under fluid serve: kill -9 of the daemon takes a spinning worker and its tree with it", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const file = join(dir, "pids.json");
    const daemon = execa("node", [BIN, "serve", "--log-format", "json"], { cwd: dir, reject: false, env: { NO_COLOR: "1", FLUID_CONFIG: "" } });
    let pids: number[] = [];
    try {
      const queued = await fluid(["queue", "spin", "--file", file], { cwd: dir });
      expect(queued.exitCode).toBe(0);
      await waitUntil(() => existsSync(file) && readFileSync(file, "utf8").length > 0, 30_000, "the task to spin");
      const o = JSON.parse(readFileSync(file, "utf8")) as { worker: number; inGroup: number; detached: number };
      pids = [o.worker, o.inGroup, o.detached];
      expect(pids.every(alive)).toBe(true);
      daemon.kill("SIGKILL");
      await daemon;
      await waitUntil(() => pids.every((pid) => !alive(pid)), 3000, "the worker, its group and the detached sleep to die");
    } finally {
      daemon.kill("SIGKILL");
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
    }
  }, 60_000);
});
