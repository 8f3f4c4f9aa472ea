/**
 * Alerts (`notify`) as a user writes them, in the config and per task, and as they are after
 * validation. What sends them is src/notify/; this file only defines and checks the settings,
 * so task() and the config can validate them where they are written.
 */
import { parseDurationAs } from "../core/duration.js";
import type { Duration } from "../core/types.js";
import type { FluidError } from "../core/errors.js";

/**
 * Where alerts go (docs/notify.md). Alerts are sent when a run fails or times out for good
 * (after its last attempt) and when a task recovers (its first success after failures); never
 * on an ordinary success. `healthchecks` is a dead-man's switch pinged on every run.
 *
 * In a task, `notify` is laid over the config's, notifier by notifier: a notifier the task
 * names replaces the config's of that kind, one it does not name is kept, one set to `false`
 * is turned off; `notify: false` turns every alert of the task off.
 */
export interface NotifyOptions {
  /**
   * POST a JSON body (task, run id, state, error, last log lines, host, ...; docs/notify.md) to
   * this URL, or to each of several. A URL, or `{ url, headers, timeout, attempts, retryDelay }`.
   * @default undefined (none)
   */
  webhook?: string | WebhookOptions | Array<string | WebhookOptions> | false;
  /**
   * Run a shell command (`/bin/sh -c`) with the run's information in FLUID_* environment
   * variables and the webhook's JSON body on its stdin. A command, or `{ run, timeout }`.
   * @default undefined (none)
   */
  command?: string | CommandNotifierOptions | false;
  /**
   * Mail through the local `sendmail` (cron's MAILTO): an address, several separated by
   * commas, or an array; "" = none (as cron's `MAILTO=""`).
   * @default undefined (none)
   */
  mailto?: string | string[] | false;
  /**
   * The `sendmail` program for `mailto`: a path.
   * @default the first `sendmail` on PATH, else /usr/sbin/sendmail, else /usr/lib/sendmail
   */
  sendmail?: string;
  /**
   * Dead-man's switch (healthchecks.io style), tasks only: a check's ping URL (pinged at
   * `<url>/start` when a run starts, `<url>` on success, `<url>/fail` on failure or timeout),
   * or `{ start, success, fail }`, each URL optional.
   * @default undefined (none)
   */
  healthchecks?: string | HealthchecksOptions | false;
  /**
   * How many of the run's last log lines an alert carries; 0 = none.
   * @default 20
   */
  logLines?: number;
}

/** A webhook with its options. */
export interface WebhookOptions {
  /** http(s) URL the JSON body is POSTed to. Required. */
  url: string;
  /**
   * Extra request headers, e.g. `{ authorization: "Bearer ..." }`.
   * @default {}
   */
  headers?: Record<string, string>;
  /**
   * Time limit of one request.
   * @default "10s"
   */
  timeout?: Duration;
  /**
   * Requests in all, the first included: a network error, a timeout, a 5xx, 408 or 429 is tried again.
   * @default 3
   */
  attempts?: number;
  /**
   * Wait before the first retry; doubled before each next one.
   * @default "1s"
   */
  retryDelay?: Duration;
}

/** A command notifier with its options. */
export interface CommandNotifierOptions {
  /** The shell command. Required. */
  run: string;
  /**
   * Time limit; at it the command's process group gets SIGTERM, then SIGKILL 2 s later.
   * @default "30s"
   */
  timeout?: Duration;
}

/** Ping URLs of a dead-man's switch; each is optional. */
export interface HealthchecksOptions {
  /** Pinged when an attempt starts. */
  start?: string;
  /** Pinged when a run succeeds. */
  success?: string;
  /** Pinged when a run fails or times out for good. */
  fail?: string;
  /**
   * Time limit of one ping (each is tried up to 3 times).
   * @default "10s"
   */
  timeout?: Duration;
}

/** A webhook, validated. */
export interface WebhookSpec {
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  attempts: number;
  retryDelayMs: number;
}

/** Validated notify settings: a notifier `false` turns off the config's of that kind (merge); undefined keeps it. */
export interface NotifySpec {
  webhook?: WebhookSpec[] | false;
  command?: { run: string; timeoutMs: number } | false;
  mailto?: string[] | false;
  sendmail?: string;
  healthchecks?: { start?: string; success?: string; fail?: string; timeoutMs: number } | false;
  logLines?: number;
}

/** Default number of log lines an alert carries. */
export const DEFAULT_LOG_LINES = 20;

