import { dirname, extname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { readFileSync, statSync } from "node:fs";
import { ConfigError, isFluidError } from "../core/errors.js";
import { packageRoot } from "../package-root.js";
import { validateParams } from "../task/params.js";
import { isTask, type Task } from "../task/task.js";
import { withDefaultTimezone } from "../schedule/calendar.js";
import { resolveTimezone } from "../schedule/validate.js";
import type { Schedule } from "../core/types.js";
import { compileModules, importCompiled, readTaskIndex, saveTaskIndex, type Compiled } from "./compile.js";
import { publishedApi } from "./public-api.js";
import { provideZod } from "../task/own-zod.js";
import { ownZod } from "../startup/zod.js";
import { importModule } from "../core/dynamic-import.js";
import { writeAtomic } from "../core/files.js";
import { installStackMapping } from "../startup/stack-map.js";
import { parseDuration } from "../core/duration.js";
import type { FluidConfig, PoolConfig, StoreConfig } from "./define.js";
import { findConfig } from "./find.js";
import { applyEnvFiles, envFileRef, type EnvFileRef } from "./env-file.js";
import { Registry } from "./registry.js";
import { suggest } from "../suggest.js";
import { megabytes } from "../core/size.js";
import { resolveNotify, type NotifySpec } from "../task/notify-options.js";
import { addCommandTasks, resolveCommands } from "./commands.js";
import { bindCommandRoot } from "../task/command.js";
import { addCrontabTasks, crontabTask } from "./crontabs.js";

/** The config with every default filled in. */
export interface ResolvedConfig {
  tasks: string[];
  deps: FluidConfig["deps"];
  /** Absolute store path (or ":memory:") and limits; false when recording is off. */
  store: (Required<Pick<StoreConfig, "path" | "logCap">> & { retention: { days: number; perTask: number } }) | false;
  timezone: string;
  concurrency: number;
  /** Absolute paths of the crontab files whose lines are command tasks. */
  crontabs: string[];
  /** Pool options resolved to numbers (undefined fields take the pool's defaults). */
  pool: { size?: number; maxRunsPerWorker?: number; maxWorkerMemoryMb?: number; idleTimeoutMs?: number; killGraceMs?: number; prefetch?: number };
  /** The config's environment files, absolute, in order (empty when none). */
  envFiles: EnvFileRef[];
  /** Validated `notify` (docs/notify.md); undefined when the config has none. */
  notify?: NotifySpec;
  /** The command tasks of the config's `commands` (made by `command()`), registered beside the modules' tasks. */
  commands: readonly Task[];
  /** The HTTP server of `fluid serve` as configured (undefined fields: unset). */
  http: { port?: number; host?: string; token?: string };
  /** The fleet backend (config `backend`, or FLUID_BACKEND_URL); undefined: embedded. The URL is parsed when a daemon opens it. */
  backend?: { url: string; prefix?: string; stallMs?: number };
}

/** A loaded project: config, its directory, and the registry of its tasks. */
export interface Project {
  configFile: string;
  root: string;
  config: ResolvedConfig;
  registry: Registry;
  /** Task modules that failed to load (only with `tasks: "tolerant"`); their tasks are missing. */
  broken?: BrokenModule[];
}

/** A task module that could not be loaded, and why. */
export interface BrokenModule {
  file: string;
  error: ConfigError;
}

/** Options of `loadProject`. */
export interface LoadOptions {
  /** Directory to search from. Default process.cwd(). */
  cwd?: string;
  /** Explicit config path (the --config flag). Default: FLUID_CONFIG, else search upwards. */
  config?: string;
  /** Environment to read FLUID_* variables from. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * Which task modules to load. "all" (default): every one, and any error stops the load.
   * "tolerant": every one, but a module that fails is left out and listed in `broken`
   * (for commands that only read the store, so one broken file does not block them).
   * "none": no task module (an empty registry), only the config.
   */
  tasks?: "all" | "tolerant" | "none";
  /**
   * The one task the caller needs (`fluid run <task>`). When the task index kept with the
   * compile cache knows it (made whenever every module is loaded, valid while no input file
   * changed), only the module that defines it is loaded, and the registry holds only that
   * module's tasks (`registry.ensure(name)` loads another's). Otherwise every module is
   * loaded, as without it. Only with tasks "all". Default: none.
   */
  task?: string;
  /**
   * More environment files (`fluid serve --env-file`), relative to `cwd`, a leading "-" making
   * one optional: loaded before the config module, and again after the config's `envFile`
   * (so they win over it). Never override a variable the environment already had. Default none.
   */
  envFiles?: string[];
}

const KEYS = ["tasks", "deps", "store", "timezone", "concurrency", "pool", "envFile", "notify", "commands", "crontabs", "http", "backend"];

/** Finds, compiles and loads the config and every task module it names. */
export async function loadProject(options: LoadOptions = {}): Promise<Project> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const configFile = findConfig(cwd, options.config ?? (env.FLUID_CONFIG || undefined));
  const root = dirname(configFile);
  const cacheDir = env.FLUID_CACHE_DIR ? resolve(cwd, env.FLUID_CACHE_DIR) : join(root, ".fluid", "cache");
  installStackMapping(); // stack traces of user code point at the .ts files
  publishedApi(); // task modules' `import "fluid-tasks"` gets it (see compileModules)
  provideZod(ownZod); // the shared, fast-loading zod for tasks without params

  // Environment files: the command line's before the config module runs, then the config's and
  // the command line's again (so theirs win), all before any task module loads.
  // A command that loads no task module runs no task code: it needs none of them (and a broken
  // file does not stop `fluid show` or `fluid init`).
  const mode = options.tasks ?? "all";
  const cliEnvFiles = (options.envFiles ?? []).map((f) => envFileRef(f, cwd));
  if (cliEnvFiles.length > 0) applyEnvFiles(cliEnvFiles);
  const raw = await loadConfigModule(configFile, cacheDir, root);
  const config = resolveConfig(raw, configFile, env);
  if (config.envFiles.length > 0 && mode !== "none") applyEnvFiles([...config.envFiles, ...cliEnvFiles]);
  if (mode === "none") return { configFile, root, config, registry: new Registry(), broken: [] };
  const files = await expandGlobs(config.tasks, root, configFile, cacheDir);
  const commands = { configFile, root, timezone: config.timezone };
  if (mode === "all") {
    // A command of the config needs no module, only the task index to know no module has its name.
    const index = options.task !== undefined && config.commands.some((t) => t.name === options.task) && !allJs(files) ? readTaskIndex(files, cacheDir) : undefined;
    const registry = index ? partRegistry(index, cacheDir, root, config.timezone)
      : (options.task === undefined ? undefined : await loadTaskModule(options.task, files, cacheDir, root, config.timezone))
        ?? (await loadTasks(files, cacheDir, root, config.timezone, true));
    addCommandTasks(registry, config.commands, { ...commands, moduleTasks: registry.partIndex });
    addCrontabTasks(registry, config.crontabs, config.timezone, crontabMaker(root));
    return { configFile, root, config, registry, broken: [] };
  }
  const tolerant = await loadTasksTolerant(files, cacheDir, root, config.timezone);
  for (const t of config.commands) {
    try {
      addCommandTasks(tolerant.registry, [t], commands);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      tolerant.broken.push({ file: configFile, error });
    }
  }
  addCrontabTasks(tolerant.registry, config.crontabs, config.timezone, crontabMaker(root));
  return { configFile, root, config, ...tolerant };
}

