import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { loadProject, type Project } from "../config/load.js";
import { checkRunId } from "../consumer/run-id.js";
import { UsageError } from "../errors.js";
import { describeParams } from "../task/params.js";
import type { Task } from "../task/task.js";
import { addParamOptions, paramsFromFlags } from "./flags.js";
import type { Output } from "./output.js";

/** Options that take a value (so the task name is not mistaken for one). */
const VALUE_OPTIONS = new Set(["--config", "-c", "--params", "-p", "--run-id", "--timeout", "--priority", "--delay"]);
/** Flags of `fluid run` / `fluid queue` themselves: a param with one of these names gets no flag. */
const RESERVED = new Set(["--config", "--params", "--run-id", "--timeout", "--json", "--help", "--color", "--no-color", "--record", "--no-record", "--force", "--priority", "--delay", "--wait"]);

/** A parsed `fluid run|queue <task> [flags]`. */
export interface TaskInvocation {
  project: Project;
  task: Task;
  /** Raw params: --params JSON, then the flags given (not yet validated). */
  params: Record<string, unknown>;
  /** The command's own options (commander attribute names). */
  opts: Record<string, unknown>;
  /** --run-id, checked. */
  id: string | undefined;
}

/**
 * Parses `<task> [flags]` for `fluid run` and `fluid queue`: loads the project, finds the task,
 * builds its flags from the params schema (plus the verb's own options, added by `extra`) and
 * parses them. Returns "help" when help was printed.
 */
export async function parseTaskArgs(
  verb: "run" | "queue",
  args: string[],
  globalConfig: string | undefined,
  io: Output,
  extra: (cmd: Command, task: Task) => void,
): Promise<TaskInvocation | "help"> {
  const at = taskNameIndex(args);
  const wantsHelp = args.includes("--help") || args.includes("-h");
  const configFlag = optionValue(args, ["--config", "-c"]) ?? globalConfig;
  const load = () => loadProject({ ...(configFlag ? { config: configFlag } : {}) });
  if (at < 0) {
    const project = await load().catch((e: unknown) => (wantsHelp ? undefined : Promise.reject(e)));
    const names = project?.registry.list().map((t) => t.name) ?? [];
    if (wantsHelp) {
      const what = verb === "run" ? "Runs one task now, in this process." : "Queues a run for the daemon (fluid serve).";
      io.out.write(`Usage: fluid ${verb} <task> [flags]\n\n${what}\n\nTasks: ${names.join(", ") || "(none found)"}\nSee \`fluid ${verb} <task> --help\` for a task's flags.\n`);
      return "help";
    }
    throw new UsageError("missing the task name", { hint: `fluid ${verb} <task> [flags]; tasks: ${names.join(", ") || "none"}` });
  }
  const project = await load();
  const task = project.registry.get(args[at]!);
  const { cmd, flags } = taskCommand(verb, task, io, extra);
  try {
    cmd.parse([...args.slice(0, at), ...args.slice(at + 1)], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.help") return "help";
      throw new UsageError(error.message.replace(/^error: /, ""), { hint: `see \`fluid ${verb} ${task.name} --help\`` });
    }
    throw error;
  }
  const opts = cmd.opts<Record<string, unknown>>();
  const params = { ...readParamsOption(opts.params as string | undefined), ...paramsFromFlags(opts, flags) };
  const id = opts.runId === undefined ? undefined : checkRunId(opts.runId as string);
  return { project, task, params, opts, id };
}

/** The commander command of one task: the shared options, the verb's own, and one flag per param. */
function taskCommand(verb: "run" | "queue", task: Task, io: Output, extra: (cmd: Command, task: Task) => void): { cmd: Command; flags: Map<string, string> } {
  const group = verb === "run" ? "Run options:" : "Queue options:";
  const cmd = new Command(`fluid ${verb} ${task.name}`)
    .description(task.description || `${verb === "run" ? "Run" : "Queue"} the task "${task.name}".`)
    .addHelpOption(new Option("-h, --help", "show this help").helpGroup(group))
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: () => {}, outputError: () => {} })
    .showSuggestionAfterError(true)
    .allowExcessArguments(false);
  const specs = describeParams(task.params);
  if (specs.length > 0) cmd.optionsGroup("Params:");
  const { flags, skipped } = addParamOptions(cmd, specs, RESERVED);
  cmd.addOption(new Option("-p, --params <json>", "all params as JSON, or @file.json; flags win over it for the keys they give").helpGroup(group));
  cmd.addOption(new Option("--run-id <id>", "run id (default: a new random id)").helpGroup(group));
  cmd.addOption(new Option("--json", "print one JSON object with the outcome on stdout, nothing else").helpGroup(group));
  extra(cmd, task);
  cmd.addOption(new Option("-c, --config <path>", "config file (default: FLUID_CONFIG, else fluid.config.ts here or above)").helpGroup(group));
  cmd.addOption(new Option("--no-color", "no colours").helpGroup(group));
  if (skipped.length > 0) {
    cmd.addHelpText("after", `\nThese params share a name with a ${verb} option; give them with --params: ${skipped.map((s) => s.key).join(", ")}\n`);
  }
  return { cmd, flags };
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
