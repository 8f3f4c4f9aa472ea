import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { BIN, CONFIG, ROOT, useTempProjects } from "../helpers/cli.js";

const project = useTempProjects();
const PTY = join(ROOT, "test", "helpers", "run-in-pty.py");

const TASKS = `import { task, every } from "fluid-tasks";
export const tick = task({ schedule: every("1s"), catchUp: "latest" }, async () => 1);
`;

/** `fluid serve` on a real 100-column terminal until `until` shows in its output, then SIGTERM; resolves with the output. */
async function serveOnTerminal(dir: string, until: RegExp): Promise<{ exitCode: number | undefined; text: string }> {
  const child = execa("python3", [PTY, "100", "30", "30", "1000000", "--", process.execPath, BIN, "serve"], {
    cwd: dir, reject: false, extendEnv: false,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", TERM: "xterm", NO_COLOR: "1", FLUID_CONFIG: "" },
  });
  let text = "";
  child.stdout!.on("data", (c: Buffer) => (text += c.toString()));
  for (let i = 0; i < 300 && !until.test(text); i++) await sleep(50);
  child.kill("SIGTERM");
  const r = await child;
  return { exitCode: r.exitCode, text: r.stdout };
}

describe("fluid serve on a terminal", () => {
  it("prints every event as a readable line, the header first, even a catch-up planned at start", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const first = await serveOnTerminal(dir, /start {2}tick/);
    expect(first.exitCode).toBe(0);
    await sleep(2500); // fires missed while no daemon runs
    const second = await serveOnTerminal(dir, /start {2}tick/);
    expect(second.exitCode).toBe(0);
    const lines = second.text.split(/\r?\n/).filter((l) => l.trim() !== "");
    expect(lines[0]).toMatch(/^fluid serve pid \d+/);
    expect(second.text).toMatch(/catch-up \d+ missed fire\(s\) while the daemon was down, 1 to run: tick \d+ missed, 1 to run \(latest\)/);
    for (const line of lines) {
      expect(line).not.toMatch(/^\s*[{[]/); // no raw JSON
      expect(line).not.toMatch(/\b1\d{12}\b/); // no epoch-ms times
    }
  }, 30_000);
});
