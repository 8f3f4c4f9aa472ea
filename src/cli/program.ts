import { Command, Option } from "commander";
import { lsCommand } from "./ls.js";
import type { Output } from "./output.js";
import { runCommand } from "./run.js";

/** Package version, read once (for --version). */
export const VERSION = "0.1.0";

/**
 * Builds the `fluid` commander program. Each command maps argv to options and calls a library
 * function; the resolved exit code is stored through `setExit`.
 */
export function buildProgram(io: Output, setExit: (code: number) => void, argv: readonly string[]): Command {
  const program = new Command("fluid")
    .description("Run TypeScript tasks now (fluid run) or on a schedule (fluid serve).")
    .version(VERSION, "-V, --version")
    .option("-c, --config <path>", "config file (default: FLUID_CONFIG, else fluid.config.ts here or above)")
    .addOption(new Option("--no-color", "no colours (also NO_COLOR=1)"))
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) });

  program
    .command("run")
    .description("run one task now in this process; flags come from the task's params schema")
    .argument("<task>", "task name")
    .argument("[flags...]", "the task's flags (see fluid run <task> --help)")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (_task: string, _flags: string[], _opts: unknown, cmd: Command) => {
      setExit(await runCommand(rawArgsOf(cmd, argv), program.opts().config as string | undefined, io));
    });

  program
    .command("ls")
    .description("list the tasks: schedule, next run, cpu-bound, timeout, tags")
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

  return program;
}

/** The raw args after the command name, so the task's own parser sees them untouched. */
function rawArgsOf(cmd: Command, argv: readonly string[]): string[] {
  const at = argv.indexOf(cmd.name());
  return at >= 0 ? argv.slice(at + 1) : cmd.args;
}
