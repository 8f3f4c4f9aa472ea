import { realpathSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadProject, resolveConfig } from "../../src/config/load.js";
import { runTask } from "../../src/consumer/run-task.js";
import type { RunLogLine } from "../../src/task/context.js";
import { commandOf } from "../../src/task/command.js";
import type { Task } from "../../src/task/task.js";
import { useTempProjects } from "../helpers/cli.js";

const project = useTempProjects();
const FILE = "/srv/app/fluid.config.ts";

function commands(value: unknown, more: Record<string, unknown> = {}): Task[] {
  return [...resolveConfig({ tasks: ["./tasks/*.ts"], commands: value, ...more }, FILE).commands];
}
function configError(value: unknown, more: Record<string, unknown> = {}): Error & { code?: string; hint?: string } {
  try {
    commands(value, more);
  } catch (error) {
    return error as Error & { code?: string; hint?: string };
  }
  throw new Error("expected a config error");
}

describe("the config's commands", () => {
  it("become command tasks; a schedule is a cron pattern, an interval, or a schedule object", () => {
    const [a, b, c, d, e] = commands({
      backup: { command: "pg_dump mydb > /backups/db.sql", schedule: "0 3 * * *", timeout: "2h", tags: ["db"], retry: { attempts: 2 } },
      ping: { command: ["curl", "-fsS", "https://example.com"], schedule: "every 5m" },
      short: { command: "true", schedule: "90s" },
      daily: { command: "true", schedule: "@daily", description: "Once a day" },
      plain: { command: "true" },
    });
    expect(a).toMatchObject({ name: "backup", timeoutMs: 7_200_000, tags: ["db"], description: "pg_dump mydb > /backups/db.sql" });
    expect(a!.schedule).toMatchObject({ kind: "cron" });
    expect(a!.retry?.attempts).toBe(2);
    expect(commandOf(b!)).toMatchObject({ command: ["curl", "-fsS", "https://example.com"], shell: false });
    expect(b!.schedule).toMatchObject({ kind: "every", intervalMs: 300_000 });
    expect(c!.schedule).toMatchObject({ kind: "every", intervalMs: 90_000 });
    expect(d).toMatchObject({ description: "Once a day", schedule: { kind: "cron" } });
    expect(e).toMatchObject({ name: "plain", schedule: undefined, timeoutMs: 0 });
  });

  it("need no task module: `tasks` may be left out when there are commands", () => {
    const config = resolveConfig({ commands: { a: { command: "true" } } }, FILE);
    expect(config.tasks).toEqual([]);
    expect(config.commands.map((t) => t.name)).toEqual(["a"]);
    expect(resolveConfig({ tasks: ["./tasks/*.ts"] }, FILE).commands).toEqual([]);
    expect(() => resolveConfig({}, FILE)).toThrow(/`tasks` must be a non-empty array of globs/);
  });

  it("refuses what is not valid, naming the entry and the key", () => {
    expect(configError([]).message).toMatch(/`commands` must be an object: name -> \{ command, schedule, ... \}/);
    expect(configError({ a: "echo" }).message).toMatch(/commands\.a must be an object/);
    expect(configError({ a: { schedule: "@daily" } }).message).toMatch(/commands\.a has no `command`/);
    expect(configError({ a: { command: "" } }).message).toMatch(/commands\.a: the command must be a non-empty command line/);
    const typo = configError({ a: { command: "true", timout: "1h" } });
    expect(typo).toMatchObject({ code: "FLUID_CONFIG", hint: 'did you mean "timeout"?' });
    expect(typo.message).toMatch(/fluid\.config\.ts: commands\.a: unknown option "timout"$/);
    expect(configError({ a: { command: "true", schedule: "61 * * * *" } }).message).toMatch(/commands\.a\.schedule: /);
    expect(configError({ a: { command: "true", schedule: "every soon" } }).message).toMatch(/commands\.a\.schedule: .*soon/);
    expect(configError({ a: { command: "true", schedule: 5 } }).message).toMatch(/commands\.a\.schedule must be a cron pattern or an interval, got 5/);
    expect(configError({ a: { command: "true", timeout: "forever" } }).message).toMatch(/commands\.a: invalid timeout "forever"/);
    expect(configError({ "a b": { command: "true" } }).message).toMatch(/commands\.a b: invalid name "a b"/);
    expect(configError({ a: { command: "true" } }, { comands: {} }).message).toMatch(/unknown key "comands"/);
  });
});

