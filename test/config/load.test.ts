import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { compileModules } from "../../src/config/compile.js";
import { findConfig } from "../../src/config/find.js";
import { loadProject } from "../../src/config/load.js";
import { CONFIG, fluid, useTempProjects } from "../helpers/cli.js";
import { packageRoot } from "../../src/package-root.js";
import { useTempCodeCache } from "../startup/temp-code-cache.js";

/** Temp projects made by the current test, removed after it. */
const project = useTempProjects();

/** Empty temp directories made by the current test, removed after it. */
const emptyDirs: string[] = [];
afterEach(() => {
  for (const dir of emptyDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** An empty temp directory (no config in it or, normally, above it). */
function emptyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "fluid-empty-"));
  emptyDirs.push(dir);
  return dir;
}

/** The rejection of a promise (fails the test when it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; hint?: string; cause?: unknown }> {
  try {
    await p;
  } catch (error) {
    return error as Error & { code?: string; hint?: string };
  }
  throw new Error("expected a rejection, but the promise resolved");
}

const HELLO = `import { task } from "fluid-tasks";
import { z } from "zod";
export const hello = task({ name: "hello", params: z.object({ who: z.string() }) }, async (ctx) => "hi " + ctx.params.who);
`;

describe("findConfig", () => {
  it("finds fluid.config.ts in the directory itself", () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/hello.ts": HELLO });
    expect(findConfig(dir)).toBe(join(dir, "fluid.config.ts"));
  });

  it("finds the config in a parent directory", () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/hello.ts": HELLO, "a/b/c/.keep": "" });
    expect(findConfig(join(dir, "a", "b", "c"))).toBe(join(dir, "fluid.config.ts"));
  });

  it("prefers fluid.config.ts over fluid.config.js in the same directory", () => {
    const dir = project({ "fluid.config.ts": CONFIG, "fluid.config.js": "export default {}", "tasks/hello.ts": HELLO });
    expect(findConfig(dir)).toBe(join(dir, "fluid.config.ts"));
  });

  it("resolves an explicit path against cwd, and a directory to the config inside it", () => {
    const dir = project({ "conf/fluid.config.ts": CONFIG });
    expect(findConfig(dir, "conf/fluid.config.ts")).toBe(join(dir, "conf", "fluid.config.ts"));
    expect(findConfig(dir, "conf")).toBe(join(dir, "conf", "fluid.config.ts"));
  });

  it("names the directory searched, with a hint, when there is no config", () => {
    const dir = emptyDir();
    let error: (Error & { code?: string; hint?: string }) | undefined;
    try {
      findConfig(dir);
    } catch (e) {
      error = e as Error & { code?: string; hint?: string };
    }
    expect(error?.code).toBe("FLUID_CONFIG");
    expect(error?.message).toContain(dir);
    expect(error?.hint).toMatch(/defineConfig|--config/);
  });

  it("names the missing path of an explicit config", () => {
    const dir = emptyDir();
    expect(() => findConfig(dir, "nope/fluid.config.ts")).toThrow(join(dir, "nope", "fluid.config.ts"));
  });
});

describe("loadProject", () => {
  it("loads the config in cwd and registers its tasks", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/hello.ts": HELLO });
    const p = await loadProject({ cwd: dir, env: {} });
    expect(p.configFile).toBe(join(dir, "fluid.config.ts"));
    expect(p.root).toBe(dir);
    expect(p.registry.list().map((t) => t.name)).toEqual(["hello"]);
    expect(p.registry.origin("hello")).toEqual({ file: join(dir, "tasks", "hello.ts"), exportName: "hello" });
    expect(await p.registry.get("hello").fn({ params: { who: "ann" } } as never)).toBe("hi ann");
    // Defaults are filled in; the store sits next to the config.
    expect(p.config).toMatchObject({ tasks: ["./tasks/*.ts"], timezone: "UTC", concurrency: 10 });
    expect(p.config.store).toMatchObject({ path: join(dir, ".fluid", "fluid.db"), logCap: 1000 });
  });

  it("remembers what the tasks glob matched, and sees a task module added or removed since", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/hello.ts": HELLO });
    const tasks = join(dir, "tasks");
    const globs = join(dir, ".fluid", "cache", "globs.json");
    // A listing is remembered once the directory has not changed for a few seconds.
    expect((await loadProject({ cwd: dir, env: {} })).registry.list().map((t) => t.name)).toEqual(["hello"]);
    expect(existsSync(globs)).toBe(false);
    const past = new Date(Date.now() - 60_000);
    utimesSync(tasks, past, past);
    await loadProject({ cwd: dir, env: {} });
    expect(readFileSync(globs, "utf8")).toContain(join(tasks, "hello.ts"));

    writeFileSync(join(dir, "tasks", "bye.ts"), `import { task } from "fluid-tasks";\nexport const bye = task(async function bye() {});\n`);
    expect((await loadProject({ cwd: dir, env: {} })).registry.list().map((t) => t.name)).toEqual(["bye", "hello"]);
    rmSync(join(dir, "tasks", "hello.ts"));
    expect((await loadProject({ cwd: dir, env: {} })).registry.list().map((t) => t.name)).toEqual(["bye"]);
  });

  it("globs a recursive pattern anew each time (a new file in a subdirectory is found)", async () => {
    const config = `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/**/*.ts"] });\n`;
    const dir = project({ "fluid.config.ts": config, "tasks/a/hello.ts": HELLO });
    expect((await loadProject({ cwd: dir, env: {} })).registry.list().map((t) => t.name)).toEqual(["hello"]);
    writeFileSync(join(dir, "tasks", "a", "bye.ts"), `import { task } from "fluid-tasks";\nexport const bye = task(async function bye() {});\n`);
    expect((await loadProject({ cwd: dir, env: {} })).registry.list().map((t) => t.name)).toEqual(["bye", "hello"]);
  });

  it("loads the config of a parent directory, with task globs relative to the config", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/hello.ts": HELLO, "deep/er/.keep": "" });
    const p = await loadProject({ cwd: join(dir, "deep", "er"), env: {} });
    expect(p.configFile).toBe(join(dir, "fluid.config.ts"));
    expect(p.registry.has("hello")).toBe(true);
  });

  it("loads an explicit --config path, globs relative to that file", async () => {
    const dir = project({
      "conf/other.config.ts": `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["../jobs/*.ts"], timezone: "Europe/London" });\n`,
      "jobs/hello.ts": HELLO,
    });
    const p = await loadProject({ cwd: dir, config: "conf/other.config.ts", env: {} });
    expect(p.configFile).toBe(join(dir, "conf", "other.config.ts"));
    expect(p.root).toBe(join(dir, "conf"));
    expect(p.config.timezone).toBe("Europe/London");
    expect(p.registry.origin("hello")?.file).toBe(join(dir, "jobs", "hello.ts"));
  });

  it("reads FLUID_CONFIG from the env option, and --config wins over it", async () => {
    const dir = project({
      "a.config.ts": `export default { tasks: ["./a/*.ts"] };\n`,
      "b.config.ts": `export default { tasks: ["./b/*.ts"] };\n`,
      "a/hello.ts": HELLO,
      "b/bye.ts": `import { task } from "fluid-tasks";\nexport const bye = task({ name: "bye" }, async () => "bye");\n`,
    });
    const fromEnv = await loadProject({ cwd: dir, env: { FLUID_CONFIG: "a.config.ts" } });
    expect(fromEnv.configFile).toBe(join(dir, "a.config.ts"));
    expect(fromEnv.registry.list().map((t) => t.name)).toEqual(["hello"]);
    const explicit = await loadProject({ cwd: dir, config: "b.config.ts", env: { FLUID_CONFIG: "a.config.ts" } });
    expect(explicit.configFile).toBe(join(dir, "b.config.ts"));
    expect(explicit.registry.list().map((t) => t.name)).toEqual(["bye"]);
  });

  it("fails with FLUID_CONFIG naming the directory, and a hint, when no config exists", async () => {
    const dir = emptyDir();
    const error = await rejection(loadProject({ cwd: dir, env: {} }));
    expect(error.code).toBe("FLUID_CONFIG");
    expect(error.message).toContain(`no fluid.config.ts found in ${dir}`);
    expect(error.hint).toContain("defineConfig");
  });

  it("fails when FLUID_CONFIG names a file that does not exist", async () => {
    const dir = emptyDir();
    const error = await rejection(loadProject({ cwd: dir, env: { FLUID_CONFIG: "missing.config.ts" } }));
    expect(error.code).toBe("FLUID_CONFIG");
    expect(error.message).toContain(join(dir, "missing.config.ts"));
    expect(error.hint).toContain("FLUID_CONFIG");
  });

  it("fails when the config has no default export", async () => {
    const dir = project({ "fluid.config.ts": `export const config = { tasks: ["./tasks/*.ts"] };\n`, "tasks/hello.ts": HELLO });
    const error = await rejection(loadProject({ cwd: dir, env: {} }));
    expect(error.code).toBe("FLUID_CONFIG");
    expect(error.message).toMatch(/fluid\.config\.ts has no default export/);
    expect(error.hint).toContain("export default defineConfig");
  });

  it("rejects an unknown config key with a did-you-mean hint", async () => {
    const dir = project({
      "fluid.config.ts": `export default { tasks: ["./tasks/*.ts"], timezon: "UTC" };\n`,
      "tasks/hello.ts": HELLO,
    });
    const error = await rejection(loadProject({ cwd: dir, env: {} }));
    expect(error.code).toBe("FLUID_CONFIG");
    expect(error.message).toMatch(/fluid\.config\.ts: unknown key "timezon"/);
    expect(error.hint).toBe('did you mean "timezone"?');
  });

  it("rejects an unknown nested key naming its whole path, with a did-you-mean", async () => {
    const cases: Array<[string, string, string]> = [
      ["store: { retention: { dayz: 3 } }", 'unknown key "store.retention.dayz"', 'did you mean "store.retention.days"?'],
      ["store: { pathh: 'x.db' }", 'unknown key "store.pathh"', 'did you mean "store.path"?'],
      ["pool: { sise: 2 }", 'unknown key "pool.sise"', 'did you mean "pool.size"?'],
      ["store: { retention: 30 }", "`store.retention` must be an object ({ days, perTask })", ""],
    ];
    for (const [fragment, message, hint] of cases) {
      const dir = project({ "fluid.config.ts": `export default { tasks: ["./tasks/*.ts"], ${fragment} };\n`, "tasks/hello.ts": HELLO });
      const error = await rejection(loadProject({ cwd: dir, env: {} }));
      expect(error.code).toBe("FLUID_CONFIG");
      expect(error.message).toContain(`fluid.config.ts: ${message}`);
      if (hint) expect(error.hint).toBe(hint);
    }
  });

  it("names the module that throws a non-Error value, among several", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/a.ts": HELLO,
      "tasks/b.ts": `import { task } from "fluid-tasks";\nexport const b = task(async () => 1);\nthrow "not configured";\n`,
    });
    const error = await rejection(loadProject({ cwd: dir, env: {} }));
    expect(error.code).toBe("FLUID_CONFIG");
    expect(error.message).toMatch(/(^|\/)tasks\/b\.ts: it threw "not configured", not an Error$/);
    expect(error.hint).toMatch(/throw an Error/);
  });

  it("with tasks: \"tolerant\", leaves out a broken module and lists it; \"none\" loads no module", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/hello.ts": HELLO,
      "tasks/broken.ts": `import { task } from "fluid-tasks";\nexport const broken = task(async () => { return 1 +; });\n`,
    });
    const tolerant = await loadProject({ cwd: dir, env: {}, tasks: "tolerant" });
    expect(tolerant.registry.list().map((t) => t.name)).toEqual(["hello"]);
    expect(tolerant.broken?.map((b) => b.file)).toEqual([join(dir, "tasks", "broken.ts")]);
    expect(tolerant.broken?.[0]?.error.message).toContain(`broken.ts:2:`);
    const none = await loadProject({ cwd: dir, env: {}, tasks: "none" });
    expect(none.registry.size).toBe(0);
    expect(none.config.store).toBeTruthy();
  });

  it("rejects a tasks glob that matches no file, naming the glob", async () => {
    const dir = project({ "fluid.config.ts": `export default { tasks: ["./jobs/*.ts"] };\n`, "tasks/hello.ts": HELLO });
    const error = await rejection(loadProject({ cwd: dir, env: {} }));
    expect(error.code).toBe("FLUID_CONFIG");
    expect(error.message).toContain('the tasks glob "./jobs/*.ts" matched no file');
    expect(error.message).toContain(dir);
    expect(error.hint).toMatch(/glob/);
  });

  it("reports a syntax error in a task module as file:line:col", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/hello.ts": HELLO,
      "tasks/broken.ts": `import { task } from "fluid-tasks";\n\nexport const broken = task(async () => { return 1 +; });\n`,
    });
    const error = await rejection(loadProject({ cwd: dir, env: {} }));
    expect(error.code).toBe("FLUID_CONFIG");
    // Line 3, column of the ";" after "+" (1-based).
    const col = "export const broken = task(async () => { return 1 +".length + 1;
    expect(error.message).toContain(`tasks${sep}broken.ts:3:${col}: `);
    expect(error.message).toContain("return 1 +;"); // the offending line is quoted
    expect(error.hint).toBeTruthy();
  });

  it("reports a module that throws on import with the file and line of the throw", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/hello.ts": HELLO,
      "tasks/boom.ts": `import { task } from "fluid-tasks";\nexport const ok = task({ name: "ok" }, async () => 1);\nconst value = process.env.NOPE_NOT_SET;\nif (!value) throw new Error("NOPE_NOT_SET is not set");\n`,
    });
    const error = await rejection(loadProject({ cwd: dir, env: {} }));
    expect(error.code).toBe("FLUID_CONFIG");
    expect(error.message).toMatch(new RegExp(`tasks/boom\\.ts:4:\\d+: NOPE_NOT_SET is not set$`));
    expect(error.hint).toBeTruthy();
    expect((error.cause as Error).message).toBe("NOPE_NOT_SET is not set");
  });

  it("reports invalid task options naming the task, the option and the file:line", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/hello.ts": HELLO,
      "tasks/opts.ts": `import { task } from "fluid-tasks";\n\nexport const slow = task(\n  { name: "slow", timeout: "forever" },\n  async () => 1,\n);\n`,
    });
    const error = await rejection(loadProject({ cwd: dir, env: {} }));
    expect(error.code).toBe("FLUID_CONFIG");
    expect((error.cause as { code?: string }).code).toBe("FLUID_TASK_DEFINITION");
    expect(error.message).toMatch(/tasks\/opts\.ts:3:\d+: /);
    expect(error.message).toContain('task "slow"');
    expect(error.message).toContain("timeout");
    expect(error.message).toContain('"forever"');
    expect(error.hint).toMatch(/30s|500ms/); // the duration hint survives the wrapping
  });

  it("suggests the right spelling of an unknown task option", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/opts.ts": `import { task } from "fluid-tasks";\nexport const t = task({ name: "t", timeuot: "5s" }, async () => 1);\n`,
    });
    const error = await rejection(loadProject({ cwd: dir, env: {} }));
    expect(error.message).toMatch(/tasks\/opts\.ts:2:\d+: task "t": unknown option "timeuot"/);
    expect(error.hint).toBe('did you mean "timeout"?');
  });

  it("rejects the same task name in two files, naming both files", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/a.ts": `import { task } from "fluid-tasks";\nexport const first = task({ name: "dup" }, async () => 1);\n`,
      "tasks/b.ts": `import { task } from "fluid-tasks";\nexport const second = task({ name: "dup" }, async () => 2);\n`,
    });
    const error = await rejection(loadProject({ cwd: dir, env: {} }));
    expect(error.code).toBe("FLUID_CONFIG");
    expect(error.message).toContain('duplicate task name "dup"');
    expect(error.message).toContain(`first from tasks${sep}a.ts`);
    expect(error.message).toContain(`second from tasks${sep}b.ts`);
    expect(error.hint).toContain("name");
  });

  it("names a task after its export when neither `name` nor the function gives one", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/nightly_backup.ts": `import { task } from "fluid-tasks";
export const cleanup_tmp = task({ description: "arrow" }, async () => "cleaned");
export default task(async () => "backed up");
`,
    });
    const p = await loadProject({ cwd: dir, env: {} });
    // The default export takes the file's name.
    expect(p.registry.list().map((t) => t.name)).toEqual(["cleanup_tmp", "nightly_backup"]);
    expect(p.registry.origin("nightly_backup")?.exportName).toBe("default");
    expect(await p.registry.get("cleanup_tmp").fn({} as never)).toBe("cleaned");
  });

  it("prefers the `name` option, then the function's name, over the export name", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/names.ts": `import { task } from "fluid-tasks";
export const exported_a = task({ name: "from_option" }, async function from_fn_a() { return 1; });
export const exported_b = task(async function from_fn_b() { return 2; });
`,
    });
    const p = await loadProject({ cwd: dir, env: {} });
    expect(p.registry.list().map((t) => t.name)).toEqual(["from_fn_b", "from_option"]);
  });

  // Regression: esbuild renames a function whose name collides with a top-level name in the
  // bundle (`export const ping = task(async function ping() {...})` became "ping2") unless the
  // bundle keeps names.
  it("keeps the function's name when it equals a top-level name in the bundle", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/ping.ts": `import { task } from "fluid-tasks";\nexport const ping = task(async function ping() { return "pong"; });\n`,
      "tasks/other.ts": `import { task } from "fluid-tasks";\nconst report = 1;\nexport const daily = task(async function report() { return report; });\n`,
    });
    const p = await loadProject({ cwd: dir, env: {} });
    expect(p.registry.list().map((t) => t.name)).toEqual(["ping", "report"]);
  });

  it("registers a task exported twice (and as default) once", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/twice.ts": `import { task } from "fluid-tasks";
export const once = task({ name: "once" }, async () => 1);
export { once as alias };
export default once;
`,
    });
    const p = await loadProject({ cwd: dir, env: {} });
    expect(p.registry.size).toBe(1);
    expect(p.registry.list().map((t) => t.name)).toEqual(["once"]);
  });

  it("registers a task re-exported from a second file once, under its first file", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/a.ts": `import { task } from "fluid-tasks";\nexport const shared = task({ name: "shared" }, async () => 1);\n`,
      "tasks/b.ts": `export { shared } from "./a.ts";\n`,
    });
    const p = await loadProject({ cwd: dir, env: {} });
    expect(p.registry.size).toBe(1);
    expect(p.registry.origin("shared")?.file).toBe(join(dir, "tasks", "a.ts"));
  });

  it("rejects a scheduled task whose required params the schedule does not give", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/sched.ts": `import { every, task } from "fluid-tasks";
import { z } from "zod";
export const sync_region = task(
  { params: z.object({ region: z.string(), dryRun: z.boolean().default(false) }), schedule: every("1h") },
  async () => 1,
);
`,
    });
    const error = await rejection(loadProject({ cwd: dir, env: {} }));
    expect(error.code).toBe("FLUID_CONFIG");
    expect(error.message).toContain(`tasks${sep}sched.ts`);
    expect(error.message).toContain('task "sync_region" is scheduled');
    expect(error.message).toContain("--region: required, but not given");
    expect(error.message).not.toContain("dry"); // only the offending param
    expect(error.hint).toMatch(/every\("1h", \{ params/);
  });

  it("accepts a scheduled task whose params are all optional", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/sched.ts": `import { every, task } from "fluid-tasks";
import { z } from "zod";
export const beat = task({ params: z.object({ region: z.string().default("eu") }), schedule: every("1h") }, async () => 1);
`,
    });
    const p = await loadProject({ cwd: dir, env: {} });
    expect(p.registry.get("beat").schedule).toBeDefined();
  });

  it("gives task modules their own import.meta.url and import.meta.dirname, not the cache's", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/where.ts": `import { task } from "fluid-tasks";
const atLoad = import.meta.url;
export const where = task({ name: "where" }, async () => ({ atLoad, url: import.meta.url, dirname: import.meta.dirname, filename: import.meta.filename }));
`,
    });
    const p = await loadProject({ cwd: dir, env: {} });
    const file = join(dir, "tasks", "where.ts");
    expect(await p.registry.get("where").fn({} as never)).toEqual({
      atLoad: pathToFileURL(file).href,
      url: pathToFileURL(file).href,
      dirname: join(dir, "tasks"),
      filename: file,
    });
  });

  it("bundles a sibling .ts helper a task module imports (with a .ts or a .js specifier)", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "lib/shout.ts": `export function shout(s: string): string { return s.toUpperCase() + "!"; }\n`,
      "lib/whisper.ts": `export const whisper = (s: string): string => s.toLowerCase() + "...";\n`,
      "tasks/loud.ts": `import { task } from "fluid-tasks";
import { shout } from "../lib/shout.ts";
import { whisper } from "../lib/whisper.js";
export const loud = task({ name: "loud" }, async () => [shout("hey"), whisper("HEY")]);
`,
    });
    const p = await loadProject({ cwd: dir, env: {} });
    expect(p.registry.list().map((t) => t.name)).toEqual(["loud"]); // helpers are not task modules
    expect(await p.registry.get("loud").fn({} as never)).toEqual(["HEY!", "hey..."]);
  });

  it("loads a plain .js config (and .js task modules) without compiling", async () => {
    const dir = project({
      "fluid.config.js": `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.js"], concurrency: 3 });\n`,
      "tasks/hello.js": `import { task } from "fluid-tasks";\nexport const hello_js = task({ name: "hello_js" }, async () => "js");\n`,
    });
    const p = await loadProject({ cwd: dir, env: {} });
    expect(p.configFile).toBe(join(dir, "fluid.config.js"));
    expect(p.config.concurrency).toBe(3);
    expect(p.registry.list().map((t) => t.name)).toEqual(["hello_js"]);
    expect(await p.registry.get("hello_js").fn({} as never)).toBe("js");
  });

  it("loads a .js config whose tasks are TypeScript", async () => {
    const dir = project({
      "fluid.config.js": `export default { tasks: ["./tasks/*.ts"] };\n`,
      "tasks/hello.ts": HELLO,
    });
    const p = await loadProject({ cwd: dir, env: {} });
    expect(p.registry.list().map((t) => t.name)).toEqual(["hello"]);
  });

  it("compiles once: loadProject and compileModules share the cache", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/a.ts": HELLO, "tasks/b.ts": HELLO.replaceAll("hello", "bye") });
    await loadProject({ cwd: dir, env: {} });
    const cacheDir = join(dir, ".fluid", "cache");
    const tasks = await compileModules([join(dir, "tasks", "a.ts"), join(dir, "tasks", "b.ts")], cacheDir);
    expect(tasks.cached).toBe(true);
    expect((await compileModules([join(dir, "fluid.config.ts")], cacheDir)).cached).toBe(true);
  });

  // BUG: the compiled bundle always has the same file name for the same entries, and Node
  // caches ES modules by URL, so a second loadProject in the same process imports the old
  // module even though compileModules just rebuilt it (`cached: false`). A long-lived process
  // (a daemon reload, a test, a user's script) keeps running the old task code.
  it("sees an edited task module when loading the project again in the same process", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/a.ts": `import { task } from "fluid-tasks";\nexport const a = task({ name: "a", description: "one" }, async () => 1);\n`,
    });
    expect((await loadProject({ cwd: dir, env: {} })).registry.get("a").description).toBe("one");
    writeFileSync(join(dir, "tasks", "a.ts"), `import { task } from "fluid-tasks";\nexport const a = task({ name: "a", description: "two, longer" }, async () => 2);\n`);
    const again = await loadProject({ cwd: dir, env: {} });
    expect(again.registry.get("a").description).toBe("two, longer");
  });

  it("puts the compile cache under FLUID_CACHE_DIR when set", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/hello.ts": HELLO });
    await loadProject({ cwd: dir, env: { FLUID_CACHE_DIR: "my-cache" } });
    expect(statSync(join(dir, "my-cache")).isDirectory()).toBe(true);
  });
});

