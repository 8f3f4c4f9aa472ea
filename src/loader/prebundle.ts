import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { packageRoot } from "../package-root.js";
import { codeCacheDir, requireCached, WRAPPER } from "./code-cache.js";
import { cacheKey } from "./hash.js";

/**
 * Dependencies loaded fast. Node loads a package file by file (zod is ~100 files, most of
 * what a `fluid run` costs after Node's own start). The first time an installed package is
 * used, its CommonJS entry is bundled into one file in the code cache directory; after that
 * it loads from that file through V8's code cache (src/loader/code-cache.ts). Bundled from
 * the installed files, so it is always the version installed. One instance per entry per
 * process, shared through a global by the CLI bundle and the library. Without a cache
 * directory, or when bundling fails: plain `require`.
 */

const INSTANCES = Symbol.for("fluid-tasks.prebundled");
const instances = ((globalThis as Record<symbol, unknown>)[INSTANCES] ??= new Map<string, unknown>()) as Map<string, unknown>;

/** The package.json fields of the package holding `file`. */
export function packageOf(file: string): { dir: string; name: string; version: string } | undefined {
  for (let dir = dirname(file); dirname(dir) !== dir; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
      if (typeof pkg.name === "string") return { dir, name: pkg.name, version: String(pkg.version ?? "0") };
    } catch {}
  }
  return undefined;
}

/**
 * `require(entry)` (an absolute path to a package's CommonJS entry), through a bundle of it
 * when one can be made. `external` names what the bundle leaves to `require` at run time.
 */
export function requirePrebundled(entry: string, external: string[] = []): unknown {
  if (instances.has(entry)) return instances.get(entry);
  const cacheDir = codeCacheDir(packageRoot().dir);
  const bundle = cacheDir === undefined ? undefined : bundleOf(entry, cacheDir, external);
  const require = createRequire(entry);
  const exports = bundle ? requireCached(bundle, cacheDir, require) : require(entry);
  instances.set(entry, exports);
  return exports;
}

function bundleOf(entry: string, cacheDir: string, external: string[]): string | undefined {
  const pkg = packageOf(entry);
  const name = (pkg?.name ?? "dep").replace(/[^\w.-]/g, "_");
  const file = join(cacheDir, `${name}-${pkg?.version ?? "0"}-${cacheKey(entry, 8)}.js`);
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
      external,
      minify: true, // less to read at every start
      keepNames: true, // zod names classes in messages from constructor.name
      banner: { js: WRAPPER[0] },
      footer: { js: WRAPPER[1] },
      logLevel: "silent",
    });
    mkdirSync(cacheDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, result.outputFiles[0]!.contents);
    renameSync(tmp, file); // a concurrent process reads the old state or the whole file
    return file;
  } catch {
    return undefined;
  }
}
