/**
 * The public API a process publishes for the task modules it loads: their
 * `import ... from "fluid-tasks"` becomes a facade over it (see compile.ts), so the CLI and
 * its task modules share one instance. `src/index.ts` publishes itself when it is evaluated;
 * the process entries (the CLI, the pool's worker) import it for that. The config layer only
 * reads it, so nothing here imports the public barrel (which would be an import cycle).
 */

/** Where the instance is published: a global, since the CLI bundle and the library may both be loaded. */
export const API_GLOBAL = Symbol.for("fluid-tasks.api");

/** Publishes `api` (the first one published stays). */
export function publishApi(api: object): void {
  (globalThis as Record<symbol, unknown>)[API_GLOBAL] ??= api;
}

/** The published API. Throws when no entry published one (a bug of ours, not the user's). */
export function publishedApi(): Record<string, unknown> {
  const api = (globalThis as Record<symbol, unknown>)[API_GLOBAL] as Record<string, unknown> | undefined;
  if (!api) throw new Error("fluid-tasks: the public API is not published: import the package entry (src/index.ts) before loadProject()");
  return api;
}
