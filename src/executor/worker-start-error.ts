import { ExitCode, FluidError, type FluidErrorOptions } from "../core/errors.js";

/** A worker process did not load the project within the pool's `startTimeoutMs` (FLUID_WORKER_START). */
export class WorkerStartError extends FluidError {
  constructor(message: string, options?: FluidErrorOptions) {
    super("FLUID_WORKER_START", message, ExitCode.failure, options);
  }
}
