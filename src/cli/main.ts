import { CommanderError } from "commander";
import { ExitCode } from "../errors.js";
import { printError, processOutput } from "./output.js";
import { buildProgram } from "./program.js";

/**
 * Runs the `fluid` command with `argv` (without node and the script) and resolves with the
 * exit code. Never exits the process itself; bin/fluid.js does.
 */
export async function main(argv: string[]): Promise<number> {
  const io = processOutput(argv);
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
      return error.exitCode === 0 ? ExitCode.success : ExitCode.usage;
    }
    printError(io.err, error);
    const exitCode = (error as { exitCode?: unknown }).exitCode;
    return typeof exitCode === "number" ? exitCode : ExitCode.failure;
  }
}
