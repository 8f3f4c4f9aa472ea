import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { readFile } from "node:fs/promises";
import { extname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ConfigError } from "../core/errors.js";
import { packageRoot } from "../package-root.js";
import { prepareZod, resolveZod, zodFacade } from "../startup/zod.js";
import { exportProperties } from "../core/facade.js";
import { importModule } from "../core/dynamic-import.js";
import { writeAtomic } from "../core/files.js";
import { cacheKey } from "../core/hash.js";
import { esbuild as loadEsbuild } from "../startup/prebundle.js";
import { registerCompiled } from "../startup/stack-map.js";
import { publishedApi } from "./public-api.js";

/** Bump when the shape of compiled output changes, so old cache entries are not reused. */
const CACHE_FORMAT = 8;

interface Manifest {
  format: number;
  inputs: Array<[path: string, mtimeMs: number, size: number]>;
  /** The zod installations the output loads (src/startup/zod.ts). */
  zod: string[];
  /** Tells one compilation from the next (saveTaskIndex writes only into the one it read). */
  build: string;
  /** The task index: task name -> position of the entry that defines it (saveTaskIndex). */
  tasks?: Record<string, number>;
}

/** One compiled set of modules: the file to import and the source files it was built from. */
export interface Compiled {
  file: string;
  inputs: string[];
  /** True when the cache was reused (no compilation happened). */
  cached: boolean;
  /** Which compilation the file is (for saveTaskIndex). */
  build: string;
  /** True when a task index is saved with it (see saveTaskIndex). */
  indexed?: boolean;
}

/** Options of `compileModules`. */
export interface CompileOptions {
  /**
   * When the entries must be compiled, also compile each one on its own, in the same esbuild
   * run, into the cache entry `compileModules([entry])` reads: a later start that needs one
   * module (the task index says which) then finds it compiled. Default false.
   */
  each?: boolean;
}

/**
 * Compiles TypeScript entry modules (and the local files they import) into one ESM file under
 * `cacheDir`, and returns its path. Packages stay external and are resolved by Node from the
 * project, except two that every task module imports: `fluid-tasks` becomes the instance
 * loading the project (published by `loadProject`) and `zod` the shared zod of
 * src/startup/zod.ts. The result is reused while no input file changed (checked by mtime and
 * size), so a warm start does no compilation at all and never loads esbuild.
 * The output exports the namespace of entry i as `m<i>`.
 */
export async function compileModules(entries: string[], cacheDir: string, options: CompileOptions = {}): Promise<Compiled> {
  compiling++;
  try {
    return await compile(entries, cacheDir, options);
  } finally {
    if (--compiling === 0) stopEsbuild();
  }
}

/** compileModules calls under way in this process. */
let compiling = 0;

/**
 * Stops esbuild's service process, and the worker thread (with a service process of its own)
 * behind its sync API, when esbuild was loaded and no compile is under way: a daemon would
 * otherwise keep them (43 MB, and a ping each second) for its whole life. compileModules calls
 * it when it ends; a daemon calls it once started (start-up may also have pre-bundled a
 * package with esbuild's sync API). esbuild starts them again if it is used again.
 */
export function stopEsbuild(): void {
  if (compiling > 0) return;
  const require = createRequire(import.meta.url);
  // Resolving "esbuild" costs a start milliseconds: first see whether any esbuild was loaded.
  if (!Object.keys(require.cache).some((file) => /[\\/]esbuild[\\/]/.test(file))) return;
  let loaded: typeof import("esbuild") | undefined;
  try {
    loaded = require.cache[require.resolve("esbuild")]?.exports as typeof import("esbuild") | undefined;
  } catch {
    return; // not installed: nothing was started
  }
  void loaded?.stop().catch(() => {}); // its service is gone already: nothing to stop
}

/** The cache files of one set of entries. */
function cacheFiles(entries: string[], cacheDir: string): { file: string; manifestFile: string } {
  const key = cacheKey(JSON.stringify([CACHE_FORMAT, entries]));
  return { file: join(cacheDir, `${key}.mjs`), manifestFile: join(cacheDir, `${key}.json`) };
}

