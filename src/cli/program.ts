import { Command, Option } from "commander";
import { packageRoot } from "../package-root.js";
import type { Output } from "./output.js";


// Commands are imported when they run, so `fluid --help` or `fluid ls` load only what they use.
const runCommand: typeof import("./run.js").runCommand = async (...a) => (await import("./run.js")).runCommand(...a);
const lsCommand: typeof import("./ls.js").lsCommand = async (...a) => (await import("./ls.js")).lsCommand(...a);
const historyCommand: typeof import("./history.js").historyCommand = async (...a) => (await import("./history.js")).historyCommand(...a);
const showCommand: typeof import("./show.js").showCommand = async (...a) => (await import("./show.js")).showCommand(...a);
const logsCommand: typeof import("./show.js").logsCommand = async (...a) => (await import("./show.js")).logsCommand(...a);
const serveCommand: typeof import("./serve.js").serveCommand = async (...a) => (await import("./serve.js")).serveCommand(...a);
const queueCommand: typeof import("./queue.js").queueCommand = async (...a) => (await import("./queue.js")).queueCommand(...a);
const cancelCommand: typeof import("./cancel.js").cancelCommand = async (...a) => (await import("./cancel.js")).cancelCommand(...a);
const nextCommand: typeof import("./next.js").nextCommand = async (...a) => (await import("./next.js")).nextCommand(...a);
const statusCommand: typeof import("./status.js").statusCommand = async (...a) => (await import("./status.js")).statusCommand(...a);
const initSystemdCommand: typeof import("./init.js").initSystemdCommand = async (...a) => (await import("./init.js")).initSystemdCommand(...a);
const enableCommand: typeof import("./enable.js").enableCommand = async (...a) => (await import("./enable.js")).enableCommand(...a);
const importCrontabCommand: typeof import("./import.js").importCrontabCommand = async (...a) => (await import("./import.js")).importCrontabCommand(...a);

/** The program's commands, by name. */
const COMMANDS: readonly string[] = ["run", "ls", "history", "show", "logs", "enable", "disable", "serve", "status", "init", "queue", "cancel", "next", "import"];

/**
 * Builds the `fluid` commander program. Each command maps argv to options and calls a library
 * function; the resolved exit code is stored through `setExit`.
 */
