import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import vm from "node:vm";
import { removeWithPrefix, writeAtomic } from "../core/files.js";
import { cacheKey } from "../core/hash.js";

/**
 * Loads CommonJS files through V8's code cache. Node 20 has no compile cache for modules
 * (`module.enableCompileCache` is Node 22), so every start parses and compiles the CLI and
 * zod again; this loader compiles a file with `vm.Script` and the cached data V8 produced
 * on an earlier run, which skips parsing and compiling the functions that ran then.
 * The cache is written once, at process exit, when there was none or V8 rejected it (another
 * Node version, other V8 flags, a changed file). Any failure to read or write it only costs
 * speed; `FLUID_CODE_CACHE=0` turns it off.
 */

type Require = (id: string) => unknown;

/** Where cached data and pre-bundled dependencies go, or undefined when caching is off. */
export function codeCacheDir(packageDir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.FLUID_CODE_CACHE === "0") return undefined;
  if (env.FLUID_CODE_CACHE) return env.FLUID_CODE_CACHE;
  // The node_modules/.cache convention: beside the package when it is installed, else under
  // the package's own node_modules (a checkout of this repository).
  const parent = dirname(packageDir);
  const modules = basename(parent) === "node_modules" ? parent : join(packageDir, "node_modules");
  return join(modules, ".cache", "fluid-tasks");
}

/** The key of a file's cached data: its identity and the runtime that compiled it. */
function cacheFileFor(file: string, cacheDir: string): { path: string; prefix: string } {
  const st = statSync(file);
  const prefix = `${basename(file)}-${cacheKey(file, 8)}-`;
  const key = cacheKey(JSON.stringify([st.size, st.mtimeMs, process.version, process.arch]), 12);
  return { path: join(cacheDir, `${prefix}${key}.v8`), prefix };
}

/**
 * One state per process, kept on a global: dist/cli/boot.js and the CLI bundle it loads each
 * hold a copy of this module, and the daemon's early flush (from the bundle) must also write
 * the data of the bundle itself (registered by boot.js).
 */
const shared = ((globalThis as Record<symbol, unknown>)[Symbol.for("fluid-tasks.code-cache")] ??= {
  pending: [],
  log: [],
}) as { pending: Array<() => void>; log: Array<{ file: string; cache: "off" | "miss" | "hit" | "rejected" }> };
const pending = shared.pending;

/** How each file requireCached ran in this process used the cache (for tests and diagnostics). */
export const codeCacheLog = shared.log;

/** The first and last lines of a file requireCached runs: the shape of Node's module wrapper. */
export const WRAPPER = ["(function (exports, require, module, __filename, __dirname) {", "\n})"] as const;

/**
 * Runs `file` as a CommonJS module with `require` and returns its exports. The file holds the
 * module already wrapped (WRAPPER), written so by the build or by the zod loader: a wrapper
 * added here would copy the whole source on every start. With a cache directory, compiles it
 * with the cached data found there and arranges to write fresh data at exit when there was none.
 */
export function requireCached(file: string, cacheDir: string | undefined, require: Require = createRequire(file)): unknown {
  const source = readFileSync(file, "utf8");
  const cache = cacheDir === undefined ? undefined : cacheFileFor(file, cacheDir);
  let cachedData: Buffer | undefined;
  if (cache) {
    try {
      cachedData = readFileSync(cache.path);
    } catch {} // no cache yet (or unreadable): compile without it, and write one at exit
  }
  // No `import()` works inside: the file imports through src/core/dynamic-import.ts.
  const script = new vm.Script(source, { filename: file, cachedData });
  const module = { exports: {} as unknown };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, require, module, file, dirname(file));
  const status = !cache ? "off" : cachedData === undefined ? "miss" : script.cachedDataRejected ? "rejected" : "hit";
  codeCacheLog.push({ file, cache: status });
  if (cache && (status === "miss" || status === "rejected")) {
    // At exit by default, so the data also holds the functions the command compiled lazily.
    if (pending.length === 0) process.once("exit", flushCodeCache);
    pending.push(() => writeCache(cache.path, cache.prefix, () => script.createCachedData()));
  }
  return module.exports;
}

/** Writes the cached data still to be written now. */
export function flushCodeCache(): void {
  for (const write of pending.splice(0)) write();
}

/**
 * Writes none of the cached data still to be written (`fluid serve` does once it has started).
 * The data holds every function the process compiled, and every later start reads it whole: a
 * daemon's was 2 MB against 0.4 MB for `fluid run`, and cost each later `fluid run` ~25 ms.
 * A daemon starts rarely; the cache is left to the commands that start often.
 */
export function discardCodeCache(): void {
  pending.length = 0;
}

function writeCache(path: string, prefix: string, data: () => Buffer): void {
  try {
    // Older data for the same file (another version of it or of Node) is garbage now.
    const dir = dirname(path);
    const name = basename(path);
    writeAtomic(path, data());
    removeWithPrefix(dir, prefix, (old) => old === name || old.endsWith(".tmp"));
  } catch {
    // A read-only install or a full disk: the next start compiles again, nothing else changes.
  }
}
