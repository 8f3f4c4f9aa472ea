import type { Output } from "./output.js";
import { loadForStore } from "./project.js";
import { writeStore } from "./store-access.js";

/** Options of `fluid enable` / `fluid disable`. */
export interface EnableOptions {
  config?: string;
  reason?: string;
}

/** `fluid enable <task>` / `fluid disable <task>`: persists the task's enabled state in the store. */
export async function enableCommand(name: string, enabled: boolean, o: EnableOptions, io: Output): Promise<number> {
  const project = await loadForStore(o.config, "tolerant", io);
  // A task of a module that fails to load can still be enabled or disabled (disabling the
  // task of a broken module is what one wants then), but its name cannot be checked.
  if (!project.registry.has(name)) {
    if (!project.broken?.length) project.registry.get(name); // throws UnknownTaskError with a suggestion
    io.err.write(`${io.err.c.yellow("warning:")} no loaded task is named "${name}"; it may be in a module above that failed to load\n`);
  }
  const store = await writeStore(project);
  try {
    store.setTaskEnabled(name, enabled, enabled ? undefined : o.reason);
  } finally {
    store.close();
  }
  io.err.write(`${enabled ? "enabled" : "disabled"} ${name}${!enabled && o.reason ? ` (${o.reason})` : ""}\n`);
  return 0;
}
