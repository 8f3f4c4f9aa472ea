import { describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { execa } from "execa";
import { BIN, CONFIG, useTempProjects } from "../helpers/cli.js";
import { useChildren } from "../helpers/children.js";
import { pidOneWarning } from "../../src/daemon/pid-one.js";

// As pid 1 (a container without an init) fluid serve says once that it cannot reap orphans.

const project = useTempProjects();
const { children } = useChildren();

describe("pidOneWarning", () => {
  it("warns only for pid 1, naming --init and tini", () => {
    expect(pidOneWarning(1)?.message).toMatch(/pid 1: it cannot reap orphaned grandchildren/);
    expect(pidOneWarning(1)?.hint).toMatch(/docker run --init.*tini/);
    expect(pidOneWarning(2)).toBeUndefined();
    expect(pidOneWarning(4_194_304)).toBeUndefined();
  });

  // A new pid namespace makes the daemon pid 1 without a container (needs root and util-linux's unshare).
  const canUnshare = process.getuid?.() === 0 && ["/usr/bin/unshare", "/bin/unshare"].some((p) => existsSync(p));
  it.skipIf(!canUnshare)("a real fluid serve as pid 1 of a new pid namespace prints the warning once (skipped unless root with unshare)", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": `import { task } from "fluid-tasks";\nexport const t = task({}, async () => {});\n` });
    const child = execa("unshare", ["--pid", "--fork", "--kill-child", "node", BIN, "serve", "--log-format", "json"], {
      cwd: dir, reject: false, env: { NO_COLOR: "1", FLUID_CONFIG: "" }, forceKillAfterDelay: false,
    });
    children.push(child);
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + 30_000;
    while (!/"event":"warning"/.test(stderr) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const lines = stderr.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.event === "started")).toMatchObject({ summary: { pid: 1 } });
    expect(lines.filter((l) => l.event === "warning")).toEqual([expect.objectContaining({ message: expect.stringMatching(/runs as pid 1/), hint: expect.stringMatching(/--init/) })]);
    // The daemon's pid outside the namespace is unshare's child: stop it as systemd or docker would.
    const inner = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(" ")[0]);
    process.kill(inner, "SIGTERM");
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(stderr).toContain('"event":"stopped"');
  });
});
