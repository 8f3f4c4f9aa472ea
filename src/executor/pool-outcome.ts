import { RunInterruptedError, fromErrorInfo, isFluidError, toErrorInfo } from "../core/errors.js";
import type { AttemptOutcome } from "../core/types.js";
import { decodeValue } from "./codec.js";
import type { DoneMessage } from "./protocol.js";
import { WorkerExitError, type WorkerExit } from "./worker-exit-error.js";

/** How an attempt in the pool ended; `exitCode`/`exitSignal` when its process died under it. */
export type PoolOutcome = AttemptOutcome & { exitCode?: number; exitSignal?: string };

/** A run whose worker process died under it: a failure with the exit code or signal and the last stderr lines. */
export function crashed(run: { task: string; id: string; maxMemoryMb?: number | undefined }, exit: WorkerExit, stderr: string[], oomLine: string | undefined): PoolOutcome {
  const error = new WorkerExitError(`task "${run.task}" (run ${run.id})`, exit, stderr, { oomLine, maxMemoryMb: run.maxMemoryMb });
  return {
    state: "failure", error: toErrorInfo(error), thrown: error,
    ...(exit.code !== undefined ? { exitCode: exit.code } : {}),
    ...(exit.signal !== undefined ? { exitSignal: exit.signal } : {}),
  };
}

/** The outcome of a run stopped from outside or by its deadline, as the inline executor reports it. */
export function stopped(reason: unknown): PoolOutcome {
  const error = outsideReason(reason);
  const code = (error as { code?: unknown }).code;
  const state = code === "FLUID_CANCELLED" ? "cancelled" : code === "FLUID_TIMEOUT" ? "timeout" : "interrupted";
  return { state, error: toErrorInfo(error), thrown: error };
}

/** An outside signal's reason as a FluidError: FLUID_CANCELLED, FLUID_INTERRUPTED, ... */
export function outsideReason(reason: unknown): Error {
  return isFluidError(reason) ? reason : new RunInterruptedError();
}

/** The outcome the child reported at the end of a run. */
export function fromDone(done: DoneMessage): PoolOutcome {
  if (done.state === "success") return { state: "success", result: decodeValue(done.result) };
  return { state: done.state, ...(done.error ? { error: done.error, thrown: fromErrorInfo(done.error) } : {}) };
}

/** A run that failed in this process (it could not be sent, its worker could not start...). */
export function failure(error: unknown): PoolOutcome {
  return { state: "failure", error: toErrorInfo(error), thrown: error };
}
