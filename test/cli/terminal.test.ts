import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { BIN, CONFIG, ROOT, useTempProjects } from "../helpers/cli.js";

const project = useTempProjects();
const PTY = join(ROOT, "test", "helpers", "run-in-pty.py");

/** `fluid <args>` on a real pseudo-terminal of `columns` x `rows` (test/helpers/run-in-pty.py). */
function inPty(args: string[], o: { cwd: string; columns: number; rows?: number; env?: Record<string, string>; timeoutS?: number }) {
  return execa("python3", [PTY, String(o.columns), String(o.rows ?? 0), String(o.timeoutS ?? 15), "200000", "--", process.execPath, BIN, ...args], {
    cwd: o.cwd, reject: false, extendEnv: false,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", TERM: "xterm-256color", FLUID_CONFIG: "", ...o.env },
  });
}

/** How many bytes the command wrote to its terminal, as run-in-pty.py reports it. */
function ptyBytes(stderr: string): number {
  return Number(/pty-bytes (\d+)/.exec(stderr)?.[1] ?? NaN);
}

const TASKS = `import { writeFileSync } from "node:fs";
import { task } from "fluid-tasks";
export const slow = task({ name: "slow" }, async () => { await new Promise((r) => setTimeout(r, 700)); return "done"; });
export const wait = task({ name: "wait", timeout: 0 }, async (ctx) => {
  writeFileSync("started", "");
  await new Promise((resolve, reject) => { const t = setTimeout(resolve, 30_000); ctx.signal.addEventListener("abort", () => { clearTimeout(t); reject(ctx.signal.reason); }); });
});
`;

// eslint-disable-next-line no-control-regex
const SPINNER_FRAME = new RegExp("\r\u001b\\[36m[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]");
// eslint-disable-next-line no-control-regex
const ESCAPES = new RegExp("\u001b\\[[0-9;?]*[a-zA-Z]", "g");

describe("fluid run on a terminal", () => {
  it("a terminal of 0 columns (what `script` gives): no spinner, the run ends and exits 0", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const r = await inPty(["run", "slow"], { cwd: dir, columns: 0 });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("done");
    expect(r.stdout).not.toMatch(SPINNER_FRAME);
    expect(ptyBytes(r.stderr)).toBeLessThan(1000);
  });

  it("a wide terminal gets a one-line spinner; CI=1 and TERM=dumb get none", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const wide = await inPty(["run", "slow"], { cwd: dir, columns: 80, rows: 24 });
    expect(wide.exitCode).toBe(0);
    expect(wide.stdout).toMatch(SPINNER_FRAME);
    expect(wide.stdout).toContain("running slow");
    expect(wide.stdout).toContain("\u001b[?25h"); // the cursor is shown again
    for (const env of [{ CI: "1" }, { TERM: "dumb" }] as Array<Record<string, string>>) {
      const r = await inPty(["run", "slow"], { cwd: dir, columns: 80, rows: 24, env });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).not.toMatch(SPINNER_FRAME);
    }
  });

  it.each([["SIGTERM", 0], ["SIGINT", 0], ["SIGTERM", 80]] as const)("%s on a terminal of %i columns: the run is interrupted, exit 130", async (signal, columns) => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const child = inPty(["run", "wait"], { cwd: dir, columns, rows: 24 });
    for (let i = 0; i < 200 && !existsSync(join(dir, "started")); i++) await sleep(50);
    child.kill(signal);
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(r.stdout).toContain(`${signal}: interrupting wait`);
    expect(r.stdout.replace(ESCAPES, "")).toMatch(/wait [0-9a-f]{20} interrupted/);
  });

  it("SIGTERM ends a command that has no run either (fluid queue --wait), with 130", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const child = execa("node", [BIN, "queue", "slow", "--wait"], { cwd: dir, reject: false, env: { NO_COLOR: "1", FLUID_CONFIG: "" } });
    await new Promise<void>((resolve) => child.stderr!.once("data", () => resolve()));
    child.kill("SIGTERM");
    const r = await child;
    expect(r.exitCode).toBe(130);
  });
});
