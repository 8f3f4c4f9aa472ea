import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { loadProject, type Project } from "../config/load.js";
import { checkRunId } from "../core/run-id.js";
import { UsageError } from "../core/errors.js";
import { describeParams } from "../task/params.js";
import type { Task } from "../task/task.js";
import { addParamOptions, paramEnvName, paramsFromEnv, paramsFromFlags } from "./flags.js";
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
  // With a task name, only the module that defines it is loaded (the task index in the compile cache).
  const load = (task?: string) => loadProject({ ...(configFlag ? { config: configFlag } : {}), ...(task !== undefined ? { task } : {}) });
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
  const project = await load(args[at]!);
  const task = project.registry.get(args[at]!);
  const { cmd, flags } = taskCommand(verb, task, io, extra);
  try {
    cmd.parse([...args.slice(0, at), ...args.slice(at + 1)], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.help") return "help";
      const hint = `see \`fluid ${verb} ${task.name} --help\``;
      if (error.code === "commander.excessArguments") throw excessArgument(args.slice(at + 1), cmd, hint);
      const withValue = /^error: unknown option '(--[^=']+)=([^']*)'/.exec(error.message);
      if (withValue && cmd.options.some((o) => o.long === withValue[1] && !o.required && !o.optional)) {
        throw excessArgument([withValue[1]!, withValue[2]!], cmd, hint);
      }
      throw new UsageError(error.message.replace(/^error: /, ""), { hint });
    }
    throw error;
  }
  const opts = cmd.opts<Record<string, unknown>>();
  // Weakest first: the environment, then --params, then the flags given.
  const params = { ...paramsFromEnv(describeParams(task.params), process.env), ...readParamsOption(opts.params as string | undefined), ...paramsFromFlags(opts, flags) };
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
  cmd.addOption(new Option("-p, --params <json>", "all params as JSON, @file.json, or @- to read standard input; flags win over it for the keys they give").helpGroup(group));
  cmd.addOption(new Option("--run-id <id>", "run id (default: a new random id)").helpGroup(group));
  cmd.addOption(new Option("--json", "print one JSON object on stdout, nothing else: the outcome, or {\"error\": {code, message, hint}}").helpGroup(group));
  extra(cmd, task);
  if (specs.length > 0) cmd.addHelpText("after", "\nA param may also come from its FLUID_PARAM_<NAME> variable (shown above); --params and flags win over it.\n");
  cmd.addOption(new Option("-c, --config <path>", "config file (default: FLUID_CONFIG, else fluid.config.ts here or above)").helpGroup(group));
  cmd.addOption(new Option("--no-color", "no colours").helpGroup(group));
  if (skipped.length > 0) {
    cmd.addHelpText("after", `\nThese params share a name with a ${verb} option; give them with --params or their variable: ${skipped.map((s) => `${s.key} (${paramEnvName(s)})`).join(", ")}\n`);
  }
  return { cmd, flags };
}

/**
 * The usage error for a word that is neither a flag nor a flag's value: most often a value
 * after a boolean flag (`--minify false`), which takes none.
 */
function excessArgument(args: string[], cmd: Command, hint: string): UsageError {
  const booleans = new Set(cmd.options.filter((o) => !o.required && !o.optional).flatMap((o) => [o.long, o.short].filter((n): n is string => Boolean(n))));
  const valued = new Set(cmd.options.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short].filter((n): n is string => Boolean(n))));
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") break;
    if (valued.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith("-")) continue;
    const before = args[i - 1];
    if (before !== undefined && booleans.has(before)) {
      const name = before.replace(/^--(no-)?/, "");
      return new UsageError(`${before} is a boolean flag and takes no value (got "${a}"): use --${name} or --no-${name}`, { hint });
    }
    return new UsageError(`unexpected argument "${a}": every value belongs to a flag`, { hint: `${hint}; quote a value that has spaces` });
  }
  return new UsageError("too many arguments", { hint });
}

function readParamsOption(value: string | undefined): Record<string, unknown> {
  if (value === undefined) return {};
  let text = value;
  if (value.startsWith("@")) {
    // "@-" is standard input: `vault read ... | fluid run deploy --params @-`
    const source = value === "@-" ? 0 : value.slice(1);
    const what = value === "@-" ? "standard input" : value.slice(1);
    try {
      text = readFileSync(source, "utf8");
    } catch (error) {
      throw new UsageError(`--params ${value}: cannot read ${what}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
        hint: value === "@-" ? "pipe the JSON in: echo '{\"name\":\"bob\"}' | fluid run <task> --params @-" : "check the path; it is relative to the current directory",
      });
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--params${value.startsWith("@") ? ` ${value}` : ""} is not valid JSON: ${(error as Error).message}`, { hint: `e.g. --params '{"name":"bob"}' or --params @params.json` });
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