const CONFIG_WITH = (commandsSource: string, more = 'tasks: ["./tasks/*.ts"], '): string =>
  `import { defineConfig, cron } from "fluid-tasks";\nexport default defineConfig({ ${more}timezone: "Europe/Paris", commands: ${commandsSource} });\n`;
const MODULE = `import { task } from "fluid-tasks";\nexport const hello = task({ name: "hello" }, () => "hi");\n`;

describe("loadProject with commands", () => {
  it("registers them beside the modules' tasks, from the config file, in the config's zone, run from the project root", async () => {
    const dir = realpathSync(project({
      "fluid.config.ts": CONFIG_WITH(`{ here: { command: "pwd", schedule: "0 3 * * *" }, zoned: { command: "true", schedule: cron("0 4 * * *", { tz: "UTC" }) } }`),
      "tasks/hello.ts": MODULE,
    }));
    const p = await loadProject({ cwd: join(dir, "tasks") });
    expect(p.registry.list().map((t) => t.name)).toEqual(["hello", "here", "zoned"]);
    expect(p.registry.origin("here")).toEqual({ file: join(dir, "fluid.config.ts"), exportName: "commands.here" });
    expect(p.registry.get("here").schedule?.timezone).toBe("Europe/Paris");
    expect(p.registry.get("zoned").schedule?.timezone).toBe("UTC");
    const logs: RunLogLine[] = [];
    expect((await runTask(p.registry.get("here"), { log: (l) => logs.push(l) })).state).toBe("success");
    expect(logs.map((l) => l.message)).toEqual([dir]); // not the cwd the project was loaded from
  });

  it("a project of commands alone loads no module", async () => {
    const dir = project({ "fluid.config.ts": CONFIG_WITH(`{ a: { command: "true" } }`, "") });
    const p = await loadProject({ cwd: dir });
    expect(p.registry.list().map((t) => t.name)).toEqual(["a"]);
  });

  it("a command named as a module's task is a config error", async () => {
    const dir = project({ "fluid.config.ts": CONFIG_WITH(`{ hello: { command: "true" } }`), "tasks/hello.ts": MODULE });
    await expect(loadProject({ cwd: dir })).rejects.toMatchObject({
      code: "FLUID_CONFIG",
      message: expect.stringMatching(/the command "hello" in `commands` has the name of a task of tasks[/]hello\.ts/),
      hint: expect.stringMatching(/rename one of them/),
    });
    // loading only what reads the store: the clash is listed, the rest is there
    const tolerant = await loadProject({ cwd: dir, tasks: "tolerant" });
    expect(tolerant.registry.has("hello")).toBe(true);
    expect(tolerant.broken?.map((b) => b.error.message)).toEqual([expect.stringMatching(/the command "hello"/)]);
  });

  it("`fluid run <command>` needs no module once the task index is made, and still sees a clash", async () => {
    const dir = project({ "fluid.config.ts": CONFIG_WITH(`{ a: { command: "true" } }`), "tasks/hello.ts": MODULE });
    await loadProject({ cwd: dir }); // makes the task index
    const p = await loadProject({ cwd: dir, task: "a" });
    expect(p.registry.complete).toBe(false);
    expect(p.registry.has("a")).toBe(true);
    expect(p.registry.has("hello")).toBe(false);
    await p.registry.ensure("hello");
    expect(p.registry.has("hello")).toBe(true);
    const one = await loadProject({ cwd: dir, task: "hello" }); // the module's task: the command is there too
    expect(one.registry.has("a")).toBe(true);
  });

  it("a scheduled command whose scheduled runs would miss a required param is a config error", async () => {
    const dir = project({
      "fluid.config.ts": `import { defineConfig } from "fluid-tasks";\nimport { z } from "zod";\nexport default defineConfig({ commands: { a: { command: "true", schedule: "@daily", params: z.object({ db: z.string() }) } } });\n`,
    });
    await expect(loadProject({ cwd: dir })).rejects.toMatchObject({ code: "FLUID_CONFIG", message: expect.stringMatching(/commands\.a is scheduled, but its scheduled runs would have invalid params/) });
  });
});
