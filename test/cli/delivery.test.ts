import { spawn } from "node:child_process";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { BIN, CONFIG, useTempProjects } from "../helpers/cli.js";

const project = useTempProjects();

/**
 * What a `fluid` process wrote to a pipe whose reader sleeps `delay` seconds before its first
 * read (a shell pipeline, as a CI script has), and the exit code of `fluid` itself.
 */
async function slowReader(args: string[], cwd: string, delay = 0.5): Promise<{ exitCode: number; stdout: string }> {
  const script = `node "$0" "$@" | { sleep ${delay}; cat; }; exit \${PIPESTATUS[0]}`;
  const r = await execa("bash", ["-c", script, BIN, ...args], { cwd, reject: false, env: { NO_COLOR: "1", FLUID_CONFIG: "" }, stderr: "ignore", maxBuffer: 1e9 });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout };
}

const BIG = 512_000;
const TASKS = `import { task } from "fluid-tasks";
export const big = task({ name: "big" }, async () => "x".repeat(${BIG}));
export const chatty = task({ name: "chatty" }, async (ctx) => { for (let i = 0; i < 900; i++) ctx.log.info(String(i).padStart(300, ".")); return 1; });
export const bad = task({ name: "bad" }, async () => { throw new Error("y".repeat(${BIG})); });
`;

describe("fluid: all output reaches a slow reader", () => {
  it("run --json, history --json, show, logs --json: every byte, then the exit code", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/all.ts": TASKS });
    const run = await slowReader(["run", "big", "--json"], dir);
    expect(run.exitCode).toBe(0);
    expect(run.stdout.length).toBeGreaterThan(BIG);
    const outcome = JSON.parse(run.stdout) as { id: string; result: string };
    expect(outcome.result).toHaveLength(BIG);

    const failed = await slowReader(["run", "bad", "--json"], dir);
    expect(failed.exitCode).toBe(1);
    expect((JSON.parse(failed.stdout) as { error: { message: string } }).error.message).toHaveLength(BIG);

    const chatty = JSON.parse((await slowReader(["run", "chatty", "--json"], dir)).stdout) as { id: string };

    const history = await slowReader(["history", "--json"], dir);
    expect(history.exitCode).toBe(0);
    expect((JSON.parse(history.stdout) as unknown[]).length).toBe(3);

    for (const args of [["show", outcome.id, "--json"], ["show", outcome.id]]) {
      const show = await slowReader(args, dir);
      expect(show.exitCode).toBe(0);
      expect(show.stdout).toContain("x".repeat(BIG));
    }

    const logs = await slowReader(["logs", chatty.id, "--json"], dir);
    expect(logs.exitCode).toBe(0);
    expect((JSON.parse(logs.stdout) as unknown[]).length).toBe(900);
  }, 60_000);

  it("a reader that stops early (head -c) ends the command quietly", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/all.ts": TASKS });
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, "run", "big", "--json"], { cwd: dir, env: { ...process.env, NO_COLOR: "1", FLUID_CONFIG: "" }, stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      child.stdout.once("data", () => child.stdout.destroy());
      child.on("exit", (code) => resolve({ code, stderr }));
    });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain("EPIPE");
  });
});
