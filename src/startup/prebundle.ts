import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { findPackage, packageRoot, type PackageInfo } from "../package-root.js";
import { codeCacheDir, requireCached, WRAPPER } from "./code-cache.js";
import { removeWithPrefix, writeAtomic } from "../core/files.js";
import { cacheKey } from "../core/hash.js";

/**
 * Dependencies loaded fast. Node loads a package file by file (zod is ~100 files, most of
 * what a `fluid run` costs after Node's own start). The first time an installed package is
 * used, its CommonJS entry is bundled into one file in the code cache directory; after that
 * it loads from that file through V8's code cache (src/startup/code-cache.ts). Bundled from
 * the installed files, so it is always the version installed. One instance per entry per
 * process, shared through a global by the CLI bundle and the library. Without a cache
 * directory, or when bundling fails: plain `require`.
 */

const INSTANCES = Symbol.for("fluid-tasks.prebundled");
const instances = ((globalThis as Record<symbol, unknown>)[INSTANCES] ??= new Map<string, unknown>()) as Map<string, unknown>;

const packages = new Map<string, PackageInfo | undefined>();

/** The package.json fields of the package holding `file`. */
export function packageOf(file: string): PackageInfo | undefined {
  if (!packages.has(file)) packages.set(file, findPackage(dirname(file)));
  return packages.get(file);
}

/** What to leave out of a bundle. */
export interface PrebundleOptions {
  /** Packages the bundle leaves to `require` at run time. */
  external?: string[];
  /**
   * Files of the package (matched on their path) that the bundle replaces by a stand-in
   * requiring the real file from disk on first use: parts few programs touch.
   */
  lazy?: RegExp;
}

/**
 * `require(entry)` (an absolute path to a package's CommonJS entry), through a bundle of it
 * when there is one. A missing bundle is made now, unless it needs `lazy` (esbuild plugins
 * run only in its asynchronous API): buildPrebundle makes those ahead of time.
 */
export function requirePrebundled(entry: string, options: PrebundleOptions = {}): unknown {
  if (instances.has(entry)) return instances.get(entry);
  const cacheDir = codeCacheDir(packageRoot().dir);
  const bundle = cacheDir === undefined ? undefined : bundleFile(entry, cacheDir, options);
  const usable = bundle && (existsSync(bundle.file) || (!options.lazy && writeBundle(bundle, buildSync(entry, options))));
  const require = createRequire(entry);
  const exports = usable ? requireCached(bundle.file, cacheDir, require) : require(entry);
  instances.set(entry, exports);
  return exports;
}

/** Makes the bundle requirePrebundled(entry, options) will load, when it is missing. */
export async function buildPrebundle(entry: string, options: PrebundleOptions = {}): Promise<void> {
  const cacheDir = codeCacheDir(packageRoot().dir);
  const bundle = cacheDir === undefined ? undefined : bundleFile(entry, cacheDir, options);
  if (!bundle || existsSync(bundle.file)) return;
  try {
    const result = await esbuild().build({ ...buildOptions(entry, options), plugins: options.lazy ? [lazyFiles(options.lazy)] : [] });
    writeBundle(bundle, result.outputFiles[0]!.contents);
  } catch {} // no bundle: plain require
}

/** A bundle's path; every bundle of the same entry has a name starting with `entryPrefix`. */
interface BundleFile {
  file: string;
  entryPrefix: string;
}

const bundleFiles = new Map<string, BundleFile>();

/** Where the bundle of `entry` goes; found once per process (the entry is stat'ed). */
function bundleFile(entry: string, cacheDir: string, options: PrebundleOptions): BundleFile {
  const key = JSON.stringify([entry, cacheDir, options.external, options.lazy?.source]);
  let found = bundleFiles.get(key);
  if (!found) bundleFiles.set(key, (found = locateBundle(entry, cacheDir, options)));
  return found;
}

function locateBundle(entry: string, cacheDir: string, { external = [], lazy }: PrebundleOptions): BundleFile {
  const pkg = packageOf(entry);
  const entryPrefix = `${(pkg?.name ?? "dep").replace(/[^\w.-]/g, "_")}-${cacheKey(entry, 8)}-`;
  // The entry's mtime too: a reinstall or a patched package (same version) is bundled anew.
  const { mtimeMs } = statSync(entry);
  const file = join(cacheDir, `${entryPrefix}${pkg?.version ?? "0"}-${cacheKey(JSON.stringify([mtimeMs, external, lazy?.source]), 8)}.js`);
  return { file, entryPrefix };
}

/** esbuild, loaded on first use (it is not on the warm start path). */
export const esbuild = (): typeof import("esbuild") => createRequire(import.meta.url)("esbuild") as typeof import("esbuild");

function buildOptions(entry: string, { external = [] }: PrebundleOptions): import("esbuild").BuildOptions & { write: false } {
  return {
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
  };
}

function buildSync(entry: string, options: PrebundleOptions): Uint8Array | undefined {
  try {
    return esbuild().buildSync(buildOptions(entry, options)).outputFiles[0]!.contents;
  } catch {
    return undefined;
  }
}

/**
 * Writes a bundle atomically; false when it cannot be written. Older bundles of the same
 * entry (another version, an earlier install) and their cached data are removed.
 */
function writeBundle({ file, entryPrefix }: BundleFile, contents: Uint8Array | undefined): boolean {
  if (!contents) return false;
  try {
    writeAtomic(file, contents);
    const name = basename(file);
    removeWithPrefix(dirname(file), entryPrefix, (old) => old.startsWith(name) || old.endsWith(".tmp"));
    return true;
  } catch {
    return false;
  }
}

/**
 * Replaces each file matching `pattern` by a module whose exports load the real file on first
 * access. `__esModule` answers without loading, so TypeScript's `__importStar` keeps the
 * stand-in as it is instead of copying (and so loading) every export.
 */
function lazyFiles(pattern: RegExp): import("esbuild").Plugin {
  return {
    name: "lazy-files",
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.namespace === "lazy") return { path: args.path, external: true }; // the real file
        if (!args.path.startsWith(".")) return undefined;
        const path = join(args.resolveDir, args.path);
        return pattern.test(path) ? { path, namespace: "lazy" } : undefined;
      });
      build.onLoad({ filter: /.*/, namespace: "lazy" }, (args) => ({
        loader: "js",
        contents: [
          `let real;`,
          `const load = () => (real ??= require(${JSON.stringify(args.path)}));`,
          `module.exports = new Proxy({}, {`,
          `  get: (_, key) => (key === "__esModule" ? true : load()[key]),`,
          `  has: (_, key) => key in load(),`,
          `  ownKeys: () => Reflect.ownKeys(load()),`,
          `  getOwnPropertyDescriptor: (_, key) => {`,
          `    const d = Object.getOwnPropertyDescriptor(load(), key);`,
          `    return d && { ...d, configurable: true };`,
          `  },`,
          `});`,
        ].join("\n"),
      }));
    },
  };
}