const KEYS = ["webhook", "command", "mailto", "sendmail", "healthchecks", "logLines"];

/**
 * Validates `notify` as written (in a task, or in the config when `inConfig`), throwing what
 * `fail` makes with a message that names the key. Returns the spec, or false for `notify: false`.
 */
export function resolveNotify(
  value: unknown,
  fail: (message: string, hint?: string) => FluidError,
  inConfig = false,
): NotifySpec | false {
  if (value === false) return false;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw fail("notify must be an object or false", 'e.g. notify: { webhook: "https://hooks.example/fluid", mailto: "ops@example.com" }');
  }
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KEYS.includes(key)) throw fail(`unknown notify option "${key}"`, `known: ${KEYS.join(", ")}`);
  }
  const spec: NotifySpec = {};
  const ms = (v: unknown, what: string, fallback: number): number => {
    if (v === undefined) return fallback;
    if (typeof v !== "number" && typeof v !== "string") throw fail(`${what} must be a duration such as "10s" or ms`);
    return parseDurationAs(v, what, (m, h) => fail(m, h));
  };
  if (o.webhook === false) spec.webhook = false;
  else if (o.webhook !== undefined) {
    const list = Array.isArray(o.webhook) ? o.webhook : [o.webhook];
    spec.webhook = list.map((w, i) => webhookSpec(w, `notify.webhook${Array.isArray(o.webhook) ? `[${i}]` : ""}`, fail, ms));
  }
  if (o.command === false) spec.command = false;
  else if (o.command !== undefined) {
    const c = typeof o.command === "string" ? { run: o.command } : o.command;
    if (typeof c !== "object" || c === null || typeof (c as CommandNotifierOptions).run !== "string" || (c as CommandNotifierOptions).run.trim() === "") {
      throw fail("notify.command must be a shell command or { run, timeout }", 'e.g. command: "logger -t fluid \\"$FLUID_TASK $FLUID_STATE\\""');
    }
    for (const key of Object.keys(c)) if (!["run", "timeout"].includes(key)) throw fail(`unknown notify.command option "${key}"`, "known: run, timeout");
    spec.command = { run: (c as CommandNotifierOptions).run, timeoutMs: ms((c as CommandNotifierOptions).timeout, "notify.command.timeout", 30_000) };
  }
  if (o.mailto === false || o.mailto === "") spec.mailto = false;
  else if (o.mailto !== undefined) spec.mailto = addresses(o.mailto, fail);
  if (o.sendmail !== undefined) {
    if (typeof o.sendmail !== "string" || o.sendmail === "") throw fail("notify.sendmail must be the path of a sendmail program");
    spec.sendmail = o.sendmail;
  }
  if (o.healthchecks === false) spec.healthchecks = false;
  else if (o.healthchecks !== undefined) {
    if (inConfig) {
      throw fail("notify.healthchecks belongs to one task, not the config", "set it on the task: task({ notify: { healthchecks: \"https://hc-ping.com/<uuid>\" } }, ...)");
    }
    spec.healthchecks = healthchecksSpec(o.healthchecks, fail, ms);
  }
  if (o.logLines !== undefined) {
    if (!Number.isInteger(o.logLines) || (o.logLines as number) < 0 || (o.logLines as number) > 1000) {
      throw fail(`notify.logLines must be a whole number from 0 to 1000, got ${JSON.stringify(o.logLines)}`);
    }
    spec.logLines = o.logLines as number;
  }
  return spec;
}

/**
 * The notify settings a task's runs use: the task's laid over the config's, notifier by
 * notifier (see NotifyOptions). Undefined when nothing is to be sent.
 */
export function mergeNotify(config: NotifySpec | false | undefined, own: NotifySpec | false | undefined): NotifySpec | undefined {
  if (own === false) return undefined;
  const base = config || {};
  const merged: NotifySpec = { ...base, ...stripUndefined(own ?? {}) };
  const out: NotifySpec = {};
  if (merged.webhook && merged.webhook.length > 0) out.webhook = merged.webhook;
  if (merged.command) out.command = merged.command;
  if (merged.mailto && merged.mailto.length > 0) out.mailto = merged.mailto;
  if (merged.healthchecks) out.healthchecks = merged.healthchecks;
  if (!out.webhook && !out.command && !out.mailto && !out.healthchecks) return undefined;
  if (merged.sendmail !== undefined) out.sendmail = merged.sendmail;
  out.logLines = merged.logLines ?? DEFAULT_LOG_LINES;
  return out;
}

