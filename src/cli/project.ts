import { loadProject, type Project } from "../config/load.js";
import type { Output } from "./output.js";

/**
 * Loads the project for a command that does not run a task: "none" loads no task module at
 * all (show, logs: they need only the store's place), "tolerant" leaves out a module
 * that fails to load, with a warning naming it (history of a task, enable, disable, cancel), so one
 * broken file does not stop a user from looking at history or disabling a task.
 */
export async function loadForStore(config: string | undefined, tasks: "tolerant" | "none", io: Output): Promise<Project> {
  const project = await loadProject({ ...(config ? { config } : {}), tasks });
  for (const b of project.broken ?? []) {
    io.err.write(`${io.err.c.yellow("warning:")} ${b.error.message.split("\n")[0]}\n`);
    io.err.write(`${io.err.c.dim(`  (its tasks are left out; \`fluid ls\` shows the whole error)`)}\n`);
  }
  return project;
}
