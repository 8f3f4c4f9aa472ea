import type { Project } from "../config/load.js";
import type { TaskState } from "../core/run-record.js";
import { parseBackendUrl } from "../fleet/backend-url.js";
import type { FleetState } from "../fleet/fleet-state.js";
import { openFleetState } from "../fleet/open-fleet-state.js";

/**
 * The fleet state of a project with a backend (config `backend`, FLUID_BACKEND_URL), or undefined
 * when it has none (embedded: task state lives in the store). An unreachable backend is a
 * BackendError at once (exit 2).
 */
export async function openProjectFleet(project: Project): Promise<{ state: FleetState; display: string } | undefined> {
  const backend = project.config.backend;
  if (!backend) return undefined;
  const target = parseBackendUrl(backend.url, backend.prefix !== undefined ? { prefix: backend.prefix } : {});
  return { state: await openFleetState(target), display: target.display };
}

/** The task states a command shows: the fleet's with a backend, else `local()` (the store's). */
export async function projectTaskStates(project: Project, local: () => Promise<Map<string, TaskState>>): Promise<Map<string, TaskState>> {
  const fleet = await openProjectFleet(project);
  if (!fleet) return local();
  try {
    return await fleet.state.taskStates();
  } finally {
    await fleet.state.close();
  }
}
