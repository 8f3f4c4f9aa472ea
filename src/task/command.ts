/**
 * Command tasks: `command("backup", "pg_dump mydb > /backups/db.sql", { schedule })` is a task
 * whose function starts one program through `ctx.exec` (its own process group, output line by
 * line into the run's log, the whole tree killed at a timeout, cancel or shutdown) and fails
 * when it exits with a code other than 0. Everything a task has (schedules, retries, overlap,
 * history, `fluid run`) applies unchanged, because it is a task.
 *
 * Params reach the program only as environment variables, never as text in its command line,
 * so no value can be read by the shell as code.
 */
import { resolve } from "node:path";
import { parseDurationAs } from "../core/duration.js";
import { TaskDefinitionError } from "../core/errors.js";
import type { Duration, ParamsSchema } from "../core/types.js";
import { suggest } from "../suggest.js";
import { ExecError } from "./exec.js";
import { kebab } from "./params.js";
import { task, TASK_OPTION_NAMES, type NoParams, type Task, type TaskOptions } from "./task.js";

/** Brand of a task made by `command()`; its value is the task's CommandSpec. */
export const COMMAND_BRAND = Symbol.for("fluid-tasks.command");

/** The shell a command line runs in, unless `shell` names another. */
export const DEFAULT_SHELL = "/bin/sh";

/** Options of `command()`: the task options that apply to a command, and how to start it. Every option is optional. */
export interface CommandOptions<P extends ParamsSchema = NoParams> extends Omit<TaskOptions<P>, "name" | "env" | "timeout"> {
  /**
   * Time limit of one attempt: ms or text ("30s", "2h"); 0 = none. At the limit the command's
   * whole process tree gets SIGTERM, then SIGKILL after `killGrace`, and the attempt ends in
   * state `timeout`. No limit by default, as in cron: a fixed default (a task's is 60 s) would
   * kill long backups and batch jobs that cron users expect to run to the end.
   * @default 0 (none)
   */
  timeout?: Duration;
  /**
   * Environment variables of the command, over this process's own (`process.env`). The run's
   * variables (FLUID_PARAM_<NAME>, FLUID_PARAMS, FLUID_RUN_ID, FLUID_TASK, FLUID_ATTEMPT) win over them.
   * @default {}
   */
  env?: Record<string, string>;
  /**
   * Working directory of the command. A relative path is relative to the project root (the
   * directory of fluid.config.ts), wherever the task is defined and wherever `fluid` is started.
   * @default the project root (this process's working directory when no project is loaded)
   */
  cwd?: string;
  /**
   * The shell that runs a command line, as `<shell> -c <line>`; false runs no shell (then give
   * the command as an argv array). An argv array never runs in a shell.
   * @default "/bin/sh" for a command line
   */
  shell?: string | false;
  /**
   * Text written to the command's standard input, which is then closed (a crontab line's `%`
   * text). Without it standard input is empty.
   * @default undefined
   */
  input?: string;
  /**
   * After SIGTERM (timeout, cancel, shutdown), SIGKILL what is left of the command's process tree this long later.
   * @default "5s"
   */
  killGrace?: Duration;
}

/** What a command run returns when the command exits with code 0 (its output is in the run's log). */
export interface CommandResult {
  /** Always 0 here: another code fails the run (FLUID_EXEC; the code is the error's `childExitCode`). */
  exitCode: number;
}

/** How a command task starts its program, kept on the task under COMMAND_BRAND. */
export interface CommandSpec {
  /** The command line, or the argv array (program first). */
  readonly command: string | readonly string[];
  /** The shell of a command line; false for an argv array. */
  readonly shell: string | false;
  readonly env: Readonly<Record<string, string>>;
  /** `cwd` as given (relative ones resolve against `root`). */
  readonly cwd: string | undefined;
  readonly input: string | undefined;
  readonly killGrace: Duration | undefined;
  /** Project root, set when the project's loader registers the task. */
  root: string | undefined;
}