function stripUndefined(spec: NotifySpec): NotifySpec {
  return Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) as NotifySpec;
}

function webhookSpec(
  w: unknown,
  where: string,
  fail: (m: string, h?: string) => FluidError,
  ms: (v: unknown, what: string, fallback: number) => number,
): WebhookSpec {
  const o = (typeof w === "string" ? { url: w } : w) as WebhookOptions;
  if (typeof o !== "object" || o === null) throw fail(`${where} must be a URL or { url, headers, timeout, attempts, retryDelay }`);
  for (const key of Object.keys(o)) {
    if (!["url", "headers", "timeout", "attempts", "retryDelay"].includes(key)) throw fail(`unknown ${where} option "${key}"`, "known: url, headers, timeout, attempts, retryDelay");
  }
  const url = httpUrl(o.url, `${where}${typeof w === "string" ? "" : ".url"}`, fail);
  if (o.headers !== undefined && !(typeof o.headers === "object" && o.headers !== null && Object.values(o.headers).every((v) => typeof v === "string"))) {
    throw fail(`${where}.headers must be an object of string values`);
  }
  const attempts = o.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 10) throw fail(`${where}.attempts must be a whole number from 1 to 10, got ${JSON.stringify(attempts)}`);
  return {
    url, headers: { ...(o.headers ?? {}) }, attempts,
    timeoutMs: Math.max(1, ms(o.timeout, `${where}.timeout`, 10_000)),
    retryDelayMs: ms(o.retryDelay, `${where}.retryDelay`, 1_000),
  };
}

function healthchecksSpec(
  h: unknown,
  fail: (m: string, h?: string) => FluidError,
  ms: (v: unknown, what: string, fallback: number) => number,
): NonNullable<Exclude<NotifySpec["healthchecks"], false>> {
  if (typeof h === "string") {
    const base = httpUrl(h, "notify.healthchecks", fail).replace(/\/+$/, "");
    return { start: `${base}/start`, success: base, fail: `${base}/fail`, timeoutMs: 10_000 };
  }
  if (typeof h !== "object" || h === null || Array.isArray(h)) {
    throw fail("notify.healthchecks must be a ping URL or { start, success, fail }", 'e.g. healthchecks: "https://hc-ping.com/<uuid>"');
  }
  const o = h as HealthchecksOptions;
  for (const key of Object.keys(o)) {
    if (!["start", "success", "fail", "timeout"].includes(key)) throw fail(`unknown notify.healthchecks option "${key}"`, "known: start, success, fail, timeout");
  }
  const out: NonNullable<Exclude<NotifySpec["healthchecks"], false>> = { timeoutMs: Math.max(1, ms(o.timeout, "notify.healthchecks.timeout", 10_000)) };
  for (const key of ["start", "success", "fail"] as const) {
    if (o[key] !== undefined) out[key] = httpUrl(o[key], `notify.healthchecks.${key}`, fail);
  }
  if (!out.start && !out.success && !out.fail) throw fail("notify.healthchecks needs at least one of start, success, fail");
  return out;
}

function httpUrl(value: unknown, where: string, fail: (m: string, h?: string) => FluidError): string {
  let url: URL | undefined;
  try {
    url = typeof value === "string" ? new URL(value) : undefined;
  } catch {} // not a URL: reported just below with what to write
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw fail(`${where} must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  return String(value);
}

/** Mail addresses as cron takes MAILTO: separated by commas (or spaces); each one a local user or user@host. */
function addresses(value: unknown, fail: (m: string, h?: string) => FluidError): string[] {
  const list = typeof value === "string" ? value.split(/[,\s]+/) : Array.isArray(value) ? value : undefined;
  if (!list || !list.every((a) => typeof a === "string")) throw fail("notify.mailto must be an address, addresses separated by commas, or an array");
  const out = (list as string[]).map((a) => a.trim()).filter((a) => a !== "");
  for (const a of out) {
    // Each address becomes an argument of sendmail: nothing it could read as an option or a header.
    if (a.startsWith("-") || [...a].some((ch) => ch <= " " || ch === "\x7f" || '<>"\\'.includes(ch))) throw fail(`notify.mailto: invalid address ${JSON.stringify(a)}`, "write user@host, or a local user name");
  }
  if (out.length === 0) throw fail("notify.mailto holds no address", 'write an address, or mailto: "" (or false) for no mail');
  return out;
}
