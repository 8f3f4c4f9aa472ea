import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { packageRoot } from "../package-root.js";
import { codeCacheDir, requireCached, WRAPPER } from "./code-cache.js";
import { exportProperties } from "./facade.js";

/**
 * zod, loaded fast. Every task module imports zod, and Node loads its ~100 module files one
 * by one, which is most of what a `fluid run` costs after Node's own start. The first time a
 * zod installation is used, it is bundled into one CommonJS file in the code cache directory;
 * after that it loads from that file through V8's code cache. One instance per installation
 * per process, shared (through a global) by the CLI, the library and the task modules'
 * `import "zod"`. Without a cache directory, or if bundling fails, plain `require`.
 */

export type ZodModule = typeof import("zod");

const LOADER = Symbol.for("fluid-tasks.load-zod");
const instances = new Map<string, ZodModule>();

/** The path of the zod entry `require("zod")` resolves to from `fromDir`, or undefined. */
export function resolveZod(fromDir: string): string | undefined {
  try {
    return createRequire(join(fromDir, "noop.js")).resolve("zod");
  } catch {
    return undefined;
  }
}

/** Loads the zod installation whose CommonJS entry is `entry` (see resolveZod). */
export function loadZod(entry: string): ZodModule {
  let zod = instances.get(entry);
  if (!zod) {
    const cacheDir = codeCacheDir(packageRoot().dir);
    const bundle = cacheDir === undefined ? undefined : bundleOf(entry, cacheDir);
    zod = (bundle ? requireCached(bundle, cacheDir, createRequire(entry)) : createRequire(entry)(entry)) as ZodModule;
    instances.set(entry, zod);
  }
  return zod;
}

// One loader per process even when the CLI bundle and the library are both loaded.
const shared = ((globalThis as Record<symbol, unknown>)[LOADER] ??= loadZod) as typeof loadZod;

let own: ZodModule | undefined;

/** zod as this package resolves it (for the schema of tasks without params). */
export function ownZod(): ZodModule {
  if (own) return own;
  const entry = resolveZod(packageRoot().dir);
  if (!entry) throw new Error("cannot find zod: install it in your project (npm install zod)");
  return (own = shared(entry));
}

/** The source of an ES module that re-exports the zod at `entry` through the shared loader. */
export function zodFacade(entry: string): string {
  return [
    `import { createRequire } from "node:module";`,
    `const entry = ${JSON.stringify(entry)};`,
    `const load = globalThis[Symbol.for("fluid-tasks.load-zod")];`,
    `const zod = load ? load(entry) : createRequire(entry)(entry);`,
    `export default zod.default ?? zod;`,
    exportProperties("zod", Object.keys(shared(entry))),
  ].join("\n");
}

/** Bundles zod's CommonJS entry into one file (once per installation), or undefined on failure. */
function bundleOf(entry: string, cacheDir: string): string | undefined {
  let version = "0";
  try {
    version = (JSON.parse(readFileSync(join(dirname(entry), "package.json"), "utf8")) as { version?: string }).version ?? "0";
  } catch {}
  const file = join(cacheDir, `zod-${version}-${createHash("sha256").update(entry).digest("hex").slice(0, 8)}.js`);
  if (existsSync(file)) return file;
  try {
    const esbuild = createRequire(import.meta.url)("esbuild") as typeof import("esbuild");
    const result = esbuild.buildSync({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: "cjs",
      platform: "node",
      target: "node20",
      minify: true, // less to read at every start
      keepNames: true, // zod names classes in messages from constructor.name
      banner: { js: WRAPPER[0] },
      footer: { js: WRAPPER[1] },
      logLevel: "silent",
    });
    mkdirSync(cacheDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, result.outputFiles[0]!.contents);
    renameSync(tmp, file);
    return file;
  } catch {
    return undefined;
  }
}
