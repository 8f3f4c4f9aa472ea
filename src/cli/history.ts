import { formatDuration, parseDuration } from "../core/duration.js";
import { UsageError } from "../core/errors.js";
import type { RunRecord } from "../core/run-record.js";
import { FINAL_STATES, type RunState } from "../core/types.js";
import { stateText, table, type Output } from "./output.js";
import { loadForStore } from "./project.js";
import { localTime, readRuns } from "./store-access.js";

const STATES: RunState[] = ["queued", "running", ...FINAL_STATES];

/** Options of `fluid history`. */
export interface HistoryOptions {
  config?: string;
  task?: string;
  state?: string;
  since?: string;
  until?: string;
  limit?: string;
  json?: boolean;
}

/** `fluid history [task]`: recorded runs, newest first. */
export async function historyCommand(o: HistoryOptions, io: Output): Promise<number> {
  const state = o.state === undefined ? undefined : checkState(o.state);
  const since = o.since === undefined ? undefined : parseWhen(o.since, "--since");
  const until = o.until === undefined ? undefined : parseWhen(o.until, "--until");
  const limit = o.limit === undefined ? 50 : Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a whole number >= 1, got "${o.limit}"`);
  // Task modules are loaded only to check a task name, and a broken one does not stop history.
  const project = await loadForStore(o.config, o.task === undefined ? "none" : "tolerant", io);
  if (o.task !== undefined && !project.registry.has(o.task) && !project.broken?.length) {
    project.registry.get(o.task); // throws UnknownTaskError with a suggestion
  }
  const store = await readRuns(project);
  let runs: RunRecord[] = [];
  try {
    runs = await store?.runs.listRuns({
      ...(o.task ? { task: o.task } : {}), ...(state ? { state } : {}),
      ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}), limit,
    }) ?? [];
  } finally {
    await store?.close();
  }
  if (o.json) {
    io.out.write(JSON.stringify(runs) + "\n");
    return 0;
  }
  if (runs.length === 0) {
    io.err.write(store ? "no runs match\n" : "no runs recorded yet\n");
    return 0;
  }
  const c = io.out.c;
  io.out.write(table(c, ["ID", "TASK", "STATE", "STARTED", "DURATION", "TRIGGER", "ATTEMPT"], runs.map((r) => [
    r.id.slice(0, 12),
    r.task,
    stateText(c, r.state),
    localTime(r.startedAt ?? r.queuedAt),
    r.durationMs === undefined ? c.dim("-") : formatDuration(r.durationMs),
    r.trigger,
    r.maxAttempts > 1 ? `${r.attempt}/${r.maxAttempts}` : String(r.attempt),
  ])));
  return 0;
}

function checkState(state: string): RunState {
  if ((STATES as string[]).includes(state)) return state as RunState;
  throw new UsageError(`unknown state "${state}"`, { hint: `states: ${STATES.join(", ")}` });
}

/** A time for --since/--until: a duration back from now ("2h", "3d") or a date ("2026-01-31", ISO 8601). */
export function parseWhen(value: string, flag: string, now = Date.now()): number {
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const ms = Date.parse(value.length === 10 ? `${value}T00:00:00` : value);
    if (!Number.isNaN(ms)) return ms;
  } else {
    try {
      return now - parseDuration(value, flag);
    } catch {} // not a duration either: the error below says what is accepted
  }
  throw new UsageError(`${flag}: cannot read "${value}" as a time`, { hint: `use a duration back from now ("2h", "3d") or a date ("2026-01-31", "2026-01-31T14:00:00Z")` });
}