describe("compileModules", () => {
  const codeCache = useTempCodeCache();

  it("its source map names only real files, or gives the text of the others (no 'missing source' warnings)", async () => {
    const dir = project({ "tasks/greet.ts": `import { task } from "fluid-tasks";\nimport { z } from "zod";\nexport const greet = task({ params: z.object({ n: z.string() }) }, async () => 1);\n` });
    const compiled = await compileModules([join(dir, "tasks", "greet.ts")], join(dir, ".fluid", "cache"));
    const code = readFileSync(compiled.file, "utf8");
    const base64 = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/.exec(code)?.[1];
    const map = JSON.parse(Buffer.from(base64!, "base64").toString("utf8")) as { sources: string[]; sourcesContent?: Array<string | null> };
    expect(map.sources.length).toBeGreaterThan(1); // the task and the fluid-tasks facade at least
    for (const [i, source] of map.sources.entries()) {
      const real = existsSync(join(dir, ".fluid", "cache", source));
      expect(real || typeof map.sourcesContent?.[i] === "string", source).toBe(true);
    }
    expect(map.sources).toContain("../../tasks/greet.ts");
  });

  it("reuses the cache while no input changed, and recompiles when one did", async () => {
    const dir = project({
      "tasks/greet.ts": `import { task } from "fluid-tasks";\nimport { GREETING } from "../lib/words.ts";\nexport const greet = task({ name: "greet" }, async () => GREETING);\n`,
      "lib/words.ts": `export const GREETING: string = "hello";\n`,
    });
    const cacheDir = join(dir, ".fluid", "cache");
    const entry = join(dir, "tasks", "greet.ts");

    const first = await compileModules([entry], cacheDir);
    expect(first.cached).toBe(false);
    // The user's files, and this package's package.json (the facade of "fluid-tasks" lists its exports).
    expect([...first.inputs].sort()).toEqual([join(dir, "lib", "words.ts"), entry, join(packageRoot().dir, "package.json")].sort());
    const code = readFileSync(first.file, "utf8");
    expect(code).toContain('"hello"');
    // "fluid-tasks" is not imported from node_modules: the bundle takes the loading instance.
    expect(code).not.toMatch(/from\s*"fluid-tasks"/);
    expect(code).toContain('Symbol.for("fluid-tasks.api")');

    const second = await compileModules([entry], cacheDir);
    expect(second).toEqual({ ...first, cached: true });

    // Change the imported helper (not the entry): the cache must notice.
    const words = join(dir, "lib", "words.ts");
    writeFileSync(words, `export const GREETING: string = "good evening";\n`);
    const third = await compileModules([entry], cacheDir);
    expect(third.cached).toBe(false);
    expect(third.file).toBe(first.file);
    expect(readFileSync(third.file, "utf8")).toContain('"good evening"');
    expect((await compileModules([entry], cacheDir)).cached).toBe(true);
  });

  it("makes the zod bundle again when the code cache was cleared but the compile cache is warm", async () => {
    const dir = project({ "tasks/z.ts": `import { z } from "zod";\nexport const schema = z.object({ n: z.number() });\n` });
    const cacheDir = join(dir, ".fluid", "cache");
    const entry = join(dir, "tasks", "z.ts");
    expect((await compileModules([entry], cacheDir)).cached).toBe(false);
    const zodBundles = (): string[] => readdirSync(codeCache()).filter((n) => /^zod-.*\.js$/.test(n));
    expect(zodBundles()).toHaveLength(1);
    rmSync(join(codeCache(), zodBundles()[0]!));
    expect((await compileModules([entry], cacheDir)).cached).toBe(true);
    expect(zodBundles()).toHaveLength(1);
  });

  it("recompiles an edit that keeps the size when the mtime moves", async () => {
    const dir = project({ "tasks/n.ts": `export const N: number = 1;\n` });
    const cacheDir = join(dir, ".fluid", "cache");
    const entry = join(dir, "tasks", "n.ts");
    expect((await compileModules([entry], cacheDir)).cached).toBe(false);
    writeFileSync(entry, `export const N: number = 2;\n`); // same size
    const later = new Date(Date.now() + 5_000);
    utimesSync(entry, later, later);
    const again = await compileModules([entry], cacheDir);
    expect(again.cached).toBe(false);
    expect(readFileSync(again.file, "utf8")).toMatch(/N = 2/);
  });

  it("keeps one cache entry per set of entry files", async () => {
    const dir = project({ "a.ts": `export const a = 1;\n`, "b.ts": `export const b = 2;\n` });
    const cacheDir = join(dir, ".fluid", "cache");
    const a = await compileModules([join(dir, "a.ts")], cacheDir);
    const ab = await compileModules([join(dir, "a.ts"), join(dir, "b.ts")], cacheDir);
    expect(ab.file).not.toBe(a.file);
    expect((await compileModules([join(dir, "a.ts")], cacheDir)).cached).toBe(true);
  });

  it("shows an edited task module on the next `fluid` run (a real process)", async () => {
    const dir = project({
      "fluid.config.ts": CONFIG,
      "tasks/hello.ts": `import { task } from "fluid-tasks";\nexport const hello = task({ name: "hello", description: "first version" }, async () => 1);\n`,
    });
    const before = await fluid(["ls", "--json"], { cwd: dir });
    expect(before.exitCode).toBe(0);
    expect(JSON.parse(before.stdout)[0].description).toBe("first version");
    writeFileSync(
      join(dir, "tasks", "hello.ts"),
      `import { task } from "fluid-tasks";\nexport const hello = task({ name: "hello", description: "second, longer version" }, async () => 1);\n`,
    );
    const after = await fluid(["ls", "--json"], { cwd: dir });
    expect(after.exitCode).toBe(0);
    expect(JSON.parse(after.stdout)[0].description).toBe("second, longer version");
  });
});