/** Makes crontab lines' command tasks with the project root as their working directory, as the config's `commands`. */
function crontabMaker(root: string): Parameters<typeof addCrontabTasks>[3] {
  return (spec, schedule) => {
    const t = crontabTask(spec, schedule);
    bindCommandRoot(t, root);
    return t;
  };
}

/** An empty registry that holds part of the project: it loads a module when one of its tasks is asked for. */
function partRegistry(index: Readonly<Record<string, string>>, cacheDir: string, root: string, timezone: string): Registry {
  const registry = new Registry();
  registry.holdPart(index, (file) => loadTasks([file], cacheDir, root, timezone));
  return registry;
}

/** Loads the task modules, leaving out (and listing) the ones that fail. */
async function loadTasksTolerant(files: string[], cacheDir: string, root: string, timezone: string): Promise<{ registry: Registry; broken: BrokenModule[] }> {
  try {
    return { registry: await loadTasks(files, cacheDir, root, timezone, true), broken: [] };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const registry = new Registry();
    const broken: BrokenModule[] = [];
    for (const file of files) {
      try {
        const one = await loadTasks([file], cacheDir, root, timezone);
        for (const task of one.list()) if (!registry.has(task.name)) registry.add(task, one.origin(task.name)!);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        broken.push({ file, error: e });
      }
    }
    return { registry, broken };
  }
}

