import { CommanderError } from "commander";
import "../index.js"; // publishes the public API for the task modules the command loads
import { ExitCode, isFluidError, UsageError } from "../core/errors.js";
import { printError, processOutput, type Output } from "./output.js";
import { buildProgram } from "./program.js";

/**
 * Runs the `fluid` command with `argv` (without node and the script) and resolves with the
 * exit code. Never exits the process itself; bin/fluid.js does.
 */
export async function main(argv: string[]): Promise<number> {
  const io = await processOutput(argv);
  // SIGINT and SIGTERM end every command with 130; `fluid run` and `fluid serve` add their own
  // handlers (abort the run, drain the daemon) and this one then steps aside.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, function onSignal() {
      if (process.listeners(signal).every((l) => l === onSignal)) process.exit(ExitCode.interrupted);
    });
  }
  let code: number = ExitCode.success;
  const program = buildProgram(io, (c) => (code = c), argv);
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander already printed its message (usage errors), or printed help/version.
      if (error.exitCode === 0) return ExitCode.success;
      if (wantsJson(argv)) printJsonError(io, new UsageError(error.message.replace(/^error: /, ""), { hint: "see `fluid --help`, or `fluid <command> --help`" }));
      return ExitCode.usage;
    }
    printError(io.err, error);
    if (wantsJson(argv)) printJsonError(io, error);
    const exitCode = (error as { exitCode?: unknown }).exitCode;
    return typeof exitCode === "number" ? exitCode : ExitCode.failure;
  }
}

/** True when the command line asks for JSON (`--json` before any `--`). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes("--json");
}

/**
 * With --json, an error that ends the command also goes to stdout, as one JSON object a
 * script can read: {"error": {"code", "message", "hint", "issues"?}}; the exit code is unchanged.
 */
function printJsonError(io: Output, error: unknown): void {
  const fluid = isFluidError(error);
  const body: Record<string, unknown> = {
    code: fluid ? error.code : "FLUID_INTERNAL",
    message: error instanceof Error ? error.message : String(error),
    hint: (fluid ? error.hint : "this is a bug in fluid-tasks; please report it") ?? null,
  };
  const issues = (error as { issues?: unknown }).issues;
  if (Array.isArray(issues)) body.issues = issues;
  io.out.write(JSON.stringify({ error: body }) + "\n");
}
