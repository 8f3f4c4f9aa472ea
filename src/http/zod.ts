import { ownZod } from "../task/own-zod.js";

type ZodModule = typeof import("zod");

let given: ZodModule | undefined;

/**
 * Hands the HTTP server the zod the project's tasks were built with. The server is a module of
 * its own (dist/http/server.js, loaded only with --http), so its copy of the task layer's zod
 * provider was never given one; a schema's `.describe()` and `.meta()` live in the registry of
 * the zod instance that made it, so the JSON Schema of a task's params must come from that one.
 */
export function useZod(z: ZodModule): void {
  given = z;
}

/** The zod of the tasks: the one handed over, else the task layer's own. */
export function httpZod(): ZodModule {
  return given ?? ownZod();
}