async function loadConfigModule(configFile: string, cacheDir: string, root: string): Promise<unknown> {
  let mod: Record<string, unknown>;
  try {
    if ([".js", ".mjs"].includes(extname(configFile))) {
      mod = (await importModule(pathToFileURL(configFile).href)) as Record<string, unknown>;
    } else {
      const compiled = await compileModules([configFile], cacheDir);
      mod = (await importCompiled(compiled.file)).m0 ?? {};
    }
  } catch (error) {
    throw moduleError(error, configFile, root);
  }
  if (mod.default === undefined) {
    throw new ConfigError(`${relative(process.cwd(), configFile)} has no default export`, {
      hint: 'write: export default defineConfig({ tasks: ["./tasks/*.ts"] })',
    });
  }
  return mod.default;
}

/** Validates the config object and fills in defaults. */
export function resolveConfig(raw: unknown, configFile: string, env: NodeJS.ProcessEnv = {}): ResolvedConfig {
  const where = relative(process.cwd(), configFile) || configFile;
  const fail = (message: string, hint?: string): ConfigError => new ConfigError(`${where}: ${message}`, { hint });
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw fail("the default export must be a config object", "wrap it: export default defineConfig({ ... })");
  }
  const c = raw as Record<string, unknown>;
  checkKeys(c, KEYS, "", fail);

  const crontabs = c.crontabs ?? [];
  if (!Array.isArray(crontabs) || !crontabs.every((t) => typeof t === "string" && t !== "")) {
    throw fail("`crontabs` must be an array of crontab file paths", 'e.g. crontabs: ["./jobs.cron"]');
  }
  // A project whose tasks are all commands of the config or crontab lines needs no task module.
  const tasks = c.tasks === undefined && (c.commands !== undefined || crontabs.length > 0) ? [] : c.tasks;
  if (!Array.isArray(tasks) || (tasks.length === 0 && c.commands === undefined && crontabs.length === 0) || !tasks.every((t) => typeof t === "string" && t !== "")) {
    throw fail("`tasks` must be a non-empty array of globs", 'e.g. tasks: ["./tasks/*.ts"]');
  }
  let timezone: string;
  try {
    timezone = resolveTimezone("timezone", c.timezone ?? "UTC");
  } catch {
    throw fail(`unknown time zone ${JSON.stringify(c.timezone)}`, 'use an IANA name such as "UTC", "Europe/London" or "America/New_York"');
  }
  const concurrency = c.concurrency ?? 10;
  if (!Number.isInteger(concurrency) || (concurrency as number) < 1) {
    throw fail(`concurrency must be a whole number >= 1, got ${JSON.stringify(concurrency)}`);
  }
  const notify = c.notify === undefined ? false : resolveNotify(c.notify, fail, true);
  return {
    tasks, deps: c.deps, store: resolveStore(c.store, dirname(configFile), env, fail), timezone, concurrency: concurrency as number,
    pool: resolvePool(c.pool, fail), envFiles: resolveEnvFiles(c.envFile, dirname(configFile), fail),
    ...(notify ? { notify } : {}),
    commands: resolveCommands(c.commands, fail),
    crontabs: crontabs.map((file) => resolve(dirname(configFile), file)),
    http: resolveHttp(c.http, fail),
    ...resolveBackend(c.backend, env, fail),
  };
}

/** `envFile`: a path or a list of paths, relative to the config file ("-path": optional). */
function resolveEnvFiles(value: unknown, root: string, fail: (m: string, h?: string) => ConfigError): EnvFileRef[] {
  if (value === undefined) return [];
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || !list.every((f) => typeof f === "string" && f !== "" && f !== "-")) {
    throw fail("`envFile` must be a path or a list of paths", 'e.g. envFile: "./.env", or "-./.env" when it may be missing');
  }
  return list.map((f: string) => envFileRef(f, root));
}

