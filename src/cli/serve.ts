import { existsSync } from "node:fs";
import type { ChalkInstance } from "chalk";
import { parseDuration, formatDuration } from "../core/duration.js";
import { ExitCode, UsageError } from "../core/errors.js";
import { splitList } from "../daemon/routing.js";
import type { DaemonEvent, ServeOptions } from "../daemon/serve.js";
import { formatLogLine, printError, stateText, type Output } from "./output.js";
import type { RunState } from "../core/types.js";
import { discardCodeCache } from "../startup/code-cache.js";
import { DEFAULT_HOST, isLoopback, parseListen } from "../http/address.js";
import type { HttpServer } from "../http/server.js";
import { importModule } from "../core/dynamic-import.js";
import { ownZod } from "../task/own-zod.js";
import { daemonView } from "./http-view.js";
import type { SchedulerEvent } from "../schedule/timer.js";
import type { PoolEvent } from "../executor/pool.js";

/** Options of `fluid serve` as they come from argv. */
export interface ServeCliOptions {
  config?: string;
  concurrency?: string;
  grace?: string;
  broker?: string;
  /** Fleet backend URL (docs/fleet.md). */
  backend?: string;
  logFormat?: string;
  /** `--env-file`, in order. */
  envFile?: string[];
  /** `--http [host:]port`: serve the HTTP API there (docs/http.md). */
  http?: string;
  /** `--tasks a,b`: run only these tasks' runs (routing, docs/fleet.md). */
  tasks?: string;
  /** `--tags heavy`: run only the runs of tasks with any of these tags. */
  tags?: string;
  /** false with `--no-schedules`: fire no schedule here. */
  schedules?: boolean;
}

/** `fluid serve`: runs the daemon in the foreground until SIGTERM/SIGINT; resolves with the exit code. */
export async function serveCommand(o: ServeCliOptions, io: Output): Promise<number> {
  const format = o.logFormat ?? (io.err.isTTY ? "pretty" : "json");
  if (format !== "pretty" && format !== "json") throw new UsageError(`--log-format must be "pretty" or "json", got "${format}"`);
  const concurrency = o.concurrency === undefined ? undefined : Number(o.concurrency);
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1)) {
    throw new UsageError(`--concurrency must be a whole number >= 1, got "${o.concurrency}"`);
  }
  if (o.broker !== undefined && o.broker !== "sqlite" && o.broker !== "memory") {
    throw new UsageError(`--broker must be "sqlite" or "memory", got "${o.broker}"`);
  }
  const graceMs = o.grace === undefined ? undefined : parseDuration(o.grace, "--grace");
  const write = format === "json" ? jsonWriter(io) : prettyWriter(io);
  const flushHeld = (): void => (format === "json" ? undefined : (write as ReturnType<typeof prettyWriter>).flush());
  const { serve } = await import("../daemon/serve.js");
  const flag = o.http === undefined ? undefined : parseListen(o.http);
  let http: HttpSettings | undefined;
  const options: ServeOptions = {
    ...(o.config ? { config: o.config } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(graceMs !== undefined ? { graceMs } : {}),
    ...(o.broker ? { broker: o.broker as "sqlite" | "memory" } : {}),
    ...(o.envFile && o.envFile.length > 0 ? { envFiles: o.envFile } : {}),
    ...(o.backend ? { backend: o.backend } : {}),
    ...routingOf(o),
    ...(o.schedules === false ? { schedules: false } : {}),
    onEvent: write,
    // Before the daemon starts: a bad HTTP setting (a public address without a token) stops it here.
    validate: (config) => void (http = httpSettings(flag, config.http, process.env)),
  };
  const daemon = await serve(options).finally(flushHeld);
  let server: HttpServer | undefined;
  if (http) {
    try {
      const { startHttpServer } = await loadHttpServer();
      const zod = ownZod(); // the zod the config layer gave the tasks
      server = await startHttpServer(daemonView(daemon), { ...http, zod, onError: (error) => write({ type: "error", message: `HTTP API: ${(error as Error).message}`, error }) });
    } catch (error) {
      await daemon.stop("the HTTP API could not start");
      throw error;
    }
    printHttp(io, format, server);
  }
  let signals = 0;
  const onStop = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      io.err.write(`${signal} again: exiting now\n`);
      process.exit(ExitCode.interrupted);
    }
    void daemon.stop(`${signal} received`);
  };
  const onHup = (): void => void daemon.reload();
  process.on("SIGTERM", onStop);
  process.on("SIGINT", onStop);
  process.on("SIGHUP", onHup);
  // The handlers are set in the same turn as "started", so no signal meets a daemon without them.
  try {
    discardCodeCache(); // a daemon's cached data would slow every later short command (see there)
    (await import("../config/compile.js")).stopEsbuild(); // start-up is over: no esbuild child for months
    await daemon.done;
  } finally {
    await server?.close();
    process.off("SIGTERM", onStop);
    process.off("SIGINT", onStop);
    process.off("SIGHUP", onHup);
  }
  return ExitCode.success;
}

