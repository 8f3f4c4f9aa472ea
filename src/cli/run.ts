import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { loadProject, type Project } from "../config/load.js";
import { createInlineQueue } from "../consumer/inline-queue.js";
import { checkRunId } from "../consumer/run-id.js";
import { runTask, type RunResult } from "../consumer/run-task.js";
import { formatDuration, parseDuration } from "../duration.js";
import { ExitCode, FluidError, UsageError } from "../errors.js";
import type { LogSink } from "../task/context.js";
import { describeParams } from "../task/params.js";
import type { Task } from "../task/task.js";
import type { RunState } from "../types.js";
import { createRecorder } from "../consumer/recorder.js";
import { openProjectStore } from "../store/project-store.js";
import type { Store } from "../store/store.js";
import { isFluidError, StoreError } from "../errors.js";
import { addParamOptions, paramsFromFlags } from "./flags.js";
import { formatLogLine, startProgress, stateText, type Output } from "./output.js";

/** Options of `fluid run` that take a value (so the task name is not mistaken for one). */
const VALUE_OPTIONS = new Set(["--config", "-c", "--params", "-p", "--run-id", "--timeout"]);
const RESERVED = new Set(["--config", "--params", "--run-id", "--timeout", "--json", "--help", "--color", "--no-color", "--record", "--no-record"]);

/** Exit code of the `fluid` command for how a run ended. */
export function exitCodeOf(state: RunState): number {
  switch (state) {
    case "success":
      return ExitCode.success;
    case "aborted":
      return ExitCode.aborted;
    case "interrupted":
    case "cancelled":
      return ExitCode.interrupted;
    default:
      return ExitCode.failure;
  }
}

/** `fluid run <task> [flags]`: runs one task now in this process; returns the exit code. */
export async function runCommand(args: string[], globalConfig: string | undefined, io: Output): Promise<number> {
  const at = taskNameIndex(args);
  const wantsHelp = args.includes("--help") || args.includes("-h");
  const configFlag = optionValue(args, ["--config", "-c"]) ?? globalConfig;
  if (at < 0) {
    const project = await loadProject({ ...(configFlag ? { config: configFlag } : {}) }).catch((e: unknown) => (wantsHelp ? undefined : Promise.reject(e)));
    const names = project?.registry.list().map((t) => t.name) ?? [];
    const usage = `Usage: fluid run <task> [flags]\n\nRuns one task now, in this process.\n\nTasks: ${names.join(", ") || "(none found)"}\nSee \`fluid run <task> --help\` for a task's flags.\n`;
    if (wantsHelp) {
      io.out.write(usage);
      return ExitCode.success;
    }
    throw new UsageError("missing the task name", { hint: `fluid run <task> [flags]; tasks: ${names.join(", ") || "none"}` });
  }
  const name = args[at]!;
  const rest = [...args.slice(0, at), ...args.slice(at + 1)];
  const project = await loadProject({ ...(configFlag ? { config: configFlag } : {}) });
  const task = project.registry.get(name);
  const { cmd, flags, parse } = taskCommand(task, io);
  try {
    parse(rest);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.help") return ExitCode.success;
      throw new UsageError(error.message.replace(/^error: /, ""), { hint: `see \`fluid run ${task.name} --help\`` });
    }
    throw error;
  }
  const opts = cmd.opts<Record<string, unknown>>();
  const params = { ...readParamsOption(opts.params as string | undefined), ...paramsFromFlags(opts, flags) };
  const timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout as string, "--timeout");
  const id = opts.runId === undefined ? undefined : checkRunId(opts.runId as string);
  return execute(project, task, { params, timeoutMs, id, json: opts.json === true, record: opts.record !== false, force: opts.force === true }, io);
}

/** Builds the commander command of one task: the built-in run options plus one flag per param. */
function taskCommand(task: Task, io: Output): { cmd: Command; flags: Map<string, string>; parse: (argv: string[]) => void } {
  const cmd = new Command(`fluid run ${task.name}`)
    .description(task.description || `Run the task "${task.name}".`)
    .addHelpOption(new Option("-h, --help", "show this help").helpGroup("Run options:"))
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: () => {}, outputError: () => {} })
    .showSuggestionAfterError(true)
    .allowExcessArguments(false);
  const specs = describeParams(task.params);
  if (specs.length > 0) cmd.optionsGroup("Params:");
  const { flags, skipped } = addParamOptions(cmd, specs, RESERVED);
  cmd.addOption(new Option("-p, --params <json>", "all params as JSON, or @file.json; flags win over it for the keys they give").helpGroup("Run options:"));
  cmd.addOption(new Option("--run-id <id>", "run id (default: a new random id)").helpGroup("Run options:"));
  cmd.addOption(new Option("--timeout <duration>", `time limit of each attempt, e.g. 30s, 5m; 0 = none (task default: ${task.timeoutMs ? formatDuration(task.timeoutMs) : "none"})`).helpGroup("Run options:"));
  cmd.addOption(new Option("--json", "print one JSON object with the outcome on stdout, nothing else").helpGroup("Run options:"));
  cmd.addOption(new Option("--no-record", "do not record the run in the store").helpGroup("Run options:"));
  cmd.addOption(new Option("--force", "run even when the task is disabled").helpGroup("Run options:"));
  cmd.addOption(new Option("-c, --config <path>", "config file (default: FLUID_CONFIG, else fluid.config.ts here or above)").helpGroup("Run options:"));
  cmd.addOption(new Option("--no-color", "no colours").helpGroup("Run options:"));
  if (skipped.length > 0) {
    cmd.addHelpText("after", `\nThese params share a name with a run option; give them with --params: ${skipped.map((s) => s.key).join(", ")}\n`);
  }
  return { cmd, flags, parse: (argv) => void cmd.parse(argv, { from: "user" }) };
}

