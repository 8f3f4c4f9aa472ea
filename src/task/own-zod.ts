import { createRequire } from "node:module";

type ZodModule = typeof import("zod");

let provider: (() => ZodModule) | undefined;
let own: ZodModule | undefined;

/**
 * Hands `task()` the zod it builds the params schema of a task without params from. The
 * config layer gives it the fast-loading shared copy (src/startup/zod.ts) before it imports
 * task modules; the task layer itself knows nothing of start-up machinery.
 */
export function provideZod(load: () => ZodModule): void {
  if (provider !== load) own = undefined;
  provider = load;
}

/** zod for tasks without params: the provided one, else zod as Node resolves it from here. */
export function ownZod(): ZodModule {
  // Without a provider (a script that defines tasks but never loads a project): plain require.
  return (own ??= provider ? provider() : (createRequire(import.meta.url)("zod") as ZodModule));
}
