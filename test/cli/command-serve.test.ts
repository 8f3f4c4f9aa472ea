import { afterEach, describe, expect, it } from "vitest";
import { waitUntil } from "../executor/fixture.js";
import { fluid, useTempProjects } from "../helpers/cli.js";
import { killMarked, markedProcesses, uniqueMark } from "../helpers/marked-processes.js";
import { useServe } from "../helpers/serve.js";

// Command tasks of the config under the real `fluid serve`: fired by their schedule, queued,
// and stopped with their whole process tree when the daemon shuts down.

const project = useTempProjects();
const serve = useServe();
const marks: string[] = [];
afterEach(() => {
  for (const m of marks.splice(0)) killMarked("FLUID_TEST_MARK", m);
});

const config = (mark: string): string => `import { defineConfig } from "fluid-tasks";
export default defineConfig({
  commands: {
    tick: { command: 'echo "tick $FLUID_TASK"; echo "warning" >&2', schedule: "every 1s" },
    long: { command: "sleep 100 & sleep 101 | cat; wait", env: { FLUID_TEST_MARK: "${mark}" } },
  },
});
`;

describe("fluid serve with command tasks", () => {
  it("fires a command on its schedule, records its exit code and output; a shutdown kills a running command's tree", async () => {
    const mark = uniqueMark();
    marks.push(mark);
    const dir = project({ "fluid.config.ts": config(mark) });
    const s = serve(dir, { args: ["--grace", "200ms"] });
    await s.started();
    const end = await s.waitFor((l) => l.event === "run-end" && l.task === "tick" && l.state === "success", 20_000);
    const show = await fluid(["show", String(end.id), "--json"], { cwd: dir });
    expect(JSON.parse(show.stdout)).toMatchObject({
      run: { task: "tick", state: "success", trigger: "schedule", result: { exitCode: 0 } },
      logs: [{ level: "stdout", message: "tick tick" }, { level: "stderr", message: "warning" }],
    });

    const queued = await fluid(["queue", "long"], { cwd: dir });
    expect(queued.exitCode).toBe(0);
    const id = queued.stdout.trim();
    await s.waitFor((l) => l.event === "run-start" && l.id === id);
    await waitUntil(() => markedProcesses("FLUID_TEST_MARK", mark).length >= 4, 10_000, "sh, two sleeps and cat to start");
    s.child.kill("SIGTERM");
    await s.child;
    expect(s.lines.find((l) => l.event === "run-end" && l.id === id)).toMatchObject({ state: "interrupted" });
    await waitUntil(() => markedProcesses("FLUID_TEST_MARK", mark).length === 0, 10_000, "no process of the command left");
  }, 60_000);
});