/** `http`: port, host and token of the HTTP API, checked. */
function resolveHttp(value: unknown, fail: (m: string, h?: string) => ConfigError): ResolvedConfig["http"] {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw fail("`http` must be an object ({ port, host, token })");
  const h = value as Record<string, unknown>;
  checkKeys(h, ["port", "host", "token"], "http.", fail);
  const out: ResolvedConfig["http"] = {};
  if (h.port !== undefined) {
    if (!Number.isInteger(h.port) || (h.port as number) < 0 || (h.port as number) > 65535) throw fail(`http.port must be a whole number from 0 to 65535, got ${JSON.stringify(h.port)}`);
    out.port = h.port as number;
  }
  if (h.host !== undefined) {
    if (typeof h.host !== "string" || h.host === "") throw fail(`http.host must be a host name or address, got ${JSON.stringify(h.host)}`);
    out.host = h.host;
  }
  if (h.token !== undefined) {
    if (typeof h.token !== "string" || h.token.length < 8) throw fail("http.token must be a string of at least 8 characters", "e.g. token: process.env.FLUID_API_TOKEN");
    out.token = h.token;
  }
  return out;
}

/** The `backend` of the config, with FLUID_BACKEND_URL in place of its URL when set. */
function resolveBackend(value: unknown, env: NodeJS.ProcessEnv, fail: (m: string, h?: string) => ConfigError): Pick<ResolvedConfig, "backend"> {
  if (value !== undefined && typeof value !== "string" && (typeof value !== "object" || value === null || Array.isArray(value))) {
    throw fail('`backend` must be a URL ("redis://host:port/db", "postgres://...") or { url, prefix }');
  }
  const b = (typeof value === "string" ? { url: value } : (value ?? {})) as Record<string, unknown>;
  if (typeof value === "object") checkKeys(b, ["url", "prefix", "stallMs"], "backend.", fail);
  const url = env.FLUID_BACKEND_URL || b.url;
  if (url === undefined) return {};
  if (typeof url !== "string" || url === "") throw fail("backend.url must be a non-empty string");
  if (b.prefix !== undefined && typeof b.prefix !== "string") throw fail("backend.prefix must be a string");
  if (b.stallMs !== undefined && !(Number.isInteger(b.stallMs) && (b.stallMs as number) >= 1000)) throw fail(`backend.stallMs must be a whole number of ms >= 1000, got ${JSON.stringify(b.stallMs)}`);
  return { backend: { url, ...(b.prefix !== undefined ? { prefix: b.prefix as string } : {}), ...(b.stallMs !== undefined ? { stallMs: b.stallMs as number } : {}) } };
}

/** Refuses a key the config does not know, naming its full path ("store.retention.dayz") and the closest known key. */
function checkKeys(object: Record<string, unknown>, known: string[], prefix: string, fail: (m: string, h?: string) => ConfigError): void {
  for (const key of Object.keys(object)) {
    if (known.includes(key)) continue;
    const close = suggest(key, known);
    throw fail(`unknown key "${prefix}${key}"`, close ? `did you mean "${prefix}${close}"?` : `known keys${prefix ? ` of ${prefix.slice(0, -1)}` : ""}: ${known.join(", ")}`);
  }
}

