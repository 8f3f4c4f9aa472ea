import type { ChalkInstance } from "chalk";
import { parseDuration, formatDuration } from "../duration.js";
import { ExitCode, UsageError } from "../errors.js";
import type { DaemonEvent, ServeOptions } from "../daemon/serve.js";
import { formatLogLine, printError, stateText, type Output } from "./output.js";
import type { RunState } from "../types.js";
import { flushCodeCache } from "../loader/code-cache.js";

/** Options of `fluid serve` as they come from argv. */
export interface ServeCliOptions {
  config?: string;
  concurrency?: string;
  grace?: string;
  broker?: string;
  logFormat?: string;
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
  const { serve } = await import("../daemon/serve.js");
  const options: ServeOptions = {
    ...(o.config ? { config: o.config } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(graceMs !== undefined ? { graceMs } : {}),
    ...(o.broker ? { broker: o.broker as "sqlite" | "memory" } : {}),
    onEvent: write,
  };
  const daemon = await serve(options);
  flushCodeCache(); // now, not at exit: a daemon may run for months, or end by SIGKILL
  (await import("../config/compile.js")).stopEsbuild(); // start-up is over: no esbuild child for months
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
  try {
    await daemon.done;
  } finally {
    process.off("SIGTERM", onStop);
    process.off("SIGINT", onStop);
    process.off("SIGHUP", onHup);
  }
  return ExitCode.success;
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
      case "reload-failed":
        line = { event: e.type, message: (e.error as Error).message };
        break;
      case "scheduler":
        line = { event: "scheduler", ...e.event };
        break;
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

/** Human lines on a terminal. */
function prettyWriter(io: Output): (e: DaemonEvent) => void {
  const c = io.err.c;
  const time = (): string => c.dim(new Date().toISOString().slice(11, 23));
  return (e) => {
    const w = (text: string): void => io.err.write(`${time()} ${text}\n`);
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
        if (e.fire.kind === "catch-up") w(`${c.magenta("catch-up")} ${e.fire.task} due ${new Date(e.fire.scheduledAt).toISOString()}`);
        break;
      case "fire-skipped":
        w(`${c.yellow("skipped")} ${e.fire.task} fire at ${new Date(e.fire.scheduledAt).toISOString()}: ${e.reason} (${e.skipped} so far)`);
        break;
      case "scheduler":
        w(`${c.yellow("scheduler")} ${JSON.stringify(e.event)}`);
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
        if (e.event.type === "crashed" || e.event.type === "killed") w(`${c.yellow("worker")} ${JSON.stringify(e.event)}`);
        break;
      case "error":
        w(`${c.red("error")} ${e.message}`);
        break;
    }
  };
}

function summaryText(c: ChalkInstance, s: import("../daemon/serve.js").DaemonSummary): string {
  let text = `${c.bold("fluid serve")} pid ${s.pid}\n`;
  text += `  config       ${s.configFile}\n  store        ${s.store}\n  broker       ${s.broker}\n  concurrency  ${s.concurrency}\n  tasks        ${s.tasks}\n`;
  if (s.pool) text += `  cpu pool     ${s.pool.workers} worker(s) now, started on demand (size from config pool.size, default cores - 1)\n`;
  if (s.schedules.length === 0) text += `  schedules    ${c.dim("none")}\n`;
  for (const [i, sc] of s.schedules.entries()) {
    text += `  ${i === 0 ? "schedules    " : "             "}${c.bold(sc.task)} ${sc.schedule}${sc.next ? c.dim(`, next ${sc.next}`) : ""}\n`;
  }
  return text;
}