interface ExecuteOptions {
  params: Record<string, unknown>;
  timeoutMs: number | undefined;
  id: string | undefined;
  json: boolean;
  /** Record the run in the store (unless the config turns the store off). */
  record: boolean;
  /** Run a disabled task anyway. */
  force: boolean;
}

async function execute(project: Project, task: Task, o: ExecuteOptions, io: Output): Promise<number> {
  const store = o.record ? await openProjectStore(project.config).catch((e: unknown) => Promise.reject(withNoRecordHint(e))) : undefined;
  try {
    return await executeWith(project, task, o, io, store);
  } finally {
    store?.close();
  }
}

async function executeWith(project: Project, task: Task, o: ExecuteOptions, io: Output, store: Store | undefined): Promise<number> {
  const { err, out } = io;
  const state = store?.taskStates().get(task.name);
  if (state && !state.enabled && !o.force) {
    throw new UsageError(`task "${task.name}" is disabled${state.reason ? ` (${state.reason})` : ""}`, {
      hint: `enable it with \`fluid enable ${task.name}\`, or pass --force to run it anyway`,
    });
  }
  const deps = await resolveDeps(project);
  const recorder = store ? createRecorder(store) : undefined;
  const progress = o.json ? { line: (t: string) => err.write(t), stop: () => {} } : await startProgress(err, `running ${task.name}`);
  const log: LogSink = (line) => {
    recorder?.log(line);
    progress.line(formatLogLine(err.c, line));
  };
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(ExitCode.interrupted); // second Ctrl-C: leave at once
    progress.line(err.c.yellow(`interrupting ${task.name} (Ctrl-C again to exit at once)\n`));
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const base = { deps, log, signal: controller.signal, ...(recorder ? { onAttempt: recorder.onAttempt } : {}) };
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
    progress.stop();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (o.json) {
    out.write(JSON.stringify(jsonOutcome(result)) + "\n");
  } else {
    printOutcome(io, result);
  }
  return exitCodeOf(result.state);
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
  if (r.state === "failure" && r.error?.stack) err.write(c.dim(userStack(r.error.stack)) + "\n");
  const hint = (r.error as { hint?: string } | undefined)?.hint;
  if (r.state === "timeout") err.write(`${c.dim("hint:")} raise the task's \`timeout\` option, or pass --timeout\n`);
  else if (hint) err.write(`${c.dim("hint:")} ${hint}\n`);
}

/** The stack of a task's error without Node's and fluid's own frames. */
function userStack(stack: string): string {
  const lines = stack.split("\n");
  const frames = lines.slice(1).filter((l) => !/node:internal|node_modules|\/dist\/(executor|consumer|cli)\/|\/bin\/fluid\.js/.test(l));
  return frames.join("\n");
}

/** A store that cannot be opened stops `fluid run`; say how to run without recording. */
function withNoRecordHint(error: unknown): unknown {
  if (!isFluidError(error)) return error;
  return new StoreError(error.message, { cause: error, hint: `${error.hint ? `${error.hint}; or ` : ""}pass --no-record to run without recording` });
}

async function resolveDeps(project: Project): Promise<unknown> {
  const deps = project.config.deps;
  if (typeof deps !== "function") return deps;
  try {
    return await (deps as () => unknown)();
  } catch (error) {
    throw new FluidError("FLUID_CONFIG", `the config's deps() threw: ${(error as Error).message}`, ExitCode.failure, { cause: error, hint: `fix deps in ${project.configFile}` });
  }
}

function readParamsOption(value: string | undefined): Record<string, unknown> {
  if (value === undefined) return {};
  let text = value;
  if (value.startsWith("@")) {
    try {
      text = readFileSync(value.slice(1), "utf8");
    } catch (error) {
      throw new UsageError(`--params ${value}: cannot read ${value.slice(1)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--params is not valid JSON: ${(error as Error).message}`, { hint: `e.g. --params '{"name":"bob"}' or --params @params.json` });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError("--params must be a JSON object", { hint: `e.g. --params '{"name":"bob"}'` });
  }
  return parsed as Record<string, unknown>;
}

function taskNameIndex(args: string[]): number {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") return i + 1 < args.length ? i + 1 : -1;
    if (a.startsWith("-")) {
      if (VALUE_OPTIONS.has(a)) i++;
      continue;
    }
    return i;
  }
  return -1;
}

function optionValue(args: string[], names: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    for (const n of names) {
      if (a === n) return args[i + 1];
      if (a.startsWith(`${n}=`)) return a.slice(n.length + 1);
    }
  }
  return undefined;
}
