import { describe, expect, it } from "vitest";
import { alive, run, usePoolTests, waitUntil } from "./fixture.js";

const fixture = usePoolTests();

describe("ctx.exec in a cpu-bound task", () => {
  it("puts the program's lines in the run's log with their stream, and fails with its exit code", async () => {
    const t = fixture.open({ size: 1 });
    const lines: string[] = [];
    const ok = await t.pool.execute(run("program", { script: "echo out; echo err >&2" }), { log: (l) => lines.push(`${l.level}: ${l.message}`) });
    expect(ok).toMatchObject({ state: "success", result: { exitCode: 0, stdout: "out", stderr: "err" } });
    expect(lines).toEqual(expect.arrayContaining(["stdout: out", "stderr: err"]));
    const bad = await t.pool.execute(run("program", { script: "echo boom >&2; exit 5" }));
    expect(bad).toMatchObject({ state: "failure", error: { code: "FLUID_EXEC", name: "ExecError" } });
    expect(bad.error!.message).toMatch(/exited with code 5\nlast lines on stderr:\n {2}boom/);
  });

  it("kills the program's tree, also a detached descendant, when the run times out", async () => {
    const t = fixture.open({ size: 1, abortGraceMs: 2000, killGraceMs: 1000 });
    const lines: string[] = [];
    const out = await t.pool.execute(run("program", { script: "sleep 60 & a=$!; setsid sleep 62 & echo \"$$ $a $!\"; exec sleep 61" }, { timeoutMs: 1000 }), {
      log: (l) => lines.push(l.message),
    });
    expect(out.state).toBe("timeout");
    await waitUntil(() => lines.length > 0, 5000, "the program's pids");
    const pids = lines[0]!.split(" ").map(Number);
    expect(pids).toHaveLength(3);
    try {
      await waitUntil(() => pids.every((pid) => !alive(pid)), 10_000, "the program's tree to be killed");
    } finally {
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
    }
  });
});
