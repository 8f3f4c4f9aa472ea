import type { NotifyOptions } from "../task/notify-options.js";
import type { CommandOptions } from "../task/command.js";
import type { ParamsSchema, Schedule } from "../core/types.js";

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

/**
 * A command task written as plain data in the config (`commands: { backup: { ... } }`): the
 * options of `command()`, plus `command` itself and `schedule` as text.
 */
export interface CommandConfig extends Omit<CommandOptions<ParamsSchema>, "schedule"> {
  /** The command line (run by `shell`, default /bin/sh, with -c), or an argv array (no shell). Required. */
  command: string | string[];
  /**
   * When the daemon runs it: a cron pattern ("0 3 * * *", "@daily"; in the config's `timezone`),
   * an interval ("every 5m", or just "5m"), or a schedule made by `cron()`, `crontab()` or `every()`.
   * @default undefined (never scheduled)
   */
  schedule?: string | Schedule;
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
  /** Globs of task modules, relative to the config file, e.g. ["./tasks/*.ts"]. Required, unless `commands` or `crontabs` is given. */
  tasks?: string[];
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
   * Environment files (`KEY=VALUE` lines, read as systemd's `EnvironmentFile=`), relative to the
   * config file, loaded before the task modules; a leading "-" makes one optional ("-./.env").
   * A variable already in the environment is not overridden; a later file wins over an earlier
   * one. See docs/service.md.
   * @default none
   */
  envFile?: string | string[];
  /**
   * Alerts for every task's runs (docs/notify.md): `webhook`, `command`, `mailto`, `sendmail`,
   * `logLines`; sent on a failure or timeout after the last attempt and on recovery, never on
   * an ordinary success. A task's own `notify` is laid over it notifier by notifier.
   * @default undefined (no alerts)
   * @example notify: { webhook: "https://hooks.example/fluid", mailto: "ops@example.com" }
   */
  notify?: Omit<NotifyOptions, "healthchecks"> | false;
  /**
   * Command tasks defined here, without a task module: name -> `{ command, schedule, timeout, ... }`
   * (see `CommandConfig`). A name a task module also uses is a config error.
   * @default {}
   * @example commands: { backup: { command: "pg_dump mydb > /backups/db.sql", schedule: "0 3 * * *", timeout: "2h" } }
   */
  commands?: Record<string, CommandConfig>;
  /**
   * Crontab files (relative to the config file) whose lines become command tasks, read at
   * every load (so at `fluid serve` start and on reload, SIGHUP). A user crontab or one with a
   * user field (detected). Times without CRON_TZ are read in `timezone`. A line cron would
   * reject is a config error naming file:line. See docs/crontab.md.
   * @default [] (with `crontabs`, `tasks` may be left out)
   * @example crontabs: ["./jobs.cron"]
   */
  crontabs?: string[];
  /** The HTTP API of `fluid serve`; see `HttpConfig` for each option's default. Off unless a port is set. */
  http?: HttpConfig;
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
 * @param config `tasks` (required, unless `commands` is given) and the optional `deps`, `store`,
 *   `timezone` ("UTC"), `concurrency` (10), `pool`, `envFile`, `notify` (none) and `commands`
 *   (command tasks as plain data, docs/commands.md).
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
