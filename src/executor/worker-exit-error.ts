import { ExitCode, FluidError } from "../errors.js";

/** How a worker process ended. */
export interface WorkerExit {
  /** Exit code, or undefined when a signal ended it. */
  code: number | undefined;
  /** Signal that ended it, e.g. "SIGKILL", or undefined. */
  signal: string | undefined;
}

/**
 * The child process of a cpu-bound run ended before the run did: it crashed, called
 * `process.exit`, was killed by a signal, or ran out of memory (exit 1). `code` is
 * FLUID_WORKER_OOM for out-of-memory, FLUID_WORKER_EXIT otherwise.
 */
export class WorkerExitError extends FluidError {
  /** Exit code of the child process, or undefined when a signal ended it. */
  readonly childExitCode: number | undefined;
  /** Signal that ended the child process, or undefined. */
  readonly childSignal: string | undefined;
  /** The last lines the child printed on stderr. */
  readonly stderr: string[];

  constructor(what: string, exit: WorkerExit, stderr: string[], options: { oom?: boolean; maxMemoryMb?: number | undefined } = {}) {
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    const oom = options.oom === true;
    const head = oom
      ? `${what}: its child process ran out of memory (JavaScript heap out of memory${options.maxMemoryMb ? `, limit ${options.maxMemoryMb} MB` : ""}) and ${how}`
      : `${what}: its child process ${how}`;
    const tail = stderr.length ? `\nlast lines on stderr:\n${stderr.map((l) => `  ${l}`).join("\n")}` : "";
    super(oom ? "FLUID_WORKER_OOM" : "FLUID_WORKER_EXIT", head + tail, ExitCode.failure, {
      hint: oom
        ? "use less memory in the task, or raise its memory limit"
        : "the lines above come from the task; a task must not call process.exit, throw an error instead",
    });
    this.childExitCode = exit.code;
    this.childSignal = exit.signal;
    this.stderr = stderr;
    // Frames of the pool that noticed the exit say nothing about the task.
    this.stack = `${this.name}: ${this.message}`;
  }
}

/** True when a child's end looks like V8 running out of heap: the message, or SIGABRT / 134 under a heap limit. */
export function looksOutOfMemory(exit: WorkerExit, stderr: string[], hadLimit: boolean): boolean {
  if (stderr.some((l) => l.includes("heap out of memory") || l.includes("Reached heap limit"))) return true;
  return hadLimit && (exit.signal === "SIGABRT" || exit.code === 134);
}
