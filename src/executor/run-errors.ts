import { ExitCode, FluidError } from "../core/errors.js";

/** A task returned a value JSON cannot store (a BigInt, a cycle, a function): the attempt fails (exit 1). */
export class ResultError extends FluidError {
  constructor(task: string, why: string, options: { cause?: unknown } = {}) {
    super("FLUID_RESULT", `the result of task "${task}" cannot be stored as JSON: ${why}; return plain data`, ExitCode.failure, {
      ...options,
      hint: "return plain data (objects, arrays, strings, finite numbers, booleans, null); convert BigInts and class instances first",
    });
  }
}

/**
 * A run's promise could never settle: the process had nothing left to do (no timer, socket or
 * child kept the event loop alive) while the task had not returned (exit 1).
 */
export class NeverSettledError extends FluidError {
  constructor(task: string) {
    super(
      "FLUID_NEVER_SETTLED",
      `task "${task}" never settled: its promise was still pending when the process had nothing left to wait for (no timer, socket or child process)`,
      ExitCode.failure,
      { hint: "make sure the task's promise resolves or rejects, e.g. that every `new Promise` calls resolve or reject" },
    );
  }
}

/** JSON.stringify's complaint in a few words (its cycle message spans several lines). */
export function whyNotJson(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/BigInt/i.test(message)) return "it holds a BigInt";
  if (/circular/i.test(message)) return "it holds a circular reference";
  // The worker's codec (codec.ts) names the key of a function or symbol.
  const sent = /^a (function|symbol) \(at "(.*)"\) cannot be sent/.exec(message);
  if (sent) return sent[2] === "" ? `a ${sent[1]} is not data` : `it holds a ${sent[1]} (at "${sent[2]}")`;
  return message.split("\n")[0]!;
}