/**
 * The HTTP server's module. Built as its own ES module (dist/http/server.js, with hono), out of
 * the CLI bundle, so no other command pays for loading it; imported through the boot's real
 * `import()` (the CLI runs from the code cache). From src/ (tests), the .ts beside it.
 */
async function loadHttpServer(): Promise<typeof import("../http/server.js")> {
  const url = new URL("../http/server.js", import.meta.url);
  const href = existsSync(url) ? url.href : url.href.replace(/\.js$/, ".ts");
  return (await importModule(href)) as typeof import("../http/server.js");
}

/** Where and how the HTTP API listens. */
interface HttpSettings {
  host: string;
  port: number;
  token: string | undefined;
}

/**
 * The HTTP settings from `--http` and the config (the flag wins; FLUID_TOKEN wins over
 * http.token), or undefined when neither asks for a server. Throws a UsageError for an address
 * beyond this machine without a token: the daemon does not start.
 */
function httpSettings(flag: { host: string | undefined; port: number } | undefined, config: { port?: number; host?: string; token?: string }, env: NodeJS.ProcessEnv): HttpSettings | undefined {
  const port = flag?.port ?? config.port;
  if (port === undefined) return undefined;
  const host = flag?.host ?? config.host ?? DEFAULT_HOST;
  const token = env.FLUID_TOKEN || config.token || undefined;
  if (!isLoopback(host) && !token) {
    throw new UsageError(`fluid serve --http ${host}:${port} would open the API beyond this machine without a token`, {
      hint: "set FLUID_TOKEN=<secret> (or http.token in fluid.config.ts), or listen on 127.0.0.1",
    });
  }
  return { host, port, token };
}

/** The start-up line that says where the HTTP API listens (tests and users read the port from it). */
function printHttp(io: Output, format: string, server: HttpServer): void {
  const auth = server.tokenForAll ? "token required" : server.hasToken ? "token required for changes" : "read-only: no token set";
  if (format === "json") {
    io.err.write(JSON.stringify({ ts: new Date().toISOString(), event: "http", url: server.url, host: server.host, port: server.port, auth }) + "\n");
  } else {
    io.err.write(`  http         ${server.url} ${io.err.c.dim(`(${auth}; dashboard at /, metrics at /metrics)`)}\n`);
  }
}

/** One JSON object per line on stderr, for log collectors. */
function jsonWriter(io: Output): (e: DaemonEvent) => void {
  return (e) => {
    const ts = new Date().toISOString();
    let line: Record<string, unknown>;
    switch (e.type) {
      case "run-start":
        line = { event: e.type, task: e.run.task, id: e.run.id, attempt: e.run.attempt, trigger: e.run.trigger };
        break;
      case "run-end":
        line = { event: e.type, task: e.run.task, id: e.run.id, attempt: e.run.attempt, state: e.state, durationMs: e.durationMs, ...(e.error ? { error: e.error.message } : {}), ...(e.retryInMs !== undefined ? { retryInMs: e.retryInMs } : {}) };
        break;
      case "log":
        line = { event: "log", task: e.line.task, id: e.line.runId, attempt: e.line.attempt, level: e.line.level, message: e.line.message };
        break;
      case "fire":
        line = { event: e.type, task: e.fire.task, id: e.runId, scheduledAt: new Date(e.fire.scheduledAt).toISOString(), kind: e.fire.kind };
        break;
      case "fire-skipped":
        line = { event: e.type, task: e.fire.task, scheduledAt: new Date(e.fire.scheduledAt).toISOString(), reason: e.reason, skipped: e.skipped };
        break;
      case "error":
        line = { event: e.type, message: e.message };
        break;
      case "notify-failed":
        line = { event: e.type, notifier: e.failure.notifier, what: e.failure.what, task: e.failure.task, id: e.failure.runId, message: e.failure.message };
        break;
      case "reload-failed":
        line = { event: e.type, message: (e.error as Error).message };
        break;
      case "scheduler": {
        // Times as ISO 8601 like every other line; an error as its message (JSON drops an Error's fields).
        const { at, ...rest } = e.event;
        line = { event: "scheduler", ...rest, at: new Date(at).toISOString(), ...("error" in rest ? { error: rest.error instanceof Error ? rest.error.message : String(rest.error) } : {}) };
        break;
      }
      case "pool":
        line = { ...e.event, event: "pool", worker: e.event.type };
        delete line.type;
        break;
      default:
        line = { ...e, event: e.type };
        delete line.type;
    }
    io.err.write(JSON.stringify({ ts, ...line }) + "\n");
  };
}

