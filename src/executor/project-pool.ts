import type { Project } from "../config/load.js";
import type { Pool, PoolEvent } from "./pool.js";

/**
 * The child-process pool for a project's cpu-bound tasks, or undefined when it has none
 * (so execa and the pool are loaded only when needed). `size` overrides the config's.
 */
export async function openProjectPool(project: Project, options: { size?: number; onEvent?: (e: PoolEvent) => void } = {}): Promise<Pool | undefined> {
  if (!project.registry.list().some((t) => t.cpuBound)) return undefined;
  const { createPool } = await import("./pool.js");
  return createPool({
    configFile: project.configFile,
    cwd: project.root,
    ...project.config.pool,
    ...(options.size !== undefined ? { size: options.size } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
}