async function compile(entries: string[], cacheDir: string, options: CompileOptions): Promise<Compiled> {
  const { file, manifestFile } = cacheFiles(entries, cacheDir);
  const fresh = readFresh(manifestFile);
  if (fresh) {
    // Their bundles live in another cache, which may have been cleared since: made again then.
    await Promise.all(fresh.zod.map((entry) => prepareZod(entry)));
    return { file, inputs: fresh.inputs.map(([p]) => p), cached: true, build: fresh.build, ...(fresh.tasks ? { indexed: true } : {}) };
  }

  const groups = options.each && entries.length > 1 ? [entries, ...entries.map((e) => [e])] : [entries];
  const outputs = await bundle(groups, cacheDir);
  const build = `${Date.now().toString(36)}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    // The single modules first: a fresh manifest of the set then means they were written too.
    for (let i = groups.length - 1; i >= 0; i--) {
      const { code, inputs, zod } = outputs[i]!;
      const target = cacheFiles(groups[i]!, cacheDir);
      const manifest: Manifest = { format: CACHE_FORMAT, inputs: inputs.map((p) => stamp(p)), zod, build };
      // Atomic, so a concurrent `fluid` process never imports a half-written file.
      writeAtomic(target.file, code);
      writeAtomic(target.manifestFile, JSON.stringify(manifest));
    }
  } catch (error) {
    throw new ConfigError(`cannot write the compile cache in ${cacheDir}: ${(error as Error).message}`, {
      cause: error,
      hint: "make the directory writable, or point FLUID_CACHE_DIR at a writable directory inside the project",
    });
  }
  return { file, inputs: outputs[0]!.inputs, cached: false, build };
}

/**
 * The task index saved with the compiled `entries` (task name -> the entry that defines it),
 * while none of their input files changed since (the manifest's mtime and size check);
 * otherwise undefined. Reads no module and starts no compiler.
 */
export function readTaskIndex(entries: string[], cacheDir: string): Record<string, string> | undefined {
  const tasks = readFresh(cacheFiles(entries, cacheDir).manifestFile)?.tasks;
  if (typeof tasks !== "object" || tasks === null) return undefined;
  const index: Record<string, string> = {};
  for (const [name, i] of Object.entries(tasks)) {
    if (entries[i] === undefined) return undefined;
    index[name] = entries[i];
  }
  return index;
}

/**
 * Saves the task index of `entries` with their compiled file, once every module was loaded
 * and checked (so names are unique). Only into the compilation `compiled` came from: when a
 * concurrent process compiled again meanwhile, its manifest is left as it is. Only a cache:
 * a failure to write is ignored (the next start loads every module again).
 */
export function saveTaskIndex(entries: string[], cacheDir: string, compiled: Compiled, tasks: Record<string, string>): void {
  const { manifestFile } = cacheFiles(entries, cacheDir);
  try {
    const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as Manifest;
    if (manifest.build !== compiled.build) return;
    const position = new Map(entries.map((e, i) => [e, i]));
    const byPosition: Record<string, number> = {};
    for (const [name, entry] of Object.entries(tasks)) {
      const i = position.get(entry);
      if (i === undefined) return; // not one of the entries: no index
      byPosition[name] = i;
    }
    writeAtomic(manifestFile, JSON.stringify({ ...manifest, tasks: byPosition }));
  } catch {} // only a cache: without the task index, the next command loads every module
}

/**
 * Imports a compiled file. The URL carries the file's mtime, so a process that loads the
 * project again after an edit (a daemon reloading) gets the new code, not Node's cached module.
 */
export function importCompiled(file: string): Promise<Record<string, Record<string, unknown>>> {
  registerCompiled(file);
  const url = `${pathToFileURL(file).href}?v=${statSync(file).mtimeMs}`;
  return importModule(url) as Promise<Record<string, Record<string, unknown>>>;
}

function readFresh(manifestFile: string): Manifest | undefined {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as Manifest;
  } catch {
    return undefined;
  }
  if (manifest.format !== CACHE_FORMAT || !Array.isArray(manifest.zod) || typeof manifest.build !== "string") return undefined;
  for (const [path, mtimeMs, size] of manifest.inputs) {
    try {
      const st = statSync(path);
      if (st.mtimeMs !== mtimeMs || st.size !== size) return undefined;
    } catch {
      return undefined;
    }
  }
  return manifest;
}

function stamp(path: string): [string, number, number] {
  const st = statSync(path);
  return [path, st.mtimeMs, st.size];
}

const LOADERS: Record<string, "ts" | "tsx" | "js" | "jsx"> = {
  ".ts": "ts", ".mts": "ts", ".cts": "ts", ".tsx": "tsx", ".js": "js", ".mjs": "js", ".cjs": "js", ".jsx": "jsx",
};

/**
 * The module a task module's `import ... from "fluid-tasks"` gets: the instance that loads it
 * (the CLI's own, already in memory) rather than a second copy of the library. Compiled
 * modules are only ever imported by loadProject, once the instance is published (public-api.ts).
 */
function apiFacade(): string {
  return [
    `const api = globalThis[Symbol.for("fluid-tasks.api")];`,
    `if (!api) throw new Error("fluid-tasks: a compiled task module must be loaded by loadProject()");`,
    exportProperties("api", Object.keys(publishedApi())),
  ].join("\n");
}

/**
 * Compiles each group of entries into one output (one esbuild run, so shared files are read
 * and parsed once); output i exports the namespace of entry j of group i as `m<j>`.
 */
async function bundle(groups: string[][], cacheDir: string): Promise<Array<{ code: string; inputs: string[]; zod: string[] }>> {
  const esbuild = loadEsbuild();
  const cwd = process.cwd();
  const entries = [...new Set(groups.flat())];
  const zodEntries = new Map<string, Promise<void>>();
  // Tasks without params use this package's zod (an empty object schema).
  const ownZodEntry = resolveZod(packageRoot().dir);
  if (ownZodEntry) await prepareZod(ownZodEntry);
  let result;
  try {
    result = await esbuild.build({
      entryPoints: groups.map((_, i) => ({ in: `fluid-entry:${i}`, out: `fluid-entry-${i}` })),
      bundle: true,
      write: false,
      outdir: cacheDir, // source map paths are relative to it; the outputs are written there
      outExtension: { ".js": ".mjs" },
      format: "esm",
      platform: "node",
      target: "node20",
      packages: "external",
      keepNames: true, // task(async function ping() {}) must keep its name inside the bundle
      sourcemap: "inline",
      sourcesContent: false,
      metafile: true,
      logLevel: "silent",
      plugins: [
        {
          // Two packages every task module imports become small modules inside the bundle
          // (one file for Node to load, not three) that take them from this process.
          name: "fluid-facades",
          setup(build) {
            // Entry i: a small module re-exporting the namespaces of group i's modules.
            build.onResolve({ filter: /^fluid-entry:\d+$/ }, (args) => ({ path: args.path.slice("fluid-entry:".length), namespace: "fluid-entry" }));
            build.onLoad({ filter: /.*/, namespace: "fluid-entry" }, (args) => ({
              contents: groups[Number(args.path)]!.map((e, j) => `export * as m${j} from ${JSON.stringify(e)};`).join("\n"),
              loader: "js",
              resolveDir: cwd,
            }));
            build.onResolve({ filter: /^fluid-tasks$/ }, () => ({ path: "fluid-tasks", namespace: "fluid-api" }));
            build.onLoad({ filter: /.*/, namespace: "fluid-api" }, () => ({ contents: apiFacade(), loader: "js" }));
            // zod through the shared, code-cached loader (src/startup/zod.ts). The installation
            // the importing file would get is the one loaded; none found: left to Node's error.
            build.onResolve({ filter: /^zod$/ }, async (args) => {
              const entry = resolveZod(args.resolveDir);
              if (!entry) return undefined;
              if (!zodEntries.has(entry)) zodEntries.set(entry, prepareZod(entry));
              await zodEntries.get(entry); // the bundle exists before the facade loads zod
              return { path: entry, namespace: "fluid-zod" };
            });
            build.onLoad({ filter: /.*/, namespace: "fluid-zod" }, (args) => ({ contents: zodFacade(args.path), loader: "js", resolveDir: cwd }));
          },
        },
        {
          name: "fluid-import-meta",
          setup(build) {
            // One bundle holds many modules; give each its own import.meta.url/dirname/filename.
            build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
              const source = await readFile(args.path, "utf8");
              const loader = LOADERS[extname(args.path)] ?? "ts";
              if (!source.includes("import.meta")) return { contents: source, loader };
              const dir = resolve(args.path, "..");
              const replaced = source
                .replace(/\bimport\.meta\.url\b/g, JSON.stringify(pathToFileURL(args.path).href))
                .replace(/\bimport\.meta\.dirname\b/g, JSON.stringify(dir))
                .replace(/\bimport\.meta\.filename\b/g, JSON.stringify(args.path));
              return { contents: replaced, loader };
            });
          },
        },
      ],
    });
  } catch (error) {
    const failure = error as { errors?: Array<{ text: string; location?: { file: string; line: number; column: number; lineText: string } | null }> };
    const first = failure.errors?.[0];
    if (first) {
      const where = first.location ? `${relative(cwd, resolve(cwd, first.location.file)) || first.location.file}:${first.location.line}:${first.location.column + 1}: ` : "";
      const more = failure.errors!.length > 1 ? ` (and ${failure.errors!.length - 1} more)` : "";
      const excerpt = first.location?.lineText ? `\n    ${first.location.lineText.trim()}` : "";
      throw new ConfigError(`${where}${first.text}${more}${excerpt}`, { cause: error, hint: "fix the file and run the command again" });
    }
    throw new ConfigError(`cannot compile ${entries.join(", ")}: ${(error as Error).message}`, { cause: error });
  }
  const texts = new Map(result.outputFiles.map((f) => [f.path, f.text]));
  // The files each group reads: the local imports reachable from its entries.
  const metaInputs = result.metafile.inputs;
  const keyOf = new Map<string, string>();
  for (const key of Object.keys(metaInputs)) if (!key.startsWith("<") && !VIRTUAL_SOURCE.test(key)) keyOf.set(resolve(cwd, key), key);
  const reachable = (group: string[]): string[] => {
    const seen = new Set<string>();
    const visit = (path: string): void => {
      const key = keyOf.get(path);
      if (key === undefined || seen.has(path)) return;
      seen.add(path);
      for (const imported of metaInputs[key]!.imports) if (!imported.external) visit(resolve(cwd, imported.path));
    };
    for (const e of group) visit(resolve(cwd, e));
    return [...seen];
  };
  // The facades name the exports of zod and of this package: recompile when either changes.
  const shared = [join(packageRoot().dir, "package.json"), ...zodEntries.keys()];
  const zod = [...new Set([...(ownZodEntry ? [ownZodEntry] : []), ...zodEntries.keys()])];
  return groups.map((group, i) => {
    const text = texts.get(join(cacheDir, `fluid-entry-${i}.mjs`));
    if (text === undefined) throw new ConfigError(`cannot compile ${group.join(", ")}: esbuild gave no output`);
    return { code: withVirtualSourcesContent(text), inputs: [...reachable(group), ...shared], zod };
  });
}

const INLINE_MAP = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/;
const VIRTUAL_SOURCE = /^fluid-(api|zod|entry):/;

/**
 * The inline source map lists the two facades under their plugin namespaces ("fluid-api:",
 * "fluid-zod:"), which are no files. A tool that fills in missing source text from disk (vite,
 * so vitest, when a test loads a project in-process) then warns for every compiled module that
 * its "sources are missing". Give those entries their (empty) content, so nothing looks for
 * them; the user's own files keep no content, as `sourcesContent: false` wants.
 */
function withVirtualSourcesContent(code: string): string {
  const match = INLINE_MAP.exec(code);
  if (!match) return code;
  const map = JSON.parse(Buffer.from(match[1]!, "base64").toString("utf8")) as { sources: string[]; sourcesContent?: Array<string | null> };
  if (!map.sources.some((s) => VIRTUAL_SOURCE.test(s))) return code;
  map.sourcesContent = map.sources.map((s) => (VIRTUAL_SOURCE.test(s) ? "" : null));
  return code.slice(0, match.index) + `//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString("base64")}\n`;
}
