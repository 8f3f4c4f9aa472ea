import type { ErrorInfo } from "../core/errors.js";
import type { RunRecord } from "../core/run-record.js";
import type { RunJson } from "./schemas.js";

/** A run record as the API serves it: the same fields, without stack traces. */
export function runJson(run: RunRecord): RunJson {
  if (!run.error) return run as RunJson;
  return { ...run, error: errorJson(run.error) } as RunJson;
}

function errorJson(error: ErrorInfo, depth = 0): NonNullable<RunJson["error"]> {
  const { stack: _stack, cause, ...rest } = error;
  return { ...rest, ...(cause && depth < 4 ? { cause: errorJson(cause, depth + 1) } : {}) };
}

/** The sort time of a run (the store's order): queued, else started, else ended. */
export function runTime(run: RunRecord): number {
  return run.queuedAt ?? run.startedAt ?? run.endedAt ?? 0;
}

/** The opaque cursor of the page after `run`. */
export function encodeCursor(run: RunRecord): string {
  return Buffer.from(JSON.stringify([runTime(run), run.id])).toString("base64url");
}

/** Reads a cursor back; undefined when it is not one of ours. */
export function decodeCursor(cursor: string): { at: number; id: string } | undefined {
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(value) && value.length === 2 && Number.isFinite(value[0]) && typeof value[1] === "string") return { at: value[0] as number, id: value[1] };
  } catch {} // not base64url JSON: not one of ours (the caller answers 400)
  return undefined;
}
