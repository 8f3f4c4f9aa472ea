import type { Output } from "./output.js";
import { loadForStore } from "./project.js";
import { openProjectFleet } from "./fleet-access.js";
import { writeStore } from "./store-access.js";

/** Options of `fluid enable` / `fluid disable`. */
export interface EnableOptions {
  config?: string;
  reason?: string;
}

/** `fluid enable <task>` / `fluid disable <task>`: persists the task's enabled state in the store, or in the fleet's backend. */
export async function enableCommand(name: string, enabled: boolean, o: EnableOptions, io: Output): Promise<number> {
  const project = await loadForStore(o.config, "tolerant", io);
  // A task of a module that fails to load can still be enabled or disabled (disabling the
  // task of a broken module is what one wants then), but its name cannot be checked.
  if (!project.registry.has(name)) {
    if (!project.broken?.length) project.registry.get(name); // throws UnknownTaskError with a suggestion
    io.err.write(`${io.err.c.yellow("warning:")} no loaded task is named "${name}"; it may be in a module above that failed to load\n`);
  }
  const reason = enabled ? undefined : o.reason;
  // With a fleet backend the state is the fleet's: every daemon sees it within a second (docs/fleet.md).
  const fleet = await openProjectFleet(project);
  if (fleet) {
    try {
      await fleet.state.setTaskEnabled(name, enabled, reason);
    } finally {
      await fleet.state.close();
    }
  } else {
    const store = await writeStore(project);
    try {
      store.setTaskEnabled(name, enabled, reason);
    } finally {
      store.close();
    }
  }
  io.err.write(`${enabled ? "enabled" : "disabled"} ${name}${reason ? ` (${reason})` : ""}${fleet ? ` on the fleet (${fleet.display})` : ""}\n`);
  return 0;
}
