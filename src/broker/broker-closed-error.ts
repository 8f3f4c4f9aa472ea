import { ExitCode, FluidError } from "../core/errors.js";

/** A broker was used after `close()`: a bug of the caller, not of the queue. */
export class BrokerClosedError extends FluidError {
  constructor(kind: string) {
    super("FLUID_BROKER_CLOSED", `the ${kind} broker is closed`, ExitCode.failure, {
      hint: "stop the consumer and schedulers before closing the broker",
    });
  }
}
