import { Option } from "commander";
import { resolveDeps } from "../config/deps.js";
import type { Project } from "../config/load.js";
import { createInlineQueue } from "../consumer/inline-queue.js";
import { createRecorder } from "../consumer/recorder.js";
import { runTask, type AttemptRecord, type RunResult } from "../consumer/run-task.js";
import { formatDuration, parseDuration } from "../core/duration.js";
import { ExitCode, isFluidError, StoreError, UsageError } from "../core/errors.js";
import { openProjectPool } from "../executor/project-pool.js";
import { maybePrune } from "../store/maybe-prune.js";
import { openProjectStore } from "../store/project-store.js";
import type { Store } from "../store/store.js";
import type { LogSink } from "../task/context.js";
import type { Task } from "../task/task.js";
import type { RunState } from "../core/types.js";
import { formatLogLine, startProgress, stateText, type Output } from "./output.js";
import { parseTaskArgs } from "./task-args.js";
import { runNotifier } from "../notify/run-notifier.js";
import type { TaskState } from "../core/run-record.js";
import { projectTaskStates } from "./fleet-access.js";

/**
 * Exit code of the `fluid` command for how a run ended: every state is listed, so a new one
 * cannot slip through unmapped (the README's exit-code table says the same).
 */
const EXIT_CODE_OF: Record<RunState, number> = {
  success: ExitCode.success,
  failure: ExitCode.failure,
  timeout: ExitCode.failure,
  rate_limited: ExitCode.failure,
  aborted: ExitCode.aborted,
  interrupted: ExitCode.interrupted,
  cancelled: ExitCode.interrupted,
  // Not an end: only seen when a wait gives up early.
  queued: ExitCode.failure,
  running: ExitCode.failure,
};

/** Exit code of the `fluid` command for how a run ended. */
export function exitCodeOf(state: RunState): number {
  return EXIT_CODE_OF[state] ?? ExitCode.failure;
}

/** `fluid run <task> [flags]`: runs one task now in this process; returns the exit code. */
export async function runCommand(args: string[], globalConfig: string | undefined, io: Output): Promise<number> {
  const parsed = await parseTaskArgs("run", args, globalConfig, io, (cmd, task) => {
    cmd.addOption(new Option("--timeout <duration>", `time limit of each attempt, e.g. 30s, 5m; 0 = none (task default: ${task.timeoutMs ? formatDuration(task.timeoutMs) : "none"})`).helpGroup("Run options:"));
    cmd.addOption(new Option("--no-record", "do not record the run in the store").helpGroup("Run options:"));
    cmd.addOption(new Option("--force", "run even when the task is disabled").helpGroup("Run options:"));
    cmd.addOption(new Option("--no-notify", "send no alert for this run (the config's or task's notify)").helpGroup("Run options:"));
  });
  if (parsed === "help") return ExitCode.success;
  const { project, task, params, opts, id } = parsed;
  const timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout as string, "--timeout");
  return execute(project, task, { params, timeoutMs, id, json: opts.json === true, record: opts.record !== false, force: opts.force === true, notify: opts.notify !== false }, io);
}

/** After SIGINT/SIGTERM, how long a task may take to stop before `fluid run` exits anyway. */
const SIGNAL_GRACE_MS = 5_000;

interface ExecuteOptions {
  params: Record<string, unknown>;
  timeoutMs: number | undefined;
  id: string | undefined;
  json: boolean;
  /** Record the run in the store (unless the config turns the store off). */
  record: boolean;
  /** Run a disabled task anyway. */
  force: boolean;
  /** Send the alerts of the config's or task's `notify` (docs/notify.md). */
  notify: boolean;
}

async function execute(project: Project, task: Task, o: ExecuteOptions, io: Output): Promise<number> {
  // On a fleet backend the task's enabled state is the fleet's (docs/fleet.md); --force does not ask.
  const fleetState = project.config.backend && !o.force ? (await projectTaskStates(project, async () => new Map())).get(task.name) : undefined;
  const store = o.record ? await openProjectStore(project.config).catch((e: unknown) => Promise.reject(withNoRecordHint(e))) : undefined;
  try {
    return await executeWith(project, task, o, io, store, fleetState);
  } finally {
    if (store) maybePrune(store);
    store?.close();
  }
}

