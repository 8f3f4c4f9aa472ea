import { loadProject } from "../config/load.js";
import { formatDuration } from "../core/duration.js";
import type { Task } from "../task/task.js";
import type { RunRecord, TaskState } from "../core/run-record.js";
import type { RunState } from "../core/types.js";
import { clip, stateText, table, type Output } from "./output.js";
import { projectTaskStates } from "./fleet-access.js";
import { ago, readRuns, readStore } from "./store-access.js";

/** The last run of each task in the fleet's run history (one read for all of them). */
async function fleetLastRuns(project: Awaited<ReturnType<typeof loadProject>>, tasks: Task[]): Promise<Map<string, RunRecord>> {
  const opened = await readRuns(project);
  if (!opened) return new Map();
  try {
    return await opened.runs.lastRuns(tasks.map((t) => t.name));
  } finally {
    await opened.close();
  }
}

/** Options of `fluid ls`. */
export interface LsOptions {
  config?: string;
  /** Keep tasks that have any of these tags. */
  tags?: string[];
  json?: boolean;
}

/** One row of `fluid ls --json`. */
export interface TaskListing {
  name: string;
  description: string;
  schedule: string | null;
  scheduleText: string | null;
  nextRun: string | null;
  cpuBound: boolean;
  timeoutMs: number;
  maxConcurrency: number;
  priority: string;
  tags: string[];
  file: string | null;
  enabled: boolean;
  disabledReason: string | null;
  lastRun: { id: string; state: RunState; at: string } | null;
}

/** Describes a task for listing. */
export function listing(task: Task, file: string | undefined, now = new Date(), state?: TaskState, last?: RunRecord): TaskListing {
  const next = task.schedule?.next(now) ?? null;
  const lastAt = last?.endedAt ?? last?.startedAt ?? last?.queuedAt;
  return {
    name: task.name,
    description: task.description,
    schedule: task.schedule ? task.schedule.toString() : null,
    scheduleText: task.schedule ? task.schedule.describe() : null,
    nextRun: next ? next.toISOString() : null,
    cpuBound: task.cpuBound,
    timeoutMs: task.timeoutMs,
    maxConcurrency: task.maxConcurrency,
    priority: task.priority,
    tags: [...task.tags],
    file: file ?? null,
    enabled: state?.enabled ?? true,
    disabledReason: state && !state.enabled ? state.reason ?? null : null,
    lastRun: last && lastAt !== undefined ? { id: last.id, state: last.state, at: new Date(lastAt).toISOString() } : null,
  };
}

/** `fluid ls`: the tasks of the project as a table (or JSON). */
export async function lsCommand(o: LsOptions, io: Output): Promise<number> {
  const project = await loadProject({ ...(o.config ? { config: o.config } : {}) });
  const now = new Date();
  const tasks = project.registry
    .list()
    .filter((t) => !o.tags?.length || t.tags.some((tag) => o.tags!.includes(tag)));
  const store = await readStore(project);
  let states = new Map<string, TaskState>();
  let lasts = new Map<string, RunRecord>();
  try {
    if (store) [states, lasts] = [store.taskStates(), store.lastRuns()];
  } finally {
    store?.close();
  }
  // With a fleet backend, enabled / disabled and the last runs are the fleet's (any daemon's).
  states = await projectTaskStates(project, async () => states);
  if (project.config.backend) lasts = await fleetLastRuns(project, tasks);
  const rows = tasks.map((t) => listing(t, project.registry.origin(t.name)?.file, now, states.get(t.name), lasts.get(t.name)));
  if (o.json) {
    io.out.write(JSON.stringify(rows, null, 2) + "\n");
    return 0;
  }
  const c = io.out.c;
  if (rows.length === 0) {
    io.err.write(o.tags?.length ? `no task has any of the tags ${o.tags.join(", ")}\n` : "no tasks\n");
    return 0;
  }
  const width = io.out.isTTY && io.out.columns > 0 ? io.out.columns : Infinity;
  const body = rows.map((r) => [
    c.bold(r.name),
    r.enabled ? c.green("on") : c.yellow("off") + (r.disabledReason ? c.dim(` (${r.disabledReason})`) : ""),
    r.lastRun ? `${stateText(c, r.lastRun.state)} ${c.dim(ago(Date.parse(r.lastRun.at), now.getTime()))}` : c.dim("-"),
    r.scheduleText ?? c.dim("-"),
    r.nextRun ? relativeTime(new Date(r.nextRun), now) : c.dim("-"),
    r.cpuBound ? "yes" : c.dim("no"),
    r.timeoutMs ? formatDuration(r.timeoutMs) : c.dim("none"),
    r.maxConcurrency ? String(r.maxConcurrency) : c.dim("-"),
    r.tags.join(",") || c.dim("-"),
    firstLine(r.description),
  ]);
  const text = table(c, ["NAME", "ENABLED", "LAST RUN", "SCHEDULE", "NEXT RUN", "CPU", "TIMEOUT", "MAX", "TAGS", "DESCRIPTION"], body);
  io.out.write(width === Infinity ? text : text.split("\n").map((l) => clip(l, width)).join("\n"));
  return 0;
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? "";
}

/** "in 5m 02s (14:05:00Z)". */
function relativeTime(when: Date, now: Date): string {
  const ms = when.getTime() - now.getTime();
  return `in ${formatDuration(Math.max(0, ms))} (${when.toISOString().slice(0, 16).replace("T", " ")}Z)`;
}