/** The options only a command has (the rest are task options). */
const COMMAND_ONLY = ["env", "cwd", "shell", "input", "killGrace"];
/** Every option `command()` knows. */
export const COMMAND_OPTION_NAMES: readonly string[] = [...[...TASK_OPTION_NAMES].filter((k) => k !== "name" && k !== "env"), ...COMMAND_ONLY];

/**
 * Defines a command task named `name` that runs `cmd`: a command line (run by `shell`, default
 * /bin/sh, with -c) or an argv array (run without a shell). Invalid options throw a
 * TaskDefinitionError naming the command and the option. See `CommandOptions`.
 * @example command("backup", "pg_dump mydb > /backups/db.sql", { schedule: cron("0 3 * * *"), timeout: "2h" })
 */
export function command<P extends ParamsSchema = NoParams>(
  name: string,
  cmd: string | readonly string[],
  options: CommandOptions<P> = {},
): Task<P, CommandResult> {
  const label = typeof name === "string" ? `command "${name}"` : "command (unnamed)";
  const fail = (message: string, hint?: string): TaskDefinitionError => new TaskDefinitionError(`${label}: ${message}`, { hint });
  if (typeof name !== "string" || name === "") throw fail("the name must be a non-empty string", 'write command("backup", "pg_dump mydb > db.sql")');
  const argv = Array.isArray(cmd);
  if (argv ? cmd.length === 0 || !cmd.every((w) => typeof w === "string") || cmd[0] === "" : typeof cmd !== "string" || cmd.trim() === "") {
    throw fail("the command must be a non-empty command line or an array of strings (the program first)", 'e.g. "pg_dump mydb > db.sql" or ["pg_dump", "--file", "db.sql", "mydb"]');
  }
  if (typeof options !== "object" || options === null || Array.isArray(options)) throw fail("the options must be an object");
  for (const key of Object.keys(options)) {
    if (COMMAND_OPTION_NAMES.includes(key)) continue;
    if (key === "name") throw fail('the name is the first argument, not an option', `write command(${JSON.stringify(name)}, ...)`);
    const close = suggest(key, [...COMMAND_OPTION_NAMES]);
    throw fail(`unknown option "${key}"`, close ? `did you mean "${close}"?` : `known options: ${COMMAND_OPTION_NAMES.join(", ")}`);
  }
  const { env, cwd, shell, input, killGrace, timeout, description, ...taskOptions } = options;
  if (env !== undefined && !(typeof env === "object" && env !== null && !Array.isArray(env) && Object.values(env).every((v) => typeof v === "string"))) {
    throw fail("env must be an object of string values", 'e.g. env: { PGHOST: "db.internal" }');
  }
  if (cwd !== undefined && (typeof cwd !== "string" || cwd === "")) throw fail("cwd must be a non-empty path");
  if (shell !== undefined && shell !== false && (typeof shell !== "string" || shell === "")) {
    throw fail(`shell must be the path of a shell or false, got ${JSON.stringify(shell)}`, 'e.g. shell: "/bin/bash"');
  }
  if (argv && typeof shell === "string") {
    throw fail("an argv array runs without a shell, so it takes no shell option", "give a command line (a string) to run it in a shell");
  }
  if (!argv && shell === false) {
    throw fail("a command line needs a shell; shell: false runs none", 'give an argv array to run a program without a shell, e.g. ["pg_dump", "mydb"]');
  }
  if (input !== undefined && typeof input !== "string") throw fail("input must be a string");
  if (killGrace !== undefined) parseDurationAs(killGrace, "killGrace", (m, h) => fail(m, h));
  const spec: CommandSpec = {
    command: argv ? [...cmd] : cmd,
    shell: argv ? false : (shell ?? DEFAULT_SHELL),
    env: { ...(env ?? {}) },
    cwd,
    input,
    killGrace,
    root: undefined,
  };
  const names = paramVariables(taskOptions.params, fail);
  const t = asCommand(label, () => task<P, CommandResult>(
    {
      ...(taskOptions as TaskOptions<P>),
      name,
      description: description ?? commandLine(spec),
      timeout: timeout ?? 0,
    },
    async (ctx) => {
      const vars = commandEnv(ctx.params as Record<string, unknown>, names);
      const base = { ...spec.env, ...vars, FLUID_RUN_ID: ctx.id, FLUID_TASK: ctx.name, FLUID_ATTEMPT: String(ctx.attempt) };
      const [file, args] = typeof spec.command === "string" ? [spec.command, []] : [spec.command[0]!, spec.command.slice(1)];
      try {
        const { exitCode } = await ctx.exec(file, args, {
          env: base,
          cwd: resolve(spec.root ?? process.cwd(), spec.cwd ?? "."),
          shell: spec.shell,
          ...(spec.input !== undefined ? { input: spec.input } : {}),
          ...(spec.killGrace !== undefined ? { killGrace: spec.killGrace } : {}),
          buffer: false, // the lines are in the log; the result is the exit code
        });
        return { exitCode };
      } catch (error) {
        // The command failed, not code: fluid's own frames would only be noise in the record.
        if (error instanceof ExecError) error.stack = "";
        throw error;
      }
    },
  ));
  (t as unknown as Record<symbol, CommandSpec>)[COMMAND_BRAND] = spec;
  return t;
}