/**
 * Human lines on a terminal: every event as one readable line (times as ISO 8601 UTC), none
 * as raw JSON. Events that come before "started" (a catch-up planned at start, recovered
 * runs) are held and printed after the summary, so the header comes first. `flush` prints
 * what is still held (serve failed before it started).
 */
export function prettyWriter(io: Output): ((e: DaemonEvent) => void) & { flush(): void } {
  const c = io.err.c;
  const iso = (ms: number): string => new Date(ms).toISOString();
  let held: Array<() => void> | undefined = [];
  const print = (e: DaemonEvent, at: number): void => {
    const w = (text: string): void => io.err.write(`${c.dim(iso(at).slice(11, 23))} ${text}\n`);
    switch (e.type) {
      case "started":
        io.err.write(summaryText(c, e.summary));
        break;
      case "run-start":
        w(`${c.cyan("start")}  ${c.bold(e.run.task)} ${c.dim(e.run.id.slice(0, 8))} ${c.dim(`${e.run.trigger}${e.run.attempt > 1 ? ` attempt ${e.run.attempt}` : ""}`)}`);
        break;
      case "run-end":
        w(`${c.bold("end")}    ${c.bold(e.run.task)} ${c.dim(e.run.id.slice(0, 8))} ${stateText(c, e.state as RunState)} ${formatDuration(e.durationMs)}${e.error ? ` ${c.dim(e.error.message)}` : ""}${e.retryInMs !== undefined ? c.yellow(` retry in ${formatDuration(e.retryInMs)}`) : ""}`);
        break;
      case "log":
        io.err.write(formatLogLine(c, e.line));
        break;
      case "fire":
        // An on-time fire is the "start" line that follows; only a late (catch-up) one is news.
        if (e.fire.kind === "catch-up") w(`${c.magenta("catch-up")} ${c.bold(e.fire.task)} ${c.dim(e.runId.slice(0, 8))} due ${iso(e.fire.scheduledAt)}`);
        break;
      case "fire-skipped":
        w(`${c.yellow("skipped")} ${c.bold(e.fire.task)} fire due ${iso(e.fire.scheduledAt)}: ${e.reason} (${e.skipped} so far)`);
        break;
      case "scheduler":
        w(schedulerText(c, e.event));
        break;
      case "recovered":
        w(`${c.yellow("recovered")} ${e.runs} queued run(s) claimed by a daemon that stopped, ${e.interrupted} run(s) marked interrupted`);
        break;
      case "reloaded":
        w(`${c.green("reloaded")} ${e.tasks} task(s)`);
        break;
      case "reload-failed":
        printError(io.err, e.error);
        w(`${c.red("reload failed")}: still running the previous tasks`);
        break;
      case "stopping":
        w(`${c.yellow("stopping")} (${e.reason}): ${e.running} run(s) in progress, waiting up to ${formatDuration(e.graceMs)}; signal again to exit at once`);
        break;
      case "stopped":
        w(`${c.green("stopped")}: ${e.finished} run(s) finished, ${e.interrupted} interrupted and put back in the queue`);
        break;
      case "pool":
        w(poolText(c, e.event));
        break;
      case "error":
        w(`${c.red("error")} ${e.message}`);
        break;
      case "warning":
        w(`${c.yellow("warning")} ${e.message}${e.hint ? `\n  ${c.dim(e.hint)}` : ""}`);
        break;
      case "backend":
        w(`${e.state === "down" ? c.red("backend down") : c.green("backend up")} ${e.message}`);
        break;
      case "notify-failed":
        w(`${c.yellow("notify")} ${e.failure.notifier} ${e.failure.what} of ${c.bold(e.failure.task)} ${c.dim(e.failure.runId.slice(0, 8))} not delivered: ${e.failure.message}`);
        break;
      default:
        w(`${(e as { type: string }).type}`);
    }
  };
  const write = (e: DaemonEvent): void => {
    const at = Date.now();
    if (held && e.type !== "started") {
      held.push(() => print(e, at));
      return;
    }
    print(e, at);
    if (e.type === "started") write.flush();
  };
  write.flush = (): void => {
    const rest = held ?? [];
    held = undefined;
    for (const p of rest) p();
  };
  return write;
}

