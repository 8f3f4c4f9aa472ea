import { ConfigError } from "../core/errors.js";
import type { Project } from "./load.js";

/** The config's `deps`: the value itself, or what its (async) function returns, called once. */
export async function resolveDeps(project: Project): Promise<unknown> {
  const deps = project.config.deps;
  if (typeof deps !== "function") return deps;
  try {
    return await (deps as () => unknown)();
  } catch (error) {
    throw new ConfigError(`the config's deps() threw: ${(error as Error).message}`, { cause: error, hint: `fix deps in ${project.configFile}` });
  }
}
