import { callListener } from "../core/call-listener.js";
import { hostname } from "node:os";
import type { ErrorInfo } from "../core/errors.js";
import type { LogLine, RunState } from "../core/types.js";
import type { RunLogLine } from "../task/context.js";
import { mergeNotify, type NotifySpec } from "../task/notify-options.js";
import type { Task } from "../task/task.js";
import { createAlertQueue, type AlertJob } from "./alert-queue.js";
import { decide, needsHealth, type AlertKind, type TaskHealth } from "./decide.js";
import { postWithRetry } from "./http-post.js";
import { noticeEnv, pingReport, webhookBody, type RunNotice } from "./notice.js";
import { runProgram } from "./run-program.js";
import { findSendmail, mailMessage, sendmailArgs } from "./sendmail.js";

/** The kinds of notifier. */
export type NotifierKind = "webhook" | "command" | "mailto" | "healthchecks";

/** A delivery that failed for good (after its retries), reported once. */
export interface NotifyFailure {
  notifier: NotifierKind;
  /** What was being sent: an alert, or a dead-man's-switch ping ("start", "success", "fail"). */
  what: AlertKind | "start" | "success" | "fail";
  task: string;
  runId: string;
  /** One line: what went wrong. */
  message: string;
}

/** Counts since the notifier was made (for metrics). */
export interface NotifierStats {
  /** Alerts decided, by kind (each goes to every notifier of the task). */
  alerts: Record<AlertKind, number>;
  /** Deliveries that succeeded, by notifier. */
  sent: Record<NotifierKind, number>;
  /** Deliveries that failed for good, by notifier. */
  failed: Record<NotifierKind, number>;
  /** Deliveries dropped: the queue was full, or still waiting when the notifier closed. */
  dropped: number;
  /** Deliveries waiting, and being made now. */
  queued: number;
  inFlight: number;
}

/** Options of `createNotifier`. */
export interface NotifierOptions {
  /** The config's `notify` (read at each run, so a reload takes effect). Default none. */
  config?: () => NotifySpec | undefined;
  /** The task of a name, for its own `notify` and retry count; undefined for a task no longer known. */
  task: (name: string) => Task | undefined;
  /**
   * The task's health before this process saw it end (failing? since when?), from the store;
   * asked once per task, the first time a run of it ends. `exceptRunId` is the run that just
   * ended. Default: unknown (a first success is no recovery).
   */
  previous?: (task: string, exceptRunId: string) => TaskHealth | undefined | Promise<TaskHealth | undefined>;
  /**
   * Other processes record runs of the same tasks (a fleet's daemons, docs/fleet.md): `previous`
   * is asked at every end, not only the first (a failure recorded by another daemon makes this
   * daemon's next success a recovery). The ends of one task are decided in order. Default false.
   */
  sharedHealth?: boolean;
  /** Receives each delivery that failed for good. Default: ignored (still counted). */
  onFailure?: (failure: NotifyFailure) => void;
  /** Environment of command notifiers and where sendmail is looked for. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Working directory of command notifiers. Default the process's. */
  cwd?: string;
  /** Host name in alerts. Default os.hostname(). */
  host?: string;
  /** Deliveries at once. Default 4. */
  concurrency?: number;
  /** Deliveries waiting at most; more are dropped and counted. Default 1000. */
  maxQueued?: number;
}

/** An attempt that ended, as the notifier needs it. */
export interface RunEnd {
  task: string;
  runId: string;
  attempt: number;
  /** Default: the task's retry attempts (1 without retry). */
  maxAttempts?: number;
  trigger?: string;
  state: RunState;
  error?: ErrorInfo;
  /** Epoch ms; default `endedAt - durationMs`, or the attempt's start as `attemptStarted` saw it. */
  startedAt?: number;
  /** Epoch ms. Default now. */
  endedAt?: number;
  durationMs?: number;
  /** No retry follows (the run's outcome). An attempt that will be retried sends nothing. */
  final: boolean;
}