function schedulerText(c: ChalkInstance, e: SchedulerEvent): string {
  switch (e.type) {
    case "clock-jump":
      return `${c.yellow("clock")} the wall clock jumped ${e.direction} by ${formatDuration(Math.abs(e.deltaMs))}${e.direction === "forward" ? "; missed fires go through catch-up" : "; nothing already fired repeats"}`;
    case "stall":
      return `${c.yellow("stall")} the scheduler woke after ${formatDuration(e.sleptMs)} instead of ${formatDuration(e.plannedMs)} (a blocked event loop, or the machine was suspended)`;
    case "late-fire":
      return `${c.yellow("late")} ${c.bold(e.task)} fire due ${new Date(e.scheduledAt).toISOString()} ran ${formatDuration(e.lateMs)} late${e.count > 1 ? ` (${e.count} late fires)` : ""}`;
    case "catch-up": {
      const tasks = e.tasks.map((t) => `${t.task} ${t.missed}${t.missedCapped ? "+" : ""} missed, ${t.planned} to run (${t.policy})`).join("; ");
      return `${c.magenta("catch-up")} ${e.missed} missed fire(s) ${e.reason === "start" ? "while the daemon was down" : `after a ${e.reason}`}, ${e.planned} to run${tasks ? `: ${tasks}` : ""}`;
    }
    case "error":
      return `${c.red("error")} scheduler (${e.where}) for ${c.bold(e.task)}: ${e.error instanceof Error ? e.error.message : String(e.error)}`;
    default:
      return `${c.yellow("scheduler")} ${(e as { type: string }).type}`;
  }
}

function poolText(c: ChalkInstance, e: PoolEvent): string {
  const pid = `pid ${e.pid ?? "?"}`;
  const how = (code: number | undefined, signal: string | undefined): string => (signal ? `signal ${signal}` : `code ${code ?? "?"}`);
  switch (e.type) {
    case "spawned":
      return `${c.dim("worker")} ${pid} started${e.isolate ? " (one run)" : ""}`;
    case "exited":
      return `${e.expected ? c.dim("worker") : c.yellow("worker")} ${pid} exited with ${how(e.code, e.signal)}`;
    case "recycled":
      return `${c.dim("worker")} ${pid} replaced after ${e.runs} run(s) (${e.reason === "runs" ? "maxRunsPerWorker" : e.reason === "memory" ? `${e.rssMb} MB over maxWorkerMemory` : "reload"})`;
    case "reaped":
      return `${c.dim("worker")} ${pid} stopped after ${formatDuration(e.idleMs)} idle`;
    case "crashed":
      return `${c.yellow("worker")} ${pid} crashed ${e.during === "run" ? "during a run" : e.during === "start" ? "while starting" : "while idle"}: ${how(e.code, e.signal)}`;
    case "killed":
      return `${c.yellow("worker")} ${pid} killed: ${e.reason}`;
    default:
      return `${c.dim("worker")} ${(e as { type: string }).type}`;
  }
}

function summaryText(c: ChalkInstance, s: import("../daemon/serve.js").DaemonSummary): string {
  let text = `${c.bold("fluid serve")} pid ${s.pid}\n`;
  text += `  config       ${s.configFile}\n  store        ${s.store}\n  broker       ${s.broker}${s.backend ? ` (${s.backend})` : ""}\n  concurrency  ${s.concurrency}\n  tasks        ${s.tasks}\n`;
  if (s.pool) text += `  cpu pool     ${s.pool.workers} worker(s) now, started on demand (size from config pool.size, default cores - 1)\n`;
  if (s.serves) text += `  serves       ${s.serves.join(", ") || c.dim("no task loaded now")} ${c.dim("(--tasks/--tags: other runs are left to other daemons)")}\n`;
  if (!s.firesSchedules) text += `  schedules    ${c.dim("not fired here (--no-schedules)")}\n`;
  else if (s.schedules.length === 0) text += `  schedules    ${c.dim("none")}\n`;
  for (const [i, sc] of s.schedules.entries()) {
    text += `  ${i === 0 ? "schedules    " : "             "}${c.bold(sc.task)} ${sc.schedule}${sc.next ? c.dim(`, next ${sc.next}`) : ""}\n`;
  }
  return text;
}

/** `--tasks` / `--tags` as the daemon's routing; a flag given empty ("--tasks ,") is a usage error, not "every task". */
function routingOf(o: ServeCliOptions): Pick<ServeOptions, "routing"> {
  const tasks = splitList(o.tasks);
  const tags = splitList(o.tags);
  if (o.tasks !== undefined && tasks.length === 0) throw new UsageError("--tasks needs at least one task name", { hint: "e.g. fluid serve --tasks resize_images,transcode" });
  if (o.tags !== undefined && tags.length === 0) throw new UsageError("--tags needs at least one tag", { hint: "e.g. fluid serve --tags heavy" });
  return tasks.length || tags.length ? { routing: { ...(tasks.length ? { tasks } : {}), ...(tags.length ? { tags } : {}) } } : {};
}
