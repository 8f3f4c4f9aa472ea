import { formatDuration } from "../core/duration.js";
import type { ErrorInfo } from "../core/errors.js";
import type { LogLine, RunState } from "../core/types.js";
import type { AlertKind } from "./decide.js";

/** Everything an alert says about a run: the payload every notifier formats its own way. */
export interface RunNotice {
  kind: AlertKind;
  task: string;
  runId: string;
  /** The run's last attempt, 1-based, and how many it could have. */
  attempt: number;
  maxAttempts: number;
  trigger?: string;
  state: RunState;
  error?: ErrorInfo;
  host: string;
  /** Of the last attempt, epoch ms. */
  startedAt: number;
  endedAt: number;
  durationMs: number;
  /** The last attempt's last log lines, oldest first. */
  logLines: LogLine[];
  /** failure/timeout: runs in a row that failed, this one included; recovery: failed runs before this success. */
  failures: number;
  /** When the task started failing (epoch ms), if known. */
  failingSince?: number;
}

/** A one-line summary, e.g. "backup failed on db1 (attempt 3/3, 1.20s): exit code 1". */
export function noticeText(n: RunNotice): string {
  if (n.kind === "recovery") {
    return `${n.task} recovered on ${n.host}: ${n.state} after ${n.failures} failed run${n.failures === 1 ? "" : "s"}${n.failingSince ? ` since ${iso(n.failingSince)}` : ""}`;
  }
  const what = n.kind === "timeout" ? "timed out" : "failed";
  const message = n.error ? `: ${firstLine(n.error.message, 300)}` : "";
  return `${n.task} ${what} on ${n.host} (attempt ${n.attempt}/${n.maxAttempts}, ${formatDuration(n.durationMs)})${message}`;
}

/** The JSON body a webhook receives (docs/notify.md lists the fields). */
export function webhookBody(n: RunNotice): Record<string, unknown> {
  return {
    source: "fluid-tasks",
    kind: n.kind,
    text: noticeText(n),
    task: n.task,
    runId: n.runId,
    attempt: n.attempt,
    maxAttempts: n.maxAttempts,
    ...(n.trigger ? { trigger: n.trigger } : {}),
    state: n.state,
    error: n.error ? { name: n.error.name, message: n.error.message, ...(n.error.code ? { code: n.error.code } : {}) } : null,
    host: n.host,
    startedAt: iso(n.startedAt),
    endedAt: iso(n.endedAt),
    durationMs: n.durationMs,
    failures: n.failures,
    failingSince: n.failingSince === undefined ? null : iso(n.failingSince),
    logLines: n.logLines.map((l) => ({ ts: iso(l.ts), level: l.level, message: l.message })),
  };
}

/** The environment a command notifier gets (besides the daemon's own). */
export function noticeEnv(n: RunNotice): Record<string, string> {
  return clean({
    FLUID_KIND: n.kind,
    FLUID_TASK: n.task,
    FLUID_RUN_ID: n.runId,
    FLUID_ATTEMPT: String(n.attempt),
    FLUID_MAX_ATTEMPTS: String(n.maxAttempts),
    FLUID_TRIGGER: n.trigger ?? "",
    FLUID_STATE: n.state,
    FLUID_ERROR: n.error?.message ?? "",
    FLUID_ERROR_NAME: n.error?.name ?? "",
    FLUID_ERROR_CODE: n.error?.code ?? "",
    FLUID_HOST: n.host,
    FLUID_STARTED_AT: iso(n.startedAt),
    FLUID_ENDED_AT: iso(n.endedAt),
    FLUID_DURATION_MS: String(n.durationMs),
    FLUID_FAILURES: String(n.failures),
    FLUID_TEXT: noticeText(n),
    FLUID_LOG: n.logLines.map(logText).join("\n"),
  });
}

/** The lines of the body of a mail or a ping: the summary, the facts, the last log lines. */
export function noticeReport(n: RunNotice): string {
  const rows: Array<[string, string]> = [
    ["task", n.task],
    ["run", n.runId],
    ["state", `${n.state} (attempt ${n.attempt} of ${n.maxAttempts})`],
    ["host", n.host],
    ["started", iso(n.startedAt)],
    ["ended", iso(n.endedAt)],
    ["duration", formatDuration(n.durationMs)],
  ];
  if (n.trigger) rows.push(["trigger", n.trigger]);
  if (n.error) rows.push(["error", `${n.error.name}: ${n.error.message}`]);
  if (n.kind === "recovery") rows.push(["failed before", `${n.failures} run(s)${n.failingSince ? ` since ${iso(n.failingSince)}` : ""}`]);
  let text = `${noticeText(n)}\n\n${rows.map(([k, v]) => `${k.padEnd(14)}${v}`).join("\n")}\n`;
  if (n.logLines.length > 0) text += `\nLast ${n.logLines.length} log line${n.logLines.length === 1 ? "" : "s"}:\n${n.logLines.map(logText).join("\n")}\n`;
  return text;
}

/**
 * The body of a dead-man's-switch ping (healthchecks.io keeps it as the ping's log): the
 * alert's report for a failure, else a line saying the run succeeded and its last log lines.
 */
export function pingReport(n: RunNotice, failed: boolean): string {
  if (failed) return noticeReport(n);
  let text = `${n.task} ${n.state} on ${n.host} (attempt ${n.attempt}/${n.maxAttempts}, ${formatDuration(n.durationMs)})\n`;
  if (n.logLines.length > 0) text += `\n${n.logLines.map(logText).join("\n")}\n`;
  return text;
}

/** A log line as text: "2026-12-01T03:00:01.250Z stderr pg_dump: connection refused". */
export function logText(l: LogLine): string {
  return `${iso(l.ts)} ${l.level} ${l.message}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function firstLine(text: string, max: number): string {
  const line = text.split("\n", 1)[0] ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Environment values cannot hold NUL. */
function clean(env: Record<string, string>): Record<string, string> {
  for (const key of Object.keys(env)) env[key] = env[key]!.replaceAll("\0", "");
  return env;
}
