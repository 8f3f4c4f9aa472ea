import { loadProject } from "../config/load.js";
import { formatDuration } from "../duration.js";
import type { Task } from "../task/task.js";
import { table, type Output } from "./output.js";

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
}

/** Describes a task for listing. */
export function listing(task: Task, file: string | undefined, now = new Date()): TaskListing {
  const next = task.schedule?.next(now) ?? null;
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
  };
}

/** `fluid ls`: the tasks of the project as a table (or JSON). */
export async function lsCommand(o: LsOptions, io: Output): Promise<number> {
  const project = await loadProject({ ...(o.config ? { config: o.config } : {}) });
  const now = new Date();
  const tasks = project.registry
    .list()
    .filter((t) => !o.tags?.length || t.tags.some((tag) => o.tags!.includes(tag)));
  const rows = tasks.map((t) => listing(t, project.registry.origin(t.name)?.file, now));
  if (o.json) {
    io.out.write(JSON.stringify(rows, null, 2) + "\n");
    return 0;
  }
  const c = io.out.c;
  if (rows.length === 0) {
    io.err.write(o.tags?.length ? `no task has any of the tags ${o.tags.join(", ")}\n` : "no tasks\n");
    return 0;
  }
  const width = io.out.isTTY ? io.out.columns : Infinity;
  const body = rows.map((r) => [
    c.bold(r.name),
    r.scheduleText ?? c.dim("-"),
    r.nextRun ? relativeTime(new Date(r.nextRun), now) : c.dim("-"),
    r.cpuBound ? "yes" : c.dim("no"),
    r.timeoutMs ? formatDuration(r.timeoutMs) : c.dim("none"),
    r.maxConcurrency ? String(r.maxConcurrency) : c.dim("-"),
    r.tags.join(",") || c.dim("-"),
    firstLine(r.description),
  ]);
  const text = table(c, ["NAME", "SCHEDULE", "NEXT RUN", "CPU", "TIMEOUT", "MAX", "TAGS", "DESCRIPTION"], body);
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

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
/** Cuts a line to the terminal width, keeping colour codes intact enough (resets at the end). */
function clip(line: string, width: number): string {
  if (line.replace(ANSI, "").length <= width) return line;
  let visible = 0;
  let out = "";
  for (let i = 0; i < line.length; i++) {
    if (line[i] === "\u001b") {
      const m = /^\u001b\[[0-9;]*m/.exec(line.slice(i));
      if (m) {
        out += m[0];
        i += m[0].length - 1;
        continue;
      }
    }
    if (visible >= width - 1) return out + "…\u001b[0m";
    out += line[i];
    visible++;
  }
  return out;
}