/** Runs `define`, saying `command "x"` where the errors of task() say `task "x"`. */
function asCommand<T>(label: string, define: () => T): T {
  try {
    return define();
  } catch (error) {
    if (!(error instanceof TaskDefinitionError)) throw error;
    throw new TaskDefinitionError(error.message.replace(/^task (?:"[^"]*"|\(unnamed\)): /, `${label}: `), { hint: error.hint, cause: error.cause });
  }
}

/** The command of a task made by `command()`, or undefined for any other task. */
export function commandOf(t: Task): CommandSpec | undefined {
  return (t as unknown as Record<symbol, CommandSpec | undefined>)[COMMAND_BRAND];
}

/** Makes a command task's relative `cwd` (and its default one) the project root `root`; other tasks are left alone. */
export function bindCommandRoot(t: Task, root: string): void {
  const spec = commandOf(t);
  if (spec) spec.root = root;
}

/** The command as one line: a command line as written, an argv array quoted as a shell would read it back. */
export function commandLine(spec: Pick<CommandSpec, "command">): string {
  return typeof spec.command === "string" ? spec.command : spec.command.map(quote).join(" ");
}

/** The variable a param reaches a command in: `maxCount` -> FLUID_PARAM_MAX_COUNT (as `fluid run` reads them). */
export function paramVariable(key: string): string {
  return `FLUID_PARAM_${kebab(key).replace(/[^A-Za-z0-9]/g, "_").toUpperCase()}`;
}

/**
 * The environment of one command run from its params: FLUID_PARAM_<NAME> per param of the
 * schema (a string as it is, a number or boolean as text, a date as ISO 8601, anything else
 * as JSON; a param without a value removes an inherited variable) and FLUID_PARAMS (all of
 * them, JSON).
 */
export function commandEnv(params: Record<string, unknown>, names: ReadonlyMap<string, string>): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [key, variable] of names) env[variable] = envValue(params[key]);
  for (const [key, value] of Object.entries(params)) if (!names.has(key)) env[paramVariable(key)] = envValue(value);
  env.FLUID_PARAMS = JSON.stringify(params);
  return env;
}

function envValue(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}

/** Param key -> variable, for every key of the schema; two keys with one variable are refused. */
function paramVariables(schema: unknown, fail: (m: string, h?: string) => TaskDefinitionError): Map<string, string> {
  const shape = (schema as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape ?? {};
  const names = new Map<string, string>();
  const byVariable = new Map<string, string>();
  for (const key of Object.keys(shape)) {
    const variable = paramVariable(key);
    const other = byVariable.get(variable);
    if (other !== undefined) throw fail(`the params "${other}" and "${key}" would both be ${variable}`, "rename one of them");
    byVariable.set(variable, key);
    names.set(key, variable);
  }
  return names;
}

/** A word as a POSIX shell would read it back (for display only). */
function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