async function executeWith(project: Project, task: Task, o: ExecuteOptions, io: Output, store: Store | undefined, fleetState: TaskState | undefined): Promise<number> {
  const { err, out } = io;
  const state = project.config.backend ? fleetState : store?.taskStates().get(task.name);
  if (state && !state.enabled && !o.force) {
    throw new UsageError(`task "${task.name}" is disabled${state.reason ? ` (${state.reason})` : ""}`, {
      hint: `enable it with \`fluid enable ${task.name}\`, or pass --force to run it anyway`,
    });
  }
  const deps = await resolveDeps(project);
  const recorder = store ? createRecorder(store, { flushRunning: true }) : undefined;
  const alerts = o.notify
    ? runNotifier(project.config.notify, task, {
        store, cwd: project.root,
        onFailure: (f) => err.write(`${err.c.yellow("notify")} ${f.notifier} ${f.what} alert not delivered: ${f.message}\n`),
      })
    : undefined;
  const progress = o.json ? { line: (t: string) => err.write(t), stop: () => {} } : startProgress(err, `running ${task.name}`);
  const log: LogSink = (line) => {
    recorder?.log(line);
    alerts?.log(line);
    progress.line(formatLogLine(err.c, line));
  };
  const controller = new AbortController();
  // The attempt under way, so an exit that cannot wait for the task still records how it ended.
  let current: AttemptRecord | undefined;
  const onAttempt = recorder || alerts
    ? (record: AttemptRecord): void => {
        current = record.state === "running" ? record : undefined;
        recorder?.onAttempt(record);
        alerts?.onAttempt(record);
      }
    : undefined;
  const exitNow = (signal: NodeJS.Signals): never => {
    if (store && current) recordInterrupted(store, current, signal);
    process.exit(ExitCode.interrupted);
  };
  let interrupts = 0;
  let forceExit: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts > 1) exitNow(signal); // second signal: leave at once
    progress.line(`${err.c.yellow(`${signal}: interrupting ${task.name} (${signal === "SIGINT" ? "Ctrl-C" : "signal"} again to exit at once)`)}\n`);
    controller.abort();
    // A task that ignores ctx.signal does not keep a supervisor's SIGTERM (or a Ctrl-C) waiting.
    forceExit = setTimeout(() => {
      progress.stop();
      err.write(err.c.yellow(`${task.name} did not stop within ${formatDuration(SIGNAL_GRACE_MS)} of ${signal}: exiting (the task ignores ctx.signal)\n`));
      exitNow(signal);
    }, SIGNAL_GRACE_MS);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // A cpu-bound task runs in a child process here too, so its timeout can kill it.
  const pool = task.cpuBound ? await openProjectPool(project, { size: 1 }) : undefined;
  const base = { deps, log, signal: controller.signal, ...(onAttempt ? { onAttempt } : {}), ...(pool ? { pool } : {}) };
  const chained = createInlineQueue(project.registry, base);
  let result: RunResult;
  try {
    result = await runTask(task, {
      ...base, params: o.params, queue: chained.queue,
      ...(o.id ? { id: o.id } : {}), ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    });
    const children = await chained.drain();
    for (const child of children) progress.line(`${err.c.dim("chained")} ${child.task} ${child.id.slice(0, 8)} ${stateText(err.c, child.state)} ${err.c.dim(formatDuration(child.durationMs))}\n`);
  } finally {
    await pool?.close(0);
    progress.stop();
    clearTimeout(forceExit);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (o.json) {
    out.write(JSON.stringify(jsonOutcome(result)) + "\n");
  } else {
    printOutcome(io, result);
  }
  await alerts?.finish(result); // bounded: a dead webhook delays the exit by RUN_NOTIFY_WAIT_MS at most
  return exitCodeOf(result.state);
}

/** Records the attempt a forced exit leaves behind as `interrupted`, so its record does not stay `running`. */
function recordInterrupted(store: Store, attempt: AttemptRecord, signal: NodeJS.Signals): void {
  const endedAt = Date.now();
  try {
    store.writeAttempt({
      ...attempt, state: "interrupted", endedAt,
      ...(attempt.startedAt !== undefined ? { durationMs: Math.max(0, endedAt - attempt.startedAt) } : {}),
      error: { name: "RunInterruptedError", code: "FLUID_INTERRUPTED", message: `interrupted: fluid run exited on ${signal} before the task stopped` },
    });
    store.flush();
  } catch {
    // Exiting anyway: the daemon marks a `running` row of a dead process interrupted later.
  }
}

/** The `--json` object: the outcome of the run. */
function jsonOutcome(r: RunResult): Record<string, unknown> {
  return {
    id: r.id, task: r.task, state: r.state, params: r.params,
    ...(r.state === "success" ? { result: r.result ?? null } : {}),
    ...(r.error ? { error: r.error } : {}),
    attempts: r.attempts,
    started: new Date(r.startedAt).toISOString(), ended: new Date(r.endedAt).toISOString(), durationMs: r.durationMs,
  };
}

function printOutcome({ out, err }: Output, r: RunResult): void {
  const c = err.c;
  const tries = r.attempts > 1 ? ` after ${r.attempts} attempts` : "";
  const head = `${r.task} ${c.dim(r.id)} ${stateText(c, r.state)} in ${formatDuration(r.durationMs)}${tries}`;
  if (r.state === "success") {
    err.write(`${c.green("✔")} ${head}\n`);
    if (r.result !== undefined) out.write(typeof r.result === "string" ? `${r.result}\n` : `${JSON.stringify(r.result, null, 2)}\n`);
    return;
  }
  const mark = r.state === "aborted" ? c.yellow("■") : c.red("✖");
  err.write(`${mark} ${head}${r.error ? `: ${r.error.message}` : ""}\n`);
  const frames = r.state === "failure" && r.error?.stack ? userStack(r.error.stack) : "";
  if (frames) err.write(c.dim(frames) + "\n");
  const hint = (r.error as { hint?: string } | undefined)?.hint;
  if (r.state === "timeout") err.write(`${c.dim("hint:")} raise the task's \`timeout\` option, or pass --timeout\n`);
  else if (hint) err.write(`${c.dim("hint:")} ${hint}\n`);
}

/** The stack of a task's error without Node's and fluid's own frames. */
function userStack(stack: string): string {
  const lines = stack.split("\n");
  // Frames only: the lines of a message that spans several (an ExecError's stderr) are not frames.
  const frames = lines.slice(1).filter((l) => /^\s+at /.test(l) && !/node:internal|node_modules|\/dist\/(executor|consumer|cli)\/|\/bin\/fluid\.js/.test(l));
  return frames.join("\n");
}

/** A store that cannot be opened stops `fluid run`; say how to run without recording. */
function withNoRecordHint(error: unknown): unknown {
  if (!isFluidError(error)) return error;
  return new StoreError(error.message, { cause: error, hint: `${error.hint ? `${error.hint}; or ` : ""}pass --no-record to run without recording` });
}