function resolveStore(value: unknown, root: string, env: NodeJS.ProcessEnv, fail: (m: string, h?: string) => ConfigError): ResolvedConfig["store"] {
  if (value === false) return false;
  if (value !== undefined && (typeof value !== "object" || value === null)) {
    throw fail("`store` must be an object ({ path, logCap, retention }) or false");
  }
  const s = (value ?? {}) as StoreConfig;
  checkKeys(s as Record<string, unknown>, ["path", "logCap", "retention"], "store.", fail);
  if (s.retention !== undefined && (typeof s.retention !== "object" || s.retention === null || Array.isArray(s.retention))) {
    throw fail("`store.retention` must be an object ({ days, perTask })");
  }
  if (s.retention) checkKeys(s.retention as Record<string, unknown>, ["days", "perTask"], "store.retention.", fail);
  const path = env.FLUID_STORE || s.path || ".fluid/fluid.db";
  if (typeof path !== "string") throw fail("store.path must be a string");
  const from = env.FLUID_STORE ? "FLUID_STORE" : s.path ? "store.path" : undefined;
  const absolute = path === ":memory:" ? path : resolve(root, path);
  if (from && path !== ":memory:" && isDirectory(absolute)) {
    // SQLite would report a directory as a disk I/O error.
    throw new ConfigError(`${from} is ${absolute}, a directory; the store is a file`, {
      hint: `point ${from} at a file, e.g. ${join(absolute, "fluid.db")} (made when first needed)`,
    });
  }
  const logCap = s.logCap ?? 1000;
  if (!Number.isInteger(logCap) || logCap < 0) throw fail(`store.logCap must be a whole number >= 0, got ${JSON.stringify(logCap)}`);
  const days = s.retention?.days ?? 30;
  const perTask = s.retention?.perTask ?? 1000;
  if (!(typeof days === "number" && days > 0) || !(Number.isInteger(perTask) && perTask > 0)) {
    throw fail("store.retention needs days > 0 and perTask a whole number > 0");
  }
  return { path: absolute, logCap, retention: { days, perTask } };
}

