import { ExitCode, FluidError } from "../core/errors.js";

/** How a worker process ended. */
export interface WorkerExit {
  /** Exit code, or undefined when a signal ended it. */
  code: number | undefined;
  /** Signal that ended it, e.g. "SIGKILL", or undefined. */
  signal: string | undefined;
}

/** Stderr lines shown in the message (the error keeps more in `stderr`). */
const SHOWN_LINES = 10;

/**
 * The child process of a cpu-bound run ended before the run did: it crashed, called
 * `process.exit`, was killed by a signal, or ran out of memory. `code` is FLUID_WORKER_OOM
 * for out-of-memory, FLUID_WORKER_EXIT otherwise; the message names the exit code or signal
 * and quotes the last lines the child printed on stderr.
 */
export class WorkerExitError extends FluidError {
  /** Exit code of the child process, or undefined when a signal ended it. */
  readonly childExitCode: number | undefined;
  /** Signal that ended the child process, or undefined. */
  readonly childSignal: string | undefined;
  /** The last lines the child printed on stderr. */
  readonly stderr: string[];

  constructor(what: string, exit: WorkerExit, stderr: string[], options: { oomLine?: string | undefined; maxMemoryMb?: number | undefined } = {}) {
    const how = exit.signal ? `was killed by ${exit.signal}` : exit.code !== undefined ? `exited with code ${exit.code}` : "exited";
    const oom = options.oomLine !== undefined;
    const limit = options.maxMemoryMb ? ` (limit ${options.maxMemoryMb} MB)` : "";
    const head = oom ? `${what}: its child process ran out of memory${limit} and ${how}` : `${what}: its child process ${how}`;
    // V8's native stack frames and blank lines say nothing to the user.
    const shown = oom ? [options.oomLine!.trim()] : stderr.filter((l) => l.trim() !== "" && !/^\s*\d+: 0x[0-9a-f]+/.test(l)).slice(-SHOWN_LINES);
    const tail = shown.length ? `\nlast lines on stderr:\n${shown.map((l) => `  ${l}`).join("\n")}` : "";
    super(oom ? "FLUID_WORKER_OOM" : "FLUID_WORKER_EXIT", head + tail, ExitCode.failure, {
      hint: oom
        ? "use less memory in the task, or raise its memory limit"
        : "a task must not call process.exit: throw an error instead; the stderr lines above come from the task",
    });
    this.childExitCode = exit.code;
    this.childSignal = exit.signal;
    this.stderr = stderr;
    // Frames of the pool that noticed the exit say nothing about the task.
    this.stack = `${this.name}: ${this.message}`;
  }
}

/** V8's line when it runs out of heap, e.g. "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory". */
export const OOM_LINE = /JavaScript heap out of memory|Reached heap limit/;