/** Sends alerts for runs that end badly or recover, in the background (docs/notify.md). */
export interface Notifier {
  /** An attempt started: the dead-man's-switch "start" ping, and its log lines are kept from now on. */
  attemptStarted(run: { task: string; runId: string; attempt: number; startedAt?: number }): void;
  /** A log line of a running attempt (the last `logLines` of each attempt are kept). */
  log(line: RunLogLine): void;
  /** An attempt ended: decides and queues the alerts and pings; returns at once. */
  attemptEnded(end: RunEnd): void;
  /** Counts, for metrics. */
  stats(): NotifierStats;
  /**
   * Stops taking runs and waits up to `timeoutMs` for the deliveries under way and queued;
   * then abandons the rest (counted as dropped). Default 5000.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** Longest log line an alert carries, in characters. */
const MAX_LINE = 2_000;
/** Attempts whose log lines are kept at most (a bound in case an end never comes). */
const MAX_TRACKED = 10_000;

/** Creates a notifier; see `Notifier`. Nothing is sent for a task whose settings name no notifier. */
export function createNotifier(options: NotifierOptions): Notifier {
  const env = options.env ?? process.env;
  const host = options.host ?? hostname();
  const stats: Omit<NotifierStats, "queued" | "inFlight"> = {
    alerts: { failure: 0, timeout: 0, recovery: 0 },
    sent: { webhook: 0, command: 0, mailto: 0, healthchecks: 0 },
    failed: { webhook: 0, command: 0, mailto: 0, healthchecks: 0 },
    dropped: 0,
  };
  type Job = AlertJob<NotifierKind> & { what: NotifyFailure["what"]; task: string; runId: string };
  const report = (failure: NotifyFailure): void => {
    callListener(options.onFailure, failure); // a failing onFailure hook must not stop the alert queue
  };
  const queue = createAlertQueue<NotifierKind>({
    concurrency: options.concurrency ?? 4,
    maxQueued: options.maxQueued ?? 1000,
    onDone(job, error) {
      const j = job as Job;
      if (!error) {
        stats.sent[j.notifier]++;
        return;
      }
      stats.failed[j.notifier]++;
      report({ notifier: j.notifier, what: j.what, task: j.task, runId: j.runId, message: error.message });
    },
  });
  let droppedReported = 0;
  const push = (job: Job): void => {
    if (queue.push(job)) return;
    stats.dropped++;
    // One line for the first drop, then one per hundred: a full queue must not flood the log.
    if (closed || (droppedReported > 0 && stats.dropped - droppedReported < 100)) return;
    droppedReported = stats.dropped;
    report({ notifier: job.notifier, what: job.what, task: job.task, runId: job.runId, message: `the alert queue is full: dropped (${stats.dropped} dropped so far)` });
  };

  /** The merged settings of a task, cached per task object while the config's stay the same. */
  const specs = new WeakMap<Task, { config: NotifySpec | undefined; spec: NotifySpec | undefined }>();
  const specOf = (name: string): NotifySpec | undefined => {
    const config = options.config?.();
    const task = options.task(name);
    if (!task) return mergeNotify(config, undefined);
    const hit = specs.get(task);
    if (hit && hit.config === config) return hit.spec;
    const spec = mergeNotify(config, task.notify);
    specs.set(task, { config, spec });
    return spec;
  };

  const attempts = new Map<string, { startedAt: number; lines: LogLine[]; cap: number }>();
  const health = new Map<string, TaskHealth>();
  let closed = false;
  /** Past the wait of `close` for ends being decided: those still deciding send nothing. */
  let closing = false;

  const healthOf = (task: string, runId: string): TaskHealth | undefined | Promise<TaskHealth | undefined> => {
    if (!options.sharedHealth && health.has(task)) return health.get(task);
    try {
      const seeded = options.previous?.(task, runId);
      // A read that fails: what this process saw last (or unknown: no recovery alert for an older failure).
      return seeded instanceof Promise ? seeded.then((h) => h ?? health.get(task), () => health.get(task)) : (seeded ?? health.get(task));
    } catch {
      return health.get(task); // the store cannot say: as above
    }
  };
  /** Per task, the end being decided (a read of the shared health under way): the next end of the task waits for it. */
  const deciding = new Map<string, Promise<void>>();

  const ping = (spec: NotifySpec, task: string, runId: string, what: "start" | "success" | "fail", body: string): void => {
    const hc = spec.healthchecks;
    const url = hc ? hc[what] : undefined;
    if (!hc || !url) return;
    push({
      notifier: "healthchecks", what, task, runId, lane: `healthchecks:${task}`,
      send: (signal) => postWithRetry(url, { body, contentType: "text/plain; charset=utf-8", timeoutMs: hc.timeoutMs, attempts: 3, retryDelayMs: 1000, signal }),
    });
  };

  const alert = (spec: NotifySpec, notice: RunNotice): void => {
    stats.alerts[notice.kind]++;
    const base = { what: notice.kind, task: notice.task, runId: notice.runId };
    if (spec.webhook) {
      const body = JSON.stringify(webhookBody(notice));
      for (const w of spec.webhook) {
        push({
          ...base, notifier: "webhook",
          send: (signal) => postWithRetry(w.url, { body, contentType: "application/json", headers: w.headers, timeoutMs: w.timeoutMs, attempts: w.attempts, retryDelayMs: w.retryDelayMs, signal }),
        });
      }
    }
    if (spec.command) {
      const { run, timeoutMs } = spec.command;
      push({
        ...base, notifier: "command",
        send: (signal) => runProgram("/bin/sh", ["-c", run], {
          input: `${JSON.stringify(webhookBody(notice))}\n`, env: { ...env, ...noticeEnv(notice) }, timeoutMs, signal,
          ...(options.cwd ? { cwd: options.cwd } : {}),
        }),
      });
    }
    if (spec.mailto) {
      const to = spec.mailto;
      push({
        ...base, notifier: "mailto",
        send: async (signal) => {
          const sendmail = findSendmail(spec.sendmail, env);
          if (!sendmail) throw new Error("no sendmail program: none on PATH, /usr/sbin or /usr/lib (install one, e.g. msmtp-mta or postfix, or set notify.sendmail)");
          await runProgram(sendmail, sendmailArgs(to), { input: mailMessage(notice, to, env), env, timeoutMs: 60_000, signal });
        },
      });
    }
  };

  return {
    attemptStarted(run) {
      if (closed) return;
      const spec = specOf(run.task);
      if (!spec) return;
      const startedAt = run.startedAt ?? Date.now();
      if (attempts.size >= MAX_TRACKED) attempts.delete(attempts.keys().next().value!);
      attempts.set(run.runId, { startedAt, lines: [], cap: spec.logLines ?? 0 });
      ping(spec, run.task, run.runId, "start", "");
    },
    log(line) {
      const kept = attempts.get(line.runId);
      if (!kept || kept.cap === 0) return;
      kept.lines.push({ ts: line.ts, level: line.level, message: line.message.length > MAX_LINE ? `${line.message.slice(0, MAX_LINE - 1)}…` : line.message });
      if (kept.lines.length > kept.cap) kept.lines.shift();
    },
    attemptEnded(end) {
      const kept = attempts.get(end.runId);
      attempts.delete(end.runId);
      if (closed || !needsHealth(end.state, end.final)) return;
      const spec = specOf(end.task);
      if (!spec) return;
      const endedAt = end.endedAt ?? Date.now();
      const task = end.task;
      const waiting = deciding.get(task);
      const now = waiting ? undefined : healthOf(task, end.runId);
      if (!waiting && !(now instanceof Promise)) return send(spec, end, kept, endedAt, now);
      const before = waiting ? waiting.then(() => healthOf(task, end.runId)) : (now as Promise<TaskHealth | undefined>);
      const next = before.then((h) => {
        if (!closing) send(spec, end, kept, endedAt, h);
      });
      const settled = next.finally(() => {
        if (deciding.get(task) === settled) deciding.delete(task);
      });
      deciding.set(task, settled);
    },
    stats: () => ({ ...structuredClone(stats), ...queue.size() }),
    async close(timeoutMs = 5_000) {
      closed = true;
      const deadline = Date.now() + timeoutMs;
      if (deciding.size > 0) {
        // Ends whose health is being read: decided and queued first (within the same bound).
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.all(deciding.values()), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
        clearTimeout(timer);
        closing = true;
      }
      const { abandoned } = await queue.close(Math.max(0, deadline - Date.now()));
      stats.dropped += abandoned;
    },
  };

  function send(spec: NotifySpec, end: RunEnd, kept: { startedAt: number; lines: LogLine[] } | undefined, endedAt: number, before: TaskHealth | undefined): void {
    const decision = decide(before, end.state, end.final, endedAt);
    if (decision.next) health.set(end.task, decision.next);
    // A recovery counts the failures before it; a failure counts itself among them.
    const failing = decision.alert === "recovery" ? before : decision.next;
    const durationMs = end.durationMs ?? endedAt - (end.startedAt ?? kept?.startedAt ?? endedAt);
    const notice: RunNotice = {
      kind: decision.alert ?? "recovery",
      task: end.task, runId: end.runId, attempt: end.attempt,
      maxAttempts: end.maxAttempts ?? options.task(end.task)?.retry?.attempts ?? 1,
      ...(end.trigger ? { trigger: end.trigger } : {}),
      state: end.state, ...(end.error ? { error: end.error } : {}), host,
      startedAt: end.startedAt ?? endedAt - durationMs, endedAt, durationMs,
      logLines: kept?.lines ?? [],
      failures: failing?.failing ? failing.failures : 0,
      ...(failing?.failing && failing.since !== undefined ? { failingSince: failing.since } : {}),
    };
    if (decision.alert) alert(spec, notice);
    if (decision.ping && spec.healthchecks) ping(spec, end.task, end.runId, decision.ping, pingReport(notice, decision.alert !== undefined && decision.alert !== "recovery"));
  }
}
