/** Where the embedded store lives and how much it keeps. */
export interface StoreConfig {
  /**
   * SQLite file, relative to the config file; ":memory:" keeps nothing. `FLUID_STORE` overrides it.
   * @default ".fluid/fluid.db"
   */
  path?: string;
  /**
   * Log lines kept per attempt.
   * @default 1000
   */
  logCap?: number;
  /**
   * How long runs are kept: at most `days` old and the newest `perTask` runs of each task.
   * @default { days: 30, perTask: 1000 }
   */
  retention?: { days?: number; perTask?: number };
}

/** The child processes of cpu-bound tasks. */
export interface PoolConfig {
  /**
   * Most child processes at once.
   * @default available cores minus one, at least 1
   */
  size?: number;
  /**
   * Replace a child after this many runs (its successor starts beside it at 90%).
   * @default 100000
   */
  maxRunsPerWorker?: number;
  /**
   * Replace a child whose memory after a run is above this: "512MB", "1GB" or MB.
   * @default "512MB"
   */
  maxWorkerMemory?: number | string;
  /**
   * Stop a child idle this long: ms or "60s"; 0 = never.
   * @default "60s"
   */
  idleTimeout?: number | string;
  /**
   * After a timeout or cancel: SIGTERM, then SIGKILL of the child's process tree this long after.
   * @default "5s"
   */
  killGrace?: number | string;
  /**
   * Runs a busy child may hold besides the one it executes, so it starts the next without a
   * round trip to the daemon (used only when every child is busy and the pool is full). 0 = none.
   * @default 1
   */
  prefetch?: number;
}

/** The HTTP API, metrics, health and dashboard of `fluid serve` (docs/http.md). */
export interface HttpConfig {
  /**
   * Port to listen on; setting it turns the HTTP server on (`fluid serve --http [host:]port`
   * overrides it). 0 takes a free port (printed at start).
   * @default undefined (no HTTP server)
   */
  port?: number;
  /**
   * Address to listen on. Anything but a loopback address needs `token`.
   * @default "127.0.0.1"
   */
  host?: string;
  /**
   * Bearer token of the API: mutating requests need it (without one the API is read-only), and
   * every request does when `host` is not loopback. `FLUID_TOKEN` overrides it. Keep it out of
   * the repository: e.g. `token: process.env.MY_TOKEN`.
   * @default undefined
   */
  token?: string;
}

/** The contents of `fluid.config.ts`. */
export interface FluidConfig<Deps = unknown> {
  /** Globs of task modules, relative to the config file, e.g. ["./tasks/*.ts"]. Required. */
  tasks: string[];
  /**
   * User dependencies given to every task as `ctx.deps`: a value, or a (async) function called
   * once per process.
   * @default undefined
   * @example deps: async () => ({ db: await connectDb(process.env.DATABASE_URL) })
   */
  deps?: Deps | (() => Deps | Promise<Deps>);
  /**
   * The embedded run store; `false` records nothing.
   * @default { path: ".fluid/fluid.db" }
   */
  store?: StoreConfig | false;
  /**
   * IANA time zone of crontab/cron schedules that do not name one, e.g. "Europe/London".
   * @default "UTC"
   */
  timezone?: string;
  /**
   * Most runs at once in `fluid serve`.
   * @default 10
   */
  concurrency?: number;
  /** Child processes of cpu-bound tasks; see `PoolConfig` for each option's default. */
  pool?: PoolConfig;
  /** The HTTP API of `fluid serve`; see `HttpConfig` for each option's default. Off unless a port is set. */
  http?: HttpConfig;
}

/**
 * Declares the config of a project (`fluid.config.ts` at its root) with types; returns it
 * unchanged. `fluid` finds the file from the current directory upwards (or `--config`,
 * `FLUID_CONFIG`); every task exported by a module the `tasks` globs match is registered.
 *
 * @param config `tasks` (required) and the optional `deps`, `store`, `timezone` ("UTC"),
 *   `concurrency` (10) and `pool`.
 * @example
 * import { defineConfig } from "fluid-tasks";
 *
 * export default defineConfig({
 *   tasks: ["./tasks/*.ts"],
 *   deps: async () => ({ db: await connectDb() }),   // ctx.deps in every task
 *   timezone: "Europe/London",
 * });
 */
export function defineConfig<Deps = unknown>(config: FluidConfig<Deps>): FluidConfig<Deps> {
  return config;
}
