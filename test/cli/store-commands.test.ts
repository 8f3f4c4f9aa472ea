import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { CONFIG, fluid, tempProject } from "../helpers/cli.js";

const TASKS = `
import { task, secret } from "fluid-tasks";
import { z } from "zod";
export const hello = task({ params: z.object({ who: z.string(), token: secret(z.string()).optional() }) }, async (ctx) => {
  ctx.log.info("hello " + ctx.params.who);
  return { said: ctx.params.who };
});
export const broken = task({ retry: { attempts: 2, delay: 1 } }, async (ctx) => {
  ctx.log.warn("about to fail");
  throw new Error("kaput " + ctx.attempt);
});
export const parent = task({}, async (ctx) => {
  await ctx.queue(hello, { who: "child" });
  return "queued";
});
`;

describe("store commands", () => {
  let project: { dir: string; cleanup: () => void };
  const run = (args: string[]) => fluid(args, { cwd: project.dir });
  let helloId = "";

  beforeAll(async () => {
    project = tempProject({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const r = await run(["run", "hello", "--who", "ann", "--token", "s3cret", "--json"]);
    expect(r.exitCode).toBe(0);
    helloId = JSON.parse(r.stdout).id;
    expect((await run(["run", "broken"])).exitCode).toBe(1);
    expect((await run(["run", "parent"])).exitCode).toBe(0);
  });
  afterAll(() => project.cleanup());

  it("records runs in .fluid/fluid.db and lists them newest first", async () => {
    const r = await run(["history", "--json"]);
    expect(r.exitCode).toBe(0);
    const runs = JSON.parse(r.stdout) as Array<{ task: string; state: string; trigger: string }>;
    expect(runs.map((x) => x.task)).toEqual(["hello", "parent", "broken", "hello"]);
    expect(runs.map((x) => x.trigger)).toEqual(["queue", "cli", "retry", "cli"]);
    const table = await run(["history"]);
    expect(table.stdout).toMatch(/ID\s+TASK\s+STATE\s+STARTED\s+DURATION\s+TRIGGER\s+ATTEMPT/);
    expect(table.stdout).toMatch(/broken\s+failure/);
  });

  it("filters by task, state and limit", async () => {
    const failures = JSON.parse((await run(["history", "--state", "failure", "--json"])).stdout);
    expect(failures.map((x: { task: string }) => x.task)).toEqual(["broken"]);
    const hellos = JSON.parse((await run(["history", "hello", "-n", "1", "--json"])).stdout);
    expect(hellos).toHaveLength(1);
    expect((await run(["history", "--since", "1h", "--json"])).exitCode).toBe(0);
    const none = JSON.parse((await run(["history", "--until", "2000-01-01", "--json"])).stdout);
    expect(none).toEqual([]);
  });

  it("refuses bad filters with exit 2", async () => {
    const state = await run(["history", "--state", "exploded"]);
    expect(state.exitCode).toBe(2);
    expect(state.stderr).toMatch(/unknown state "exploded"/);
    const since = await run(["history", "--since", "yesterday-ish"]);
    expect(since.exitCode).toBe(2);
    expect(since.stderr).toMatch(/--since: cannot read "yesterday-ish"/);
    const task = await run(["history", "helo"]);
    expect(task.exitCode).toBe(2);
    expect(task.stderr).toMatch(/did you mean "hello"/);
  });

  it("shows a run by a unique prefix, with params redacted, result and logs", async () => {
    const r = await run(["show", helloId.slice(0, 8)]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(helloId);
    expect(r.stdout).toMatch(/state\s+success/);
    expect(r.stdout).toContain('"token":"[redacted]"');
    expect(r.stdout).not.toContain("s3cret");
    expect(r.stdout).toContain('"said": "ann"');
    expect(r.stdout).toMatch(/INFO\s+hello \S+\s+hello ann/);
  });

  it("shows every attempt and the error with its stack", async () => {
    const [broken] = JSON.parse((await run(["history", "broken", "--json"])).stdout);
    const r = await run(["show", broken.id, "--json"]);
    const d = JSON.parse(r.stdout);
    expect(d.attempts.map((a: { attempt: number; state: string }) => `${a.attempt}:${a.state}`)).toEqual(["1:failure", "2:failure"]);
    expect(d.run.error).toMatchObject({ name: "Error", message: "kaput 2" });
    expect(d.run.error.stack).toMatch(/tasks\/t\.ts:\d+/);
    const text = await run(["show", broken.id]);
    expect(text.stdout).toMatch(/error\s+Error: kaput 2/);
  });

  it("shows the chain from parent to child", async () => {
    const [child] = JSON.parse((await run(["history", "hello", "-n", "1", "--json"])).stdout);
    expect(child.fromRunId).toBeTruthy();
    const r = await run(["show", child.id]);
    expect(r.stdout).toMatch(/chain\n\s+parent \w+ success \(parent\)\n\s+hello \w+ success ← this run/);
  });

  it("prints only the log lines with fluid logs", async () => {
    const r = await run(["logs", helloId]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    expect(r.stdout).toContain("hello ann");
  });

  it("says clearly when a run id is unknown or ambiguous", async () => {
    const unknown = await run(["show", "zzzz"]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/^error: .*zzzz/m);
    expect(unknown.stderr).not.toMatch(/\n\s+at /);
    const ambiguous = await run(["show", ""]);
    expect(ambiguous.exitCode).toBe(2);
  });

  it("disables and enables a task, and fluid run honours it", async () => {
    const off = await run(["disable", "hello", "--reason", "db migration"]);
    expect(off.exitCode).toBe(0);
    expect(off.stderr).toContain("disabled hello (db migration)");
    const refused = await run(["run", "hello", "--who", "x"]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/task "hello" is disabled \(db migration\)/);
    expect(refused.stderr).toMatch(/--force/);
    expect((await run(["run", "hello", "--who", "x", "--force", "--no-record"])).exitCode).toBe(0);
    const listed = JSON.parse((await run(["ls", "--json"])).stdout).find((t: { name: string }) => t.name === "hello");
    expect(listed).toMatchObject({ enabled: false, disabledReason: "db migration" });
    expect((await run(["enable", "hello"])).exitCode).toBe(0);
    expect((await run(["run", "hello", "--who", "x", "--no-record"])).exitCode).toBe(0);
    expect((await run(["disable", "nope"])).exitCode).toBe(2);
  });

  it("shows the last run of each task in fluid ls", async () => {
    const tasks = JSON.parse((await run(["ls", "--json"])).stdout) as Array<{ name: string; lastRun: { state: string } | null }>;
    expect(tasks.find((t) => t.name === "broken")?.lastRun?.state).toBe("failure");
    expect(tasks.find((t) => t.name === "parent")?.lastRun?.state).toBe("success");
  });

  it("does not record with --no-record", async () => {
    const before = JSON.parse((await run(["history", "--json", "-n", "1000"])).stdout).length;
    expect((await run(["run", "hello", "--who", "quiet", "--no-record"])).exitCode).toBe(0);
    expect(JSON.parse((await run(["history", "--json", "-n", "1000"])).stdout)).toHaveLength(before);
  });
});

describe("store problems", () => {
  it("a corrupt store file is a clear error with exit 2 and a hint", async () => {
    const p = tempProject({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS, ".fluid/fluid.db": "this is not a database, just text ".repeat(200) });
    try {
      const r = await fluid(["run", "hello", "--who", "x"], { cwd: p.dir });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/^error: .*fluid\.db/m);
      expect(r.stderr).toMatch(/--no-record/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect((await fluid(["history"], { cwd: p.dir })).exitCode).toBe(2);
      expect((await fluid(["run", "hello", "--who", "x", "--no-record"], { cwd: p.dir })).exitCode).toBe(0);
    } finally {
      p.cleanup();
    }
  });

  it("FLUID_STORE moves the store, and history before any run says so", async () => {
    const p = tempProject({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    try {
      const env = { FLUID_STORE: join(p.dir, "elsewhere", "runs.db") };
      const empty = await fluid(["history"], { cwd: p.dir, env });
      expect(empty.exitCode).toBe(0);
      expect(empty.stderr).toContain("no runs recorded yet");
      expect((await fluid(["run", "hello", "--who", "x"], { cwd: p.dir, env })).exitCode).toBe(0);
      expect(JSON.parse((await fluid(["history", "--json"], { cwd: p.dir, env })).stdout)).toHaveLength(1);
    } finally {
      p.cleanup();
    }
  });
});
