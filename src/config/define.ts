/** Where the embedded store lives and how much it keeps. */
export interface StoreConfig {
  /** SQLite file, relative to the config file; ":memory:" keeps nothing. Default ".fluid/fluid.db". `FLUID_STORE` overrides. */
  path?: string;
  /** Log lines kept per attempt. Default 1000. */
  logCap?: number;
  /** How long runs are kept. Default 30 days and at most 1000 runs per task. */
  retention?: { days?: number; perTask?: number };
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
}

/** Declares the config with types; returns it unchanged. */
export function defineConfig<Deps = unknown>(config: FluidConfig<Deps>): FluidConfig<Deps> {
  return config;
}
