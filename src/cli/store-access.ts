import type { Project } from "../config/load.js";
import { StoreError } from "../core/errors.js";
import { openProjectStore } from "../store/project-store.js";
import type { Store } from "../store/store.js";
import { storeReader, type RunReader } from "../store/run-reader.js";

/**
 * Opens the project's store for reading, or returns undefined when recording is off or
 * nothing has been recorded yet (no file). Other problems (corrupt, unreadable) throw.
 */
export async function readStore(project: Project): Promise<Store | undefined> {
  // Nothing is recorded without a store, or in a ":memory:" one that each process makes anew.
  if (project.config.store === false || project.config.store.path === ":memory:") return undefined;
  try {
    return await openProjectStore(project.config, { readonly: true });
  } catch (error) {
    if (error instanceof StoreError && /does not exist/.test(error.message)) return undefined;
    // A store written by an older fluid-tasks: upgrade it (migrations keep all history), then read.
    if (error instanceof StoreError && /older fluid-tasks/.test(error.message)) return openProjectStore(project.config);
    throw error;
  }
}

/**
 * What `fluid history`, `show` and `logs` read: the fleet's run history when the project has a
 * backend (config `backend`, FLUID_BACKEND_URL), else the local store (undefined when recording
 * is off or nothing is recorded yet). `close` it when done.
 */
export async function readRuns(project: Project): Promise<{ runs: RunReader; close: () => Promise<void> } | undefined> {
  if (project.config.backend) {
    const { openProjectHistory } = await import("../store/project-history.js");
    const history = (await openProjectHistory(project.config, { failFast: true }))!;
    return { runs: history, close: () => history.close() };
  }
  const store = await readStore(project);
  return store && { runs: storeReader(store), close: async () => store.close() };
}

/** Opens the project's store for writing; a StoreError explains what is wrong and what to do. */
export async function writeStore(project: Project): Promise<Store> {
  if (project.config.store === false) {
    throw new StoreError(`recording is off in ${project.configFile} (store: false)`, { hint: "remove `store: false` from the config to keep run history and task state" });
  }
  return (await openProjectStore(project.config))!;
}

/** Local date and time "2026-01-31 14:05:09" of an epoch ms. */
export function localTime(ms: number | undefined): string {
  if (ms === undefined) return "-";
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "5m 03s ago" / "in 2h 10m". */
export function ago(ms: number, now = Date.now()): string {
  const d = now - ms;
  const s = Math.round(Math.abs(d) / 1000);
  const text = s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : s < 86_400 ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m` : `${Math.floor(s / 86_400)}d`;
  return d >= 0 ? `${text} ago` : `in ${text}`;
}
