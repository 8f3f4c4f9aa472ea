import { loadProject } from "../config/load.js";
import type { Output } from "./output.js";
import { writeStore } from "./store-access.js";

/** Options of `fluid enable` / `fluid disable`. */
export interface EnableOptions {
  config?: string;
  reason?: string;
}

/** `fluid enable <task>` / `fluid disable <task>`: persists the task's enabled state in the store. */
export async function enableCommand(name: string, enabled: boolean, o: EnableOptions, io: Output): Promise<number> {
  const project = await loadProject({ ...(o.config ? { config: o.config } : {}) });
  const task = project.registry.get(name);
  const store = await writeStore(project);
  try {
    store.setTaskEnabled(task.name, enabled, enabled ? undefined : o.reason);
  } finally {
    store.close();
  }
  io.err.write(`${enabled ? "enabled" : "disabled"} ${task.name}${!enabled && o.reason ? ` (${o.reason})` : ""}\n`);
  return 0;
}
