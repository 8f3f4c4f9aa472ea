import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { runTask } from "../../src/consumer/run-task.js";
import { RunCancelledError } from "../../src/core/errors.js";
import type { RunLogLine } from "../../src/task/context.js";
import { bindCommandRoot, command, commandEnv, commandOf, paramVariable } from "../../src/task/command.js";
import { DEFAULT_TIMEOUT_MS, task } from "../../src/task/task.js";
import { cron } from "../../src/schedule/cron.js";
import { waitUntil } from "../executor/fixture.js";
import { killMarked, markedProcesses, uniqueMark } from "../helpers/marked-processes.js";

const lines = (logs: RunLogLine[]): string[] => logs.map((l) => `${l.level}: ${l.message}`);

const dirs: string[] = [];
const marks: string[] = [];
afterEach(() => {
  for (const m of marks.splice(0)) killMarked("FLUID_TEST_MARK", m);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = (): string => {
  const d = realpathSync(mkdtempSync(join(tmpdir(), "fluid-command-")));
  dirs.push(d);
  return d;
};
const mark = (): string => {
  const m = uniqueMark();
  marks.push(m);
  return m;
};

describe("command(): the definition", () => {
  it("is a task: every task option applies, the timeout defaults to none, the description to the command", () => {
    const t = command("backup", "pg_dump mydb > /backups/db.sql", {
      schedule: cron("0 3 * * *"), retry: { attempts: 3, delay: "5m" }, overlap: "queue", catchUp: "latest",
      maxConcurrency: 1, tags: ["db"], priority: "high",
    });
    expect(t).toMatchObject({
      name: "backup", timeoutMs: 0, description: "pg_dump mydb > /backups/db.sql", tags: ["db"], overlap: "queue",
      catchUp: { mode: "latest" }, maxConcurrency: 1, priority: "high", cpuBound: false,
    });
    expect(t.retry).toMatchObject({ attempts: 3, delayMs: 300_000 });
    expect(t.schedule?.kind).toBe("cron");
    // only the timeout differs from task()'s defaults
    expect(task({ name: "x" }, () => {}).timeoutMs).toBe(DEFAULT_TIMEOUT_MS);
    expect(command("b", "true", { timeout: "2h", description: "Nightly backup" })).toMatchObject({ timeoutMs: 7_200_000, description: "Nightly backup" });
    expect(commandOf(t)).toMatchObject({ command: "pg_dump mydb > /backups/db.sql", shell: "/bin/sh" });
    expect(commandOf(task({ name: "x" }, () => {}))).toBeUndefined();
  });

  it("from the public API, is a task handle (`.queue`, `.queueAndWait`) typed from its params", async () => {
    const { command: publicCommand } = await import("../../src/index.js");
    const t = publicCommand("typed", "true", { params: z.object({ db: z.string() }) });
    expect(typeof t.queue).toBe("function");
    expect(typeof t.queueAndWait).toBe("function");
    const typed = (): Promise<string> => t.queue({ db: "x" }); // type-checked, never called: { db: string } is required
    expect(typeof typed).toBe("function");
  });

  it("shows an argv array quoted as a shell would read it back", () => {
    expect(command("a", ["rsync", "-a", "my files/", "host:/backup"]).description).toBe("rsync -a 'my files/' host:/backup");
    expect(commandOf(command("a", ["ls"]))).toMatchObject({ shell: false });
  });

  it("refuses invalid definitions, naming the command and the option", () => {
    expect(() => command("a", "")).toThrow(/command "a": the command must be a non-empty command line or an array/);
    expect(() => command("a", [])).toThrow(/non-empty command line or an array/);
    expect(() => command("a", ["ls", 3 as unknown as string])).toThrow(/array of strings/);
    expect(() => command("a", "ls", { timout: "1s" } as never)).toThrow(/command "a": unknown option "timout"/);
    try {
      command("a", "ls", { timout: "1s" } as never);
    } catch (error) {
      expect((error as { hint?: string }).hint).toBe('did you mean "timeout"?');
      expect((error as { code?: string }).code).toBe("FLUID_TASK_DEFINITION");
    }
    expect(() => command("a", "ls", { name: "b" } as never)).toThrow(/the name is the first argument/);
    expect(() => command("a", "ls", { shell: false })).toThrow(/a command line needs a shell/);
    expect(() => command("a", ["ls"], { shell: "/bin/bash" })).toThrow(/an argv array runs without a shell/);
    expect(() => command("a", "ls", { shell: "" })).toThrow(/shell must be the path of a shell or false/);
    expect(() => command("a", "ls", { env: { A: 1 as unknown as string } })).toThrow(/env must be an object of string values/);
    expect(() => command("a", "ls", { cwd: "" })).toThrow(/cwd must be a non-empty path/);
    expect(() => command("a", "ls", { killGrace: "soon" })).toThrow(/invalid killGrace "soon"/);
    expect(() => command("a", "ls", { input: 3 as unknown as string })).toThrow(/input must be a string/);
    expect(() => command("a b", "ls")).toThrow(/invalid name "a b"/);
    expect(() => command("a", "ls", { params: z.object({ maxCount: z.number(), max_count: z.number() }) })).toThrow(
      /the params "maxCount" and "max_count" would both be FLUID_PARAM_MAX_COUNT/,
    );
  });
});

describe("the environment of a command run", () => {
  it("names a param's variable as `fluid run` reads it, and gives values as text", () => {
    expect(paramVariable("maxCount")).toBe("FLUID_PARAM_MAX_COUNT");
    expect(paramVariable("dry_run")).toBe("FLUID_PARAM_DRY_RUN");
    const names = new Map([["a", "FLUID_PARAM_A"], ["gone", "FLUID_PARAM_GONE"]]);
    expect(commandEnv({ a: 1, b: true, when: new Date(0), list: ["x", 2], s: "$(x)" }, names)).toEqual({
      FLUID_PARAM_A: "1", FLUID_PARAM_GONE: undefined, FLUID_PARAM_B: "true", FLUID_PARAM_WHEN: "1970-01-01T00:00:00.000Z",
      FLUID_PARAM_LIST: '["x",2]', FLUID_PARAM_S: "$(x)",
      FLUID_PARAMS: '{"a":1,"b":true,"when":"1970-01-01T00:00:00.000Z","list":["x",2],"s":"$(x)"}',
    });
  });
});

describe("a command run", () => {
  it("succeeds with { exitCode: 0 }, its stdout and stderr lines in the run's log", async () => {
    const logs: RunLogLine[] = [];
    const t = command("hello", 'echo "one"; echo "two" >&2; printf "no newline"');
    const r = await runTask(t, { log: (l) => logs.push(l) });
    expect(r).toMatchObject({ state: "success", result: { exitCode: 0 } });
    expect(logs).toHaveLength(3);
    expect(lines(logs)).toEqual(expect.arrayContaining(["stdout: one", "stderr: two", "stdout: no newline"]));
    expect(logs.every((l) => l.task === "hello" && l.runId === r.id)).toBe(true);
  });

  it("fails on a non-zero exit: the exit code recorded, the last 10 stderr lines in the message", async () => {
    const script = 'echo working; for i in $(seq 1 15); do echo "err $i" >&2; done; exit 3';
    const r = await runTask(command("bad", script));
    expect(r.state).toBe("failure");
    expect(r.error).toMatchObject({ name: "ExecError", code: "FLUID_EXEC", childExitCode: 3 });
    expect(r.error!.message).toContain(`command "${script}" exited with code 3`);
    const quoted = r.error!.message.split("last lines on stderr:\n")[1]!.split("\n");
    expect(quoted).toEqual(Array.from({ length: 10 }, (_, i) => `  err ${i + 6}`));
    expect(r.error!.stack).toBeUndefined(); // fluid's frames are noise for a command
  });

  it("fails when the command is killed by a signal, and when its shell cannot find the program", async () => {
    const killed = await runTask(command("killed", "kill -TERM $$"));
    expect(killed.error).toMatchObject({ code: "FLUID_EXEC", childSignal: "SIGTERM" });
    expect(killed.error!.message).toContain("was killed by SIGTERM");
    const missing = await runTask(command("missing", "no-such-program-fluid --flag"));
    expect(missing.error).toMatchObject({ code: "FLUID_EXEC", childExitCode: 127 });
    expect(missing.error!.message).toMatch(/no-such-program-fluid: .*not found/);
    const noArgv = await runTask(command("noargv", ["no-such-program-fluid"]));
    expect(noArgv.error!.message).toMatch(/could not be started: .*ENOENT/);
  });

  it("runs an argv array without a shell: its words stay literal", async () => {
    const dir = tempDir();
    const logs: RunLogLine[] = [];
    const r = await runTask(command("argv", ["printf", "%s|", "$(touch pwned)", "a b", "*"], { cwd: dir }), { log: (l) => logs.push(l) });
    expect(r.state).toBe("success");
    expect(lines(logs)).toEqual(["stdout: $(touch pwned)|a b|*|"]);
    expect(existsSync(join(dir, "pwned"))).toBe(false);
  });

  it("gives params only as environment variables: a value of $(touch pwned) stays a literal string", async () => {
    const dir = tempDir();
    const logs: RunLogLine[] = [];
    const t = command("greet", 'echo "name=$FLUID_PARAM_NAME count=$FLUID_PARAM_MAX_COUNT"; echo "$FLUID_PARAMS"; echo "$FLUID_TASK $FLUID_ATTEMPT $FLUID_RUN_ID"', {
      cwd: dir,
      params: z.object({ name: z.string(), maxCount: z.number().default(2), note: z.string().optional() }),
    });
    const r = await runTask(t, { params: { name: "$(touch pwned)`touch pwned2`;touch pwned3" }, log: (l) => logs.push(l) });
    expect(r.state).toBe("success");
    expect(lines(logs)).toEqual([
      "stdout: name=$(touch pwned)`touch pwned2`;touch pwned3 count=2",
      'stdout: {"name":"$(touch pwned)`touch pwned2`;touch pwned3","maxCount":2}',
      `stdout: greet 1 ${r.id}`,
    ]);
    for (const f of ["pwned", "pwned2", "pwned3"]) expect(existsSync(join(dir, f))).toBe(false);
  });

  it("removes an inherited variable of a param the run does not have", async () => {
    process.env.FLUID_PARAM_NOTE = "inherited";
    try {
      const logs: RunLogLine[] = [];
      const t = command("opt", 'echo "note=${FLUID_PARAM_NOTE-unset}"', { params: z.object({ note: z.string().optional() }) });
      await runTask(t, { log: (l) => logs.push(l) });
      expect(lines(logs)).toEqual(["stdout: note=unset"]);
    } finally {
      delete process.env.FLUID_PARAM_NOTE;
    }
  });

  it("takes env (over this process's own), cwd (relative to the project root), input and another shell", async () => {
    const root = tempDir();
    mkdirSync(join(root, "work"));
    process.env.FLUID_TEST_INHERITED = "from fluid";
    try {
      const logs: RunLogLine[] = [];
      const t = command("io", 'echo "$GREETING $FLUID_TEST_INHERITED"; pwd; tr a-z A-Z; echo "$BASH_VERSION" | cut -c1', {
        env: { GREETING: "hi", FLUID_RUN_ID: "not this" }, cwd: "work", input: "shout\n", shell: "/bin/bash",
      });
      bindCommandRoot(t, root);
      const r = await runTask(t, { log: (l) => logs.push(l) });
      expect(r.state).toBe("success");
      expect(lines(logs)).toEqual(["stdout: hi from fluid", `stdout: ${join(root, "work")}`, "stdout: SHOUT", expect.stringMatching(/^stdout: \d$/)]);
      // the default cwd is the project root; an absolute cwd is taken as it is
      const at = command("at", "pwd");
      bindCommandRoot(at, root);
      const logs2: RunLogLine[] = [];
      await runTask(at, { log: (l) => logs2.push(l) });
      await runTask(command("abs", "pwd", { cwd: "/" }), { log: (l) => logs2.push(l) });
      expect(lines(logs2)).toEqual([`stdout: ${root}`, "stdout: /"]);
    } finally {
      delete process.env.FLUID_TEST_INHERITED;
    }
  });

  it("fails with the reason when its cwd does not exist", async () => {
    const r = await runTask(command("nowhere", "true", { cwd: "/no/such/dir/fluid" }));
    expect(r.error).toMatchObject({ code: "FLUID_EXEC" });
    expect((r.error as { hint?: string }).hint).toMatch(/cwd/);
  });

  it("is retried by the task's retry policy, FLUID_ATTEMPT counting the attempts", async () => {
    const logs: RunLogLine[] = [];
    const t = command("flaky", 'echo "attempt $FLUID_ATTEMPT"; [ "$FLUID_ATTEMPT" -ge 2 ]', { retry: { attempts: 3, delay: 10 } });
    const r = await runTask(t, { log: (l) => logs.push(l) });
    expect(r).toMatchObject({ state: "success", attempts: 2 });
    expect(lines(logs).filter((l) => l.startsWith("stdout"))).toEqual(["stdout: attempt 1", "stdout: attempt 2"]);
  });

  it("retryOn sees the command's exit code", async () => {
    const logs: RunLogLine[] = [];
    const retryOn = (error: Error): boolean => (error as { childExitCode?: number }).childExitCode === 75; // EX_TEMPFAIL
    const t = command("tempfail", 'echo "attempt $FLUID_ATTEMPT"; [ "$FLUID_ATTEMPT" -ge 2 ] && exit 1; exit 75', { retry: { attempts: 5, delay: 10, retryOn } });
    const r = await runTask(t, { log: (l) => logs.push(l) });
    expect(r).toMatchObject({ state: "failure", attempts: 2, error: { childExitCode: 1 } });
  });

  it("at its timeout: the whole group is killed, a pipeline with background children too, and nothing is left", async () => {
    const m = mark();
    const t = command("pipeline", "sleep 100 & sleep 101 | cat; wait", { timeout: "1s", killGrace: "300ms", env: { FLUID_TEST_MARK: m } });
    const started = Date.now();
    const running = runTask(t);
    await waitUntil(() => markedProcesses("FLUID_TEST_MARK", m).length >= 4, 10_000, "sh, two sleeps and cat to start");
    const r = await running;
    expect(r.state).toBe("timeout");
    await waitUntil(() => markedProcesses("FLUID_TEST_MARK", m).length === 0, 10_000, "no process of the command left");
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it("a command that ignores SIGTERM gets SIGKILL after killGrace, with its children", async () => {
    const m = mark();
    const t = command("stubborn", "trap '' TERM; sleep 100 & sleep 101; wait", { timeout: 500, killGrace: 300, env: { FLUID_TEST_MARK: m } });
    const running = runTask(t);
    await waitUntil(() => markedProcesses("FLUID_TEST_MARK", m).length >= 3, 10_000, "the command to start");
    expect((await running).state).toBe("timeout");
    await waitUntil(() => markedProcesses("FLUID_TEST_MARK", m).length === 0, 10_000, "no process of the command left");
  });

  it("a cancel kills the whole tree and the run ends cancelled", async () => {
    const m = mark();
    const controller = new AbortController();
    const running = runTask(command("cancelme", "sleep 100 & setsid sleep 102 & sleep 101", { env: { FLUID_TEST_MARK: m } }), { signal: controller.signal });
    await waitUntil(() => markedProcesses("FLUID_TEST_MARK", m).length >= 4, 10_000, "the command to start");
    controller.abort(new RunCancelledError("cancelled by request"));
    expect((await running).state).toBe("cancelled");
    await waitUntil(() => markedProcesses("FLUID_TEST_MARK", m).length === 0, 10_000, "no process of the command left");
  });
});
