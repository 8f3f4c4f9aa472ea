import { ExitCode, FluidError, type FluidErrorOptions } from "../core/errors.js";

/** The fleet backend (Redis or PostgreSQL) is misconfigured, unreachable or unfit for BullMQ (exit 2). */
export class BackendError extends FluidError {
  constructor(message: string, options?: FluidErrorOptions) {
    super("FLUID_BACKEND", message, ExitCode.usage, options);
  }
}
