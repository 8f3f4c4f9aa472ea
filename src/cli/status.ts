import { formatDuration } from "../core/duration.js";
import { ExitCode } from "../core/errors.js";
import type { DaemonStatus } from "../daemon/status.js";
import { stateText, type Output } from "./output.js";
import { loadForStore } from "./project.js";
import { ago, localTime } from "./store-access.js";
import type { RunState } from "../core/types.js";

/** Options of `fluid status`. */
export interface StatusCliOptions {
  config?: string;
  json?: boolean;
}

/**
 * `fluid status`: whether a daemon serves this project's store (pid, host, since, heartbeat),
 * the queue, running runs, the last failure and the next fires. Reads the store read-only and
 * never takes the lease. Exit 0 when a daemon serves the store, 3 when none does (as an LSB
 * init script's `status`), so it can be a probe.
 */
export async function statusCommand(o: StatusCliOptions, io: Output): Promise<number> {
  const project = await loadForStore(o.config, "tolerant", io);
  const { readDaemonStatus } = await import("../daemon/status.js");
  const status = await readDaemonStatus(project);
  if (o.json) io.out.write(JSON.stringify(status) + "\n");
  else io.out.write(statusText(io, status));
  return status.serving ? ExitCode.success : ExitCode.notServing;
}

/** The human form of a status. */
export function statusText(io: Output, s: DaemonStatus, now = Date.now()): string {
  const c = io.out.c;
  const field = (name: string, value: string): string => `${c.dim(name.padEnd(12))} ${value}\n`;
  let text = "";
  const d = s.daemon;
  if (s.serving && d) {
    text += `${c.green("serving".padEnd(12))} pid ${d.pid} on ${d.host}, since ${localTime(d.since)} (${ago(d.since, now)})\n`;
    text += field("heartbeat", `${formatDuration(d.heartbeatAgeMs)} ago${d.heartbeatLate ? c.yellow(" (late: event loop blocked, or the process is stopped?)") : ""}`);
  } else {
    text += `${c.red("not serving".padEnd(12))} ${d ? `the last daemon, pid ${d.pid} on ${d.host} since ${localTime(d.since)}, stopped without giving up its lease (${d.why})` : "no daemon holds the store's lease"}\n`;
  }
  text += field("config", s.configFile);
  text += field("store", s.store ?? c.dim("(none)"));
  const b = s.backend;
  if (b?.reachable) {
    text += field("backend", `${b.url} ${c.green("reachable")}`);
    text += field("queue", `${b.queue.ready} ready, ${b.queue.delayed} delayed, ${b.queue.claimed} claimed ${c.dim("(the fleet's)")}`);
  } else if (b) {
    text += field("backend", `${b.url} ${c.red("unreachable from here")}: ${b.error}`);
  } else if (s.queue) {
    text += field("queue", `${s.queue.ready} ready, ${s.queue.delayed} delayed, ${s.queue.claimed} claimed`);
  }
  if (s.running.length === 0) text += field("running", c.dim("none"));
  for (const [i, r] of s.running.entries()) {
    text += `${i === 0 ? c.dim("running".padEnd(12)) : " ".repeat(12)} ${c.bold(r.task)} ${r.id.slice(0, 12)}${r.attempt > 1 ? ` attempt ${r.attempt}` : ""}${r.startedAt !== null ? c.dim(`, started ${ago(r.startedAt, now)}`) : ""}\n`;
  }
  const f = s.lastFailure;
  text += field("last failure", f ? `${c.bold(f.task)} ${f.id.slice(0, 12)} ${stateText(c, f.state as RunState)} ${f.at !== null ? `${localTime(f.at)} (${ago(f.at, now)})` : ""}${f.error ? `\n${" ".repeat(13)}${c.dim(f.error.split("\n")[0]!)}` : ""}` : c.dim("none"));
  if (s.next.length === 0) text += field("next", c.dim("no schedules"));
  const shown = 10;
  for (const [i, n] of s.next.slice(0, shown).entries()) {
    const when = n.next === null ? c.dim("never") : `${localTime(Date.parse(n.next))} (${ago(Date.parse(n.next), now)})`;
    text += `${i === 0 ? c.dim("next".padEnd(12)) : " ".repeat(12)} ${c.bold(n.task)} ${when}${n.enabled ? "" : c.yellow(" disabled")} ${c.dim(n.schedule)}\n`;
  }
  if (s.next.length > shown) text += `${" ".repeat(12)} ${c.dim(`and ${s.next.length - shown} more (--json lists all)`)}\n`;
  for (const note of s.notes) text += `${c.yellow("note:")} ${note}\n`;
  return text;
}