export function buildProgram(io: Output, setExit: (code: number) => void, argv: readonly string[]): Command {
  // Building every command costs each start: when the command line starts with a command's
  // name, only that command is built (commander then dispatches to it; no other command could
  // take part in parsing the line). `command(name)?.` skips the whole chain of another one.
  const only = COMMANDS.includes(argv[0] ?? "") ? argv[0] : undefined;
  const command = (name: string): Command | undefined => (only === undefined || only === name ? program.command(name) : undefined);
  const program = new Command("fluid")
    .description("Run TypeScript tasks now (fluid run) or on a schedule (fluid serve).")
    .version(packageRoot().version, "-V, --version")
    .option("-c, --config <path>", "config file (default: FLUID_CONFIG, else fluid.config.ts here or above)")
    .addOption(new Option("--no-color", "no colours (also NO_COLOR=1)"))
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) });

  command("run")
    ?.description("run one task now in this process; flags come from the task's params schema")
    .argument("[task]", "task name")
    .argument("[flags...]", "the task's flags (see fluid run <task> --help)")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (_task: string, _flags: string[], _opts: unknown, cmd: Command) => {
      setExit(await runCommand(rawArgsOf(cmd, argv), program.opts().config as string | undefined, io));
    });

  command("ls")
    ?.description("list the tasks: schedule, next run, cpu-bound, timeout, tags")
    .option("-t, --tags <tags>", "only tasks with any of these comma-separated tags")
    .option("--json", "print JSON")
    .option("-c, --config <path>", "config file")
    .action(async (opts: { tags?: string; json?: boolean; config?: string }) => {
      const config = opts.config ?? (program.opts().config as string | undefined);
      setExit(await lsCommand({
        ...(config ? { config } : {}),
        ...(opts.tags ? { tags: opts.tags.split(",").map((t) => t.trim()).filter(Boolean) } : {}),
        json: opts.json === true,
      }, io));
    });

  const configOf = (opts: { config?: string }): { config?: string } => {
    const config = opts.config ?? (program.opts().config as string | undefined);
    return config ? { config } : {};
  };

  command("history")
    ?.description("recorded runs, newest first")
    .argument("[task]", "only runs of this task")
    .option("-s, --state <state>", "only runs in this state (success, failure, timeout, aborted, ...)")
    .option("--since <when>", 'runs since a time: "2h", "3d" back from now, or a date')
    .option("--until <when>", "runs before a time (same forms as --since)")
    .option("-n, --limit <n>", "most runs shown", "50")
    .option("--json", "print a JSON array")
    .option("-c, --config <path>", "config file")
    .action(async (taskName: string | undefined, opts: { state?: string; since?: string; until?: string; limit?: string; json?: boolean; config?: string }) => {
      setExit(await historyCommand({ ...opts, ...configOf(opts), ...(taskName ? { task: taskName } : {}) }, io));
    });

  command("show")
    ?.description("everything about one run: state, params, result or error, attempts, chain, logs")
    .argument("<run-id>", "run id, or a unique prefix of it")
    .option("--json", "print JSON")
    .option("-c, --config <path>", "config file")
    .action(async (id: string, opts: { json?: boolean; config?: string }) => {
      setExit(await showCommand(id, { ...configOf(opts), json: opts.json === true }, io));
    });

  command("logs")
    ?.description("the log lines of one run")
    .argument("<run-id>", "run id, or a unique prefix of it")
    .option("--json", "print JSON")
    .option("-c, --config <path>", "config file")
    .action(async (id: string, opts: { json?: boolean; config?: string }) => {
      setExit(await logsCommand(id, { ...configOf(opts), json: opts.json === true }, io));
    });

  command("enable")
    ?.description("enable a task (fluid run and schedules run it again)")
    .argument("<task>", "task name")
    .option("-c, --config <path>", "config file")
    .action(async (name: string, opts: { config?: string }) => {
      setExit(await enableCommand(name, true, configOf(opts), io));
    });

  command("disable")
    ?.description("disable a task: schedules skip it and fluid run refuses it without --force")
    .argument("<task>", "task name")
    .option("-r, --reason <text>", "why, shown by fluid ls and fluid run")
    .option("-c, --config <path>", "config file")
    .action(async (name: string, opts: { config?: string; reason?: string }) => {
      setExit(await enableCommand(name, false, { ...configOf(opts), ...(opts.reason ? { reason: opts.reason } : {}) }, io));
    });

  // `fluid serve --environment-file` / `--env-file`, in command-line order.
  const envFiles: string[] = [];
  const addEnvFile = (value: string): string[] => (envFiles.push(value), envFiles);
  command("serve")
    ?.description("the daemon: fire schedules, run queued runs, record everything; stops gracefully on SIGTERM/SIGINT")
    .option("--concurrency <n>", "most runs at once (default: the config's concurrency, 10)")
    .option("--grace <duration>", "on shutdown, how long running runs may finish before they are interrupted and re-queued", "30s")
    .option("--broker <kind>", "where queued runs wait: sqlite (durable, in the store file) or memory", undefined)
    .option("--backend <url>", "share queue and schedules with other daemons through BullMQ: redis://host:port/db or postgres://... (default: the config's backend, FLUID_BACKEND_URL)", undefined)
    .option("--log-format <format>", "pretty or json (default: pretty on a terminal, else json)")
    .option("--environment-file <path>", "load KEY=VALUE lines into the environment before the tasks load (repeatable; \"-path\" if it may be missing; the environment wins)", addEnvFile)
    // Also as --env-file, but Node reads that flag itself, even after the script, and exits 9 when the file is missing (docs/service.md).
    .addOption(new Option("--env-file <path>").hideHelp().argParser(addEnvFile))
    .option("--http <[host:]port>", "serve the HTTP API, metrics and dashboard there (host default 127.0.0.1; port 0 takes a free one)")
    .option("--tasks <names>", "run only the runs of these comma-separated tasks; the others stay queued for other daemons (routing)")
    .option("--tags <tags>", "run only the runs of tasks with any of these comma-separated tags (with --tasks: either)")
    .option("--no-schedules", "fire no schedule here: a daemon that only runs queued runs (on a fleet, another daemon fires them)")
    .option("-c, --config <path>", "config file")
    .action(async (opts: { concurrency?: string; grace?: string; broker?: string; backend?: string; logFormat?: string; config?: string; http?: string }) => {
      setExit(await serveCommand({ ...opts, ...configOf(opts), envFile: envFiles }, io));
    });

  command("status")
    ?.description("is a daemon serving this store (pid, host, since), the queue, running runs, the last failure, the next fires; exit 0 serving, 3 not")
    .option("--json", "print JSON")
    .option("-c, --config <path>", "config file")
    .action(async (opts: { json?: boolean; config?: string }) => {
      setExit(await statusCommand({ ...configOf(opts), json: opts.json === true }, io));
    });

  command("init")
    ?.description("set up how fluid serve runs")
    .command("systemd")
    .description("print (or --write) a systemd unit that runs fluid serve for this project")
    .option("--user", "a user unit (~/.config/systemd/user/) instead of a system one")
    .option("--write", "write the unit file instead of printing it")
    .option("--force", "with --write, replace an existing unit file")
    .option("--name <name>", "unit name (default: fluid-<project directory name>)")
    .option("--run-as <user>", "User= of a system unit (default: SUDO_USER, else the current user)")
    .option("--grace <duration>", "the daemon's --grace; TimeoutStopSec is set above it", "30s")
    .option("--environment-file <path>", "EnvironmentFile= of the unit (default: \"-<project>/.env\": optional)")
    .option("--dir <dir>", "with --write, write into this directory (default: /etc/systemd/system, or ~/.config/systemd/user with --user)")
    .option("-c, --config <path>", "config file")
    .action(async (opts: { user?: boolean; write?: boolean; force?: boolean; name?: string; runAs?: string; grace?: string; environmentFile?: string; dir?: string; config?: string }) => {
      const { environmentFile, ...rest } = opts;
      setExit(await initSystemdCommand({ ...rest, ...configOf(opts), ...(environmentFile !== undefined ? { envFile: environmentFile } : {}) }, io));
    });

  command("queue")
    ?.description("queue a run for the daemon and print its id; --wait waits for it to end")
    .argument("[task]", "task name")
    .argument("[flags...]", "the task's flags (see fluid queue <task> --help)")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (_task: string, _flags: string[], _opts: unknown, cmd: Command) => {
      setExit(await queueCommand(rawArgsOf(cmd, argv), program.opts().config as string | undefined, io));
    });

  command("cancel")
    ?.description("cancel a run: a queued run is removed, a running one is aborted")
    .argument("<run-id>", "run id, or a unique prefix of it")
    .option("-c, --config <path>", "config file")
    .action(async (id: string, opts: { config?: string }) => {
      setExit(await cancelCommand(id, configOf(opts), io));
    });

  command("next")
    ?.description("the next fire times of a task's schedule, local and UTC, with DST changes marked")
    .argument("<task>", "task name")
    .option("-n, --count <n>", "how many", "10")
    .option("--tz <zone>", "show times in this IANA time zone (default: the schedule's)")
    .option("--json", "print a JSON array of ISO 8601 times with their UTC offset")
    .option("-c, --config <path>", "config file")
    .action(async (name: string, opts: { count?: string; tz?: string; json?: boolean; config?: string }) => {
      setExit(await nextCommand(name, { ...opts, ...configOf(opts) }, io));
    });

  command("import")
    ?.description("turn other schedulers' jobs into fluid tasks")
    .command("crontab")
    .description("write a task module with one command task per crontab line (schedule, environment, MAILTO, comments kept)")
    .argument("[file]", "crontab file, - for standard input (default: your own crontab, crontab -l)")
    .option("-o, --out <file>", "the task module to write", "tasks/crontab.ts")
    .option("-f, --force", "overwrite the module when it exists")
    .option("--check", "only report which lines can be carried over; write nothing (exit 1 when a line cannot)")
    .option("--system", "lines have a user field (/etc/crontab, /etc/cron.d/*); default: detected")
    .option("--no-system", "lines have no user field (a user's crontab)")
    .option("--tz <zone>", "IANA zone of the lines without CRON_TZ (default: this machine's, as cron)")
    .action(async (file: string | undefined, opts: { out?: string; force?: boolean; check?: boolean; system?: boolean; tz?: string }) => {
      setExit(await importCrontabCommand(file, opts, io));
    });

  return program;
}

/** The raw args after the command name, so the task's own parser sees them untouched. */
function rawArgsOf(cmd: Command, argv: readonly string[]): string[] {
  const at = argv.indexOf(cmd.name());
  return at >= 0 ? argv.slice(at + 1) : cmd.args;
}
