/** Where the embedded store lives and how much it keeps. */
export interface StoreConfig {
  /** SQLite file, relative to the config file; ":memory:" keeps nothing. Default ".fluid/fluid.db". `FLUID_STORE` overrides. */
  path?: string;
  /** Log lines kept per attempt. Default 1000. */
  logCap?: number;
  /** How long runs are kept. Default 30 days and at most 1000 runs per task. */
  retention?: { days?: number; perTask?: number };
}

/** The child processes of cpu-bound tasks. */
export interface PoolConfig {
  /** Most child processes at once. Default: available cores minus one, at least 1. */
  size?: number;
  /** Replace a child after this many runs (its successor starts beside it at 90%). Default 100000. */
  maxRunsPerWorker?: number;
  /** Replace a child whose memory after a run is above this: "512MB", "1GB" or MB. Default "512MB". */
  maxWorkerMemory?: number | string;
  /** Stop a child idle this long: ms or "60s"; 0 = never. Default "60s". */
  idleTimeout?: number | string;
  /** After a timeout or cancel: SIGTERM, then SIGKILL of the child's process tree this long after. Default "5s". */
  killGrace?: number | string;
  /**
   * Runs a busy child may hold besides the one it executes, so it starts the next without a
   * round trip to the daemon (used only when every child is busy and the pool is full). 0 = none. Default 1.
   */
  prefetch?: number;
}

/** The contents of `fluid.config.ts`. */
export interface FluidConfig<Deps = unknown> {
  /** Globs of task modules, relative to the config file, e.g. ["./tasks/*.ts"]. Required. */
  tasks: string[];
  /** User dependencies given to every task as `ctx.deps`: a value, or a (async) function called once per process. Default undefined. */
  deps?: Deps | (() => Deps | Promise<Deps>);
  /** The embedded run store. Default: { path: ".fluid/fluid.db" }. `false` records nothing. */
  store?: StoreConfig | false;
  /** IANA time zone of crontab/cron schedules that do not name one. Default "UTC". */
  timezone?: string;
  /** Most runs at once in `fluid serve`. Default 10. */
  concurrency?: number;
  /** Child processes of cpu-bound tasks. */
  pool?: PoolConfig;
}

/** Declares the config with types; returns it unchanged. */
export function defineConfig<Deps = unknown>(config: FluidConfig<Deps>): FluidConfig<Deps> {
  return config;
}
