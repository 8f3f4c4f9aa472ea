import { describe, expect, it } from "vitest";
import { BIN, CONFIG, useTempProjects } from "../helpers/cli.js";
import { execa } from "execa";
import { run, usePoolTests } from "./fixture.js";

const fixture = usePoolTests();
const LINES = 51_200;

/** Expected lines of a `print` run. */
const expected = (tag: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${tag} ${i}`);

describe("pool: a run's output", () => {
  it("reaches its own run whole, also when the reader is slow and the next run on the worker prints too", async () => {
    const t = fixture.open({ size: 1 });
    const lines: { a: string[]; b: string[] } = { a: [], b: [] };
    // A slow reader (a daemon that records and prints every line): reading the first run's
    // output takes seconds after the child reported its end.
    const slowLog = (tag: "a" | "b") => (line: { level: string; message: string }): void => {
      const until = performance.now() + 0.04;
      while (performance.now() < until); // busy, like a reader that records and prints each line
      if (line.level === "stdout") lines[tag].push(line.message);
    };
    const first = t.pool.execute(run("print", { n: LINES, tag: "a" }), { log: slowLog("a") });
    // Sent ahead to the same worker: it starts the moment the first run ends in the child.
    const second = t.pool.execute(run("print", { n: 3, tag: "b" }), { log: slowLog("b") });
    expect((await first).state).toBe("success");
    expect((await second).state).toBe("success");
    expect(t.pids()).toHaveLength(1); // one worker ran both
    expect(lines.a.length).toBe(LINES);
    expect(lines.a).toEqual(expected("a", LINES));
    expect(lines.b).toEqual(expected("b", 3));
  }, 60_000);
});

const project = useTempProjects();

describe("fluid run of a cpu-bound task with a large output", () => {
  it("prints every line before it exits", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/t.ts": `import { task } from "fluid-tasks";
export const big = task({ cpuBound: true }, () => {
  const pad = " " + "x".repeat(200);
  for (let i = 0; i < ${LINES}; i++) console.log("line " + i + pad);
  return "done";
});
`,
    });
    const r = await execa("node", [BIN, "run", "big"], { cwd: dir, reject: false, env: { NO_COLOR: "1", FLUID_CONFIG: "" }, timeout: 120_000 });
    expect(r.exitCode).toBe(0);
    const printed = String(r.stderr).split("\n").filter((l) => / line \d+ x/.test(l));
    expect(printed.length).toBe(LINES);
    expect(printed.at(-1)).toMatch(new RegExp(` line ${LINES - 1} x`));
  }, 120_000);
});
