import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";

/**
 * The package as users get it: `npm pack` the repo, install the tarball into a fresh project
 * (no links to this repo), and use the `fluid` bin from there.
 */

const INSTALL_TIMEOUT = 120_000;
let scratch = "";
let app = "";
let packed: { filename: string; files: Array<{ path: string }> };

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "fluid-pack-test-"));
  // --ignore-scripts: `prepare` would rebuild dist/ while other test files run bin/fluid.js from
  // it; the global setup has already built it.
  const pack = await execa("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", scratch], { cwd: ROOT });
  packed = (JSON.parse(pack.stdout) as Array<typeof packed>)[0]!;

  app = join(scratch, "app");
  mkdirSync(join(app, "tasks"), { recursive: true });
  // Pinned to the repo's better-sqlite3, whose compiled addon the install reuses (below).
  const overrides = { "better-sqlite3": sqliteVersion(ROOT) };
  writeFileSync(join(app, "package.json"), JSON.stringify({ type: "module", dependencies: {}, overrides }, null, 2));
  writeFileSync(join(app, "fluid.config.ts"), `import { defineConfig } from "fluid-tasks";\n\nexport default defineConfig({ tasks: ["./tasks/*.ts"] });\n`);
  writeFileSync(
    join(app, "tasks", "hello.ts"),
    `import { task } from "fluid-tasks";
import { z } from "zod";

export const hello = task(
  {
    description: "Says hello from the installed package",
    params: z.object({ who: z.string().describe("who to greet") }),
    tags: ["ci"],
  },
  async (ctx) => {
    ctx.log.info(\`hello \${ctx.params.who}\`);
    return { hello: ctx.params.who };
  },
);
`,
  );
  // --ignore-scripts, then the addon this repo's `npm ci` already compiled: where no prebuilt
  // binary can be downloaded, better-sqlite3's install script compiles SQLite from source, which
  // took over a minute of the suite's two cores. The addon is the same file for the same version
  // on the same Node; `.ci/run` itself checks that the install scripts work from `npm ci`.
  await execa("npm", ["install", join(scratch, packed.filename), "zod@4", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts"], {
    cwd: app,
    timeout: INSTALL_TIMEOUT - 20_000,
  });
  const addon = join("node_modules", "better-sqlite3", "build", "Release", "better_sqlite3.node");
  expect(sqliteVersion(app)).toBe(overrides["better-sqlite3"]);
  mkdirSync(dirname(join(app, addon)), { recursive: true });
  copyFileSync(join(ROOT, addon), join(app, addon));
}, INSTALL_TIMEOUT);

function sqliteVersion(dir: string): string {
  return (JSON.parse(readFileSync(join(dir, "node_modules", "better-sqlite3", "package.json"), "utf8")) as { version: string }).version;
}

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** `npx fluid <args>` in the installed app (never fetching from the registry). */
async function npxFluid(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const r = await execa("npx", ["--no-install", "fluid", ...args], {
    cwd: app,
    reject: false,
    timeout: 60_000,
    env: { NO_COLOR: "1", FLUID_CONFIG: "", FLUID_STORE: "", FLUID_CACHE_DIR: "" },
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe("the packed package", () => {
  it("ships bin and dist, every entry point package.json names, and no sources or tests", () => {
    const files = new Set(packed.files.map((f) => f.path));
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      main: string; types: string; bin: Record<string, string>; exports: Record<string, Record<string, string> | string>;
    };
    const entryPoints = [pkg.main, pkg.types, ...Object.values(pkg.bin)];
    for (const value of Object.values(pkg.exports)) entryPoints.push(...(typeof value === "string" ? [value] : Object.values(value)));
    for (const entry of entryPoints) expect(files, entry).toContain(entry.replace(/^\.\//, ""));
    expect(files).toContain("dist/cli/bundle.js");
    expect(files).toContain("dist/cli/boot.js");
    // The dashboard's static files, served by `fluid serve --http` from the installed package.
    for (const asset of ["index.html", "app.js", "style.css"]) expect(files).toContain(`dist/http/dashboard/${asset}`);
    expect([...files].filter((f) => /^(src|test|tasks|bench)\//.test(f))).toEqual([]);
    expect([...files].filter((f) => f.startsWith(".fluid/") || f.endsWith(".tgz"))).toEqual([]);
  });

  it("installs as a real copy, with the fluid bin linked", () => {
    expect(lstatSync(join(app, "node_modules", "fluid-tasks")).isSymbolicLink()).toBe(false);
    expect(existsSync(join(app, "node_modules", ".bin", "fluid"))).toBe(true);
    const deps = (JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies;
    expect(Object.keys(deps).sort()).toEqual(["fluid-tasks", "zod"]);
  });

  it("npx fluid run hello --who ci: exit 0, the log and the result", async () => {
    const r = await npxFluid(["run", "hello", "--who", "ci"]);
    expect(r.stderr).toContain("hello ci");
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ hello: "ci" });
    expect(r.stderr).toMatch(/hello [0-9a-f]{20} success/);
  });

  it("npx fluid run hello --json: one JSON object", async () => {
    const r = await npxFluid(["run", "hello", "--who", "json", "--json"]);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ task: "hello", state: "success", params: { who: "json" }, result: { hello: "json" } });
  });

  it("npx fluid run hello without --who: exit 2 naming the flag", async () => {
    const r = await npxFluid(["run", "hello"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--who: required, but not given");
  });

  it("npx fluid ls: lists the app's task", async () => {
    const r = await npxFluid(["ls"]);
    expect(r.exitCode).toBe(0);
    const [header, ...rows] = r.stdout.split("\n").filter((l) => l.trim() !== "");
    expect(header).toMatch(/^NAME\s/);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatch(/^hello\s.*\bci\s+Says hello from the installed package$/);
    const json = await npxFluid(["ls", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject([{ name: "hello", tags: ["ci"], file: join(app, "tasks", "hello.ts") }]);
  });

  it("npx fluid --version matches package.json", async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const r = await npxFluid(["--version"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });
});