function resolvePool(value: unknown, fail: (m: string, h?: string) => ConfigError): ResolvedConfig["pool"] {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null) throw fail("`pool` must be an object ({ size, maxRunsPerWorker, maxWorkerMemory, idleTimeout, killGrace, prefetch })");
  const p = value as PoolConfig;
  const known = ["size", "maxRunsPerWorker", "maxWorkerMemory", "idleTimeout", "killGrace", "prefetch"];
  checkKeys(p as Record<string, unknown>, known, "pool.", fail);
  const whole = (v: unknown, name: string): number => {
    if (!Number.isInteger(v) || (v as number) < 1) throw fail(`pool.${name} must be a whole number >= 1, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const out: ResolvedConfig["pool"] = {};
  if (p.size !== undefined) out.size = whole(p.size, "size");
  if (p.maxRunsPerWorker !== undefined) out.maxRunsPerWorker = whole(p.maxRunsPerWorker, "maxRunsPerWorker");
  if (p.maxWorkerMemory !== undefined) {
    const mb = typeof p.maxWorkerMemory === "number" || typeof p.maxWorkerMemory === "string" ? megabytes(p.maxWorkerMemory) : undefined;
    if (mb === undefined) throw fail(`pool.maxWorkerMemory must be a size such as "512MB" or "1GB", got ${JSON.stringify(p.maxWorkerMemory)}`);
    out.maxWorkerMemoryMb = mb;
  }
  const ms = (v: number | string, name: string): number => {
    try {
      return parseDuration(v, `pool.${name}`);
    } catch (error) {
      throw fail((error as Error).message, (error as ConfigError).hint);
    }
  };
  if (p.idleTimeout !== undefined) out.idleTimeoutMs = ms(p.idleTimeout, "idleTimeout");
  if (p.killGrace !== undefined) out.killGraceMs = ms(p.killGrace, "killGrace");
  if (p.prefetch !== undefined) {
    if (!Number.isInteger(p.prefetch) || p.prefetch < 0) throw fail(`pool.prefetch must be a whole number >= 0, got ${JSON.stringify(p.prefetch)}`);
    out.prefetch = p.prefetch;
  }
  return out;
}

async function expandGlobs(patterns: string[], root: string, configFile: string, cacheDir: string): Promise<string[]> {
  const files = new Set<string>();
  const cache = new GlobCache(cacheDir);
  for (const pattern of patterns) {
    const matches = await cache.glob(pattern, root);
    if (matches.length === 0) {
      throw new ConfigError(`${relative(process.cwd(), configFile) || configFile}: the tasks glob "${pattern}" matched no file (relative to ${root})`, {
        hint: "fix the glob in `tasks`, or create the task module it should match",
      });
    }
    for (const m of matches.sort()) files.add(resolve(m));
  }
  cache.save();
  return [...files];
}

interface GlobEntry {
  dir: string;
  mtimeMs: number;
  files: string[];
}

/**
 * Remembers what each tasks glob matched, so a start neither walks the tree nor loads the
 * glob library. Only for globs whose wildcards are all in the last segment ("./tasks/*.ts"):
 * their matches change only when the entries of one directory do, which changes its mtime.
 */
class GlobCache {
  private readonly file: string;
  private entries: Record<string, GlobEntry> = {};
  private dirty = false;

  constructor(cacheDir: string) {
    this.file = join(cacheDir, "globs.json");
    try {
      this.entries = JSON.parse(readFileSync(this.file, "utf8")) as Record<string, GlobEntry>;
    } catch {} // no cache yet, or a broken one: glob again
  }

  async glob(pattern: string, root: string): Promise<string[]> {
    const key = JSON.stringify([root, pattern]);
    const dir = flatGlobDir(pattern, root);
    const hit = this.entries[key];
    if (dir !== undefined && hit?.dir === dir && hit.mtimeMs === mtimeOf(dir)) return hit.files;
    const { glob } = (await importModule("tinyglobby")) as typeof import("tinyglobby");
    const files = await glob(pattern, { cwd: root, absolute: true, ignore: ["**/node_modules/**", "**/*.d.ts", "**/.fluid/**"] });
    const mtimeMs = dir === undefined ? undefined : mtimeOf(dir);
    // A directory changed within the last seconds could change again within the same mtime
    // tick on a coarse file system (one second on some): remember only settled listings.
    if (dir !== undefined && mtimeMs !== undefined && Date.now() - mtimeMs > SETTLED_MS) {
      this.entries[key] = { dir, mtimeMs, files };
      this.dirty = true;
    }
    return files;
  }

  save(): void {
    if (!this.dirty) return;
    try {
      writeAtomic(this.file, JSON.stringify(this.entries));
    } catch {} // only a cache: the next start globs again
  }
}

const SETTLED_MS = 2_000;

/** The directory a glob lists when its only wildcards are in its last segment, else undefined. */
function flatGlobDir(pattern: string, root: string): string | undefined {
  const parts = pattern.split("/");
  const last = parts.pop() ?? "";
  if (last.includes("**") || parts.some((p) => /[*?[\]{}()!+@]/.test(p))) return undefined;
  return resolve(root, parts.join("/") || ".");
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function mtimeOf(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Loads only the module that defines task `name`, as the task index of `files` says, or
 * returns undefined (no index, an input changed, an unknown name, plain .js modules): the
 * caller then loads every module. The registry it returns loads other modules on demand.
 */
async function loadTaskModule(name: string, files: string[], cacheDir: string, root: string, timezone: string): Promise<Registry | undefined> {
  if (allJs(files)) return undefined;
  const index = readTaskIndex(files, cacheDir);
  const file = index && Object.hasOwn(index, name) ? index[name] : undefined;
  if (file === undefined || !files.includes(file)) return undefined;
  const registry = await loadTasks([file], cacheDir, root, timezone);
  // The index was made from these very files; a module that exports other tasks from one
  // start to the next (reading the environment, say) is loaded in full instead.
  if (!registry.has(name)) return undefined;
  registry.holdPart(index!, (other) => loadTasks([other], cacheDir, root, timezone));
  return registry;
}

function allJs(files: string[]): boolean {
  return files.every((f) => [".js", ".mjs"].includes(extname(f)));
}

/**
 * Imports the task modules and registers their tasks. With `index` (every module of the
 * project), each module is also compiled on its own and the task index saved, so a later
 * `fluid run <task>` loads only the module it needs.
 */
async function loadTasks(files: string[], cacheDir: string, root: string, timezone: string, index = false): Promise<Registry> {
  let modules: Record<string, Record<string, unknown>>;
  let compiled: Compiled | undefined;
  try {
    if (allJs(files)) {
      modules = {};
      for (const [i, f] of files.entries()) modules[`m${i}`] = (await importModule(pathToFileURL(f).href)) as Record<string, unknown>;
    } else {
      compiled = await compileModules(files, cacheDir, { each: index });
      modules = await importCompiled(compiled.file);
    }
  } catch (error) {
    // Every module is in one bundle: when the error does not say which one threw (a thrown
    // string has no stack), load them one by one to name it.
    let file = files.length === 1 ? files[0] : undefined;
    if (!file && !(error instanceof ConfigError) && !userFrame(error, root)) file = await culprit(files, cacheDir);
    throw moduleError(error, file, root);
  }
  const registry = new Registry();
  const seen = new Set<Task>();
  for (const [i, file] of files.entries()) {
    for (const [exportName, value] of Object.entries(modules[`m${i}`] ?? {})) {
      if (!isTask(value) || seen.has(value)) continue;
      seen.add(value);
      if (!value.name) value.name = exportName === "default" ? basenameOf(file) : exportName;
      const previous = registry.origin(value.name);
      if (previous) {
        throw new ConfigError(
          `duplicate task name "${value.name}": exported as ${previous.exportName} from ${relative(root, previous.file)} and as ${exportName} from ${relative(root, file)}`,
          { hint: "give one of them another `name` option" },
        );
      }
      checkSchedule(value, file, root);
      bindCommandRoot(value, root); // a command task's relative cwd is the project root
      // Calendar schedules without their own tz read their fields in the config's zone.
      if (value.schedule) (value as { schedule: Schedule }).schedule = withDefaultTimezone(value.schedule, timezone);
      registry.add(value, { file, exportName });
    }
  }
  if (index && compiled && !compiled.indexed) {
    saveTaskIndex(files, cacheDir, compiled, Object.fromEntries(registry.list().map((t) => [t.name, registry.origin(t.name)!.file])));
  }
  return registry;
}

/** A scheduled run gets the schedule's params: they must be valid for the task. */
function checkSchedule(task: Task, file: string, root: string): void {
  if (!task.schedule) return;
  try {
    validateParams(task.name, task.params, task.schedule.params ?? {});
  } catch (error) {
    throw new ConfigError(`${relative(root, file)}: task "${task.name}" is scheduled, but its scheduled runs would have invalid params:\n${(error as Error).message.split("\n").slice(1).join("\n")}`, {
      cause: error,
      hint: `give them in the schedule, e.g. every("1h", { params: { ... } }), or make those params optional`,
    });
  }
}

/** The first of `files` whose module throws when imported on its own. */
async function culprit(files: string[], cacheDir: string): Promise<string | undefined> {
  for (const file of files) {
    try {
      await importCompiled((await compileModules([file], cacheDir)).file);
    } catch {
      return file;
    }
  }
  return undefined;
}

function basenameOf(file: string): string {
  return file.replace(/^.*[/\\]/, "").replace(/\.[^.]+$/, "");
}

/** Our own compiled and source folders, skipped when looking for the user's frame. */
const ownDirs = (): string[] => [join(packageRoot().dir, "dist") + "/", join(packageRoot().dir, "src") + "/"];

/** Turns an error thrown while importing a user module into a ConfigError with the file and line. */
function moduleError(error: unknown, file: string | undefined, root: string): ConfigError {
  if (error instanceof ConfigError) return error;
  const where = userFrame(error, root) ?? (file ? relative(process.cwd(), file) : "a task module");
  const message = error instanceof Error ? error.message : `it threw ${describeThrown(error)}, not an Error`;
  const hint = isFluidError(error) ? error.hint : error instanceof Error ? "fix the module and run the command again" : "throw an Error (throw new Error(\"...\")), so the message says where it comes from";
  return new ConfigError(`${where}: ${message}`, { cause: error, ...(hint ? { hint } : {}) });
}

function describeThrown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The first stack frame in the user's own files, as "path:line:column" relative to the cwd. */
function userFrame(error: unknown, root: string): string | undefined {
  const stack = error instanceof Error ? error.stack ?? "" : "";
  for (const m of stack.matchAll(/(?:file:\/\/)?(\/[^\s():]+):(\d+):(\d+)/g)) {
    const path = m[1]!;
    if (path.includes("/node_modules/") || path.includes("/.fluid/") || !path.startsWith(root)) continue;
    if (ownDirs().some((dir) => path.startsWith(dir))) continue;
    return `${relative(process.cwd(), path)}:${m[2]}:${m[3]}`;
  }
  return undefined;
}
