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

/** The contents of `fluid.config.ts`. */
/** The backend a fleet of daemons shares (docs/fleet.md). */
export interface BackendConfig {
  /** "redis://host:port/db" or "postgres://user@host:port/database". */
  url: string;
  /** Namespace of this project on the server: the Redis key prefix or the PostgreSQL schema. Default "fluid". */
  prefix?: string;
  /**
   * The stall window, ms: a daemon renews its claims every half of it; the runs of a daemon that
   * died (SIGKILL, power loss) go back to the queue for another daemon within one to two
   * windows. At least 1000. Default 30000.
   */
  stallMs?: number;
}

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
  /**
   * The backend several `fluid serve` daemons share (Redis or PostgreSQL, through BullMQ 6):
   * "redis://host:port/db", "postgres://user@host:port/database", or { url, prefix }. The
   * environment variable FLUID_BACKEND_URL and `fluid serve --backend` override it.
   * Default: none (the embedded SQLite store holds the queue).
   */
  backend?: string | BackendConfig;
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
