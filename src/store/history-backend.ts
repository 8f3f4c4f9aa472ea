import { StoreError } from "../core/errors.js";
import type { RunDetails, RunQuery, RunRecord } from "../core/run-record.js";
import type { LogLine } from "../core/types.js";
import { toJson } from "../persistence/rows.js";
import { droppedMarker } from "./log-cap.js";
import type { Retention } from "./prune.js";

/** What the Redis and PostgreSQL run histories share (see `openFleetHistory`). */

/** A log line as the backend keeps it: head ("h") lines are the first of the attempt, tail ("t") lines the last ones. */
export interface LogRow {
  id: string;
  attempt: number;
  part: "h" | "t";
  line: LogLine;
}

/** How many lines of an attempt went over the cap: the backend keeps only the last `keepTail` tail lines. */
export interface LogTrim {
  id: string;
  attempt: number;
  keepTail: number;
  dropped: number;
  droppedBytes: number;
  droppedTs: number;
}

/** What one flush sends. */
export interface HistoryBatch {
  /** At most one record per (id, attempt): the furthest along. */
  attempts: RunRecord[];
  logs: LogRow[];
  trims: LogTrim[];
}

/** An attempt's log lines as read back, with what went over the cap. */
export interface AttemptLogs {
  attempt: number;
  head: LogLine[];
  tail: LogLine[];
  dropped: number;
  droppedBytes: number;
  droppedTs?: number | undefined;
}

/** What a backend (Redis, PostgreSQL) implements under `FleetHistory`. */
export interface HistoryBackend {
  readonly where: string;
  write(batch: HistoryBatch): Promise<void>;
  /** The record of one attempt. */
  attempt(id: string, attempt: number): Promise<RunRecord | undefined>;
  /** The full id of a run by id or unique prefix (StoreError when unknown or ambiguous). */
  resolve(idOrPrefix: string): Promise<string>;
  attempts(id: string): Promise<RunRecord[]>;
  logs(id: string): Promise<AttemptLogs[]>;
  latestAttempt(id: string): Promise<RunRecord | undefined>;
  children(id: string): Promise<RunRecord[]>;
  listRuns(query?: RunQuery): Promise<RunRecord[]>;
  /** Per task, the latest attempt of its newest run that is not queued (absent: none). */
  lastRuns(tasks: readonly string[]): Promise<Map<string, RunRecord>>;
  /**
   * Takes the fleet's turn to apply the retention, atomically across daemons: true for at most
   * one caller per `everyMs` (the turn is a value in the backend, not a process's memory).
   */
  takePruneTurn(now: number, everyMs: number): Promise<boolean>;
  /**
   * Deletes runs beyond the retention (as `Store.prune`: older than `days`, beyond the newest
   * `perTask` of each task; never a queued or running run), one small step per round trip;
   * yields how many runs each step deleted.
   */
  pruneSteps(retention: Retention, now: number): AsyncGenerator<number, void, void>;
  close(): Promise<void>;
}

/** Candidates listed when a run id prefix is ambiguous. */
export const CANDIDATES = 5;

/** The errors of an unknown and an ambiguous id, worded as the SQLite store's. */
export function unknownRun(idOrPrefix: string, where: string): StoreError {
  if (idOrPrefix === "") return new StoreError("no run id given", { hint: "pass a run id or the first characters of one" });
  return new StoreError(`no run with id "${idOrPrefix}" in ${where}`, { hint: "list recent runs with `fluid history`; runs older than the retention are deleted" });
}
export function ambiguousRun(idOrPrefix: string, matches: Array<{ id: string; task: string }>): StoreError {
  const listed = matches.slice(0, CANDIDATES).map((r) => `${r.id} (${r.task})`);
  const more = matches.length > CANDIDATES ? ", ..." : "";
  return new StoreError(`run id prefix "${idOrPrefix}" is ambiguous: it matches ${listed.join(", ")}${more}`, { hint: "type more characters of the id" });
}

/** A run's time, as the SQLite store orders runs: its latest attempt's queuedAt, else startedAt, else endedAt. */
export function runTime(r: RunRecord): number {
  return r.queuedAt ?? r.startedAt ?? r.endedAt ?? 0;
}

/** A record as JSON; params and result JSON cannot hold are kept as the SQLite store keeps them. */
export function recordJson(r: RunRecord): string {
  try {
    return JSON.stringify(r);
  } catch {
    // A BigInt or a cycle in params or result: stored as the store stores them (a string, or a note).
    const params = toJson(r.params);
    const result = toJson(r.result);
    return JSON.stringify({ ...r, params: params === null ? null : JSON.parse(params), ...(result === null ? {} : { result: JSON.parse(result) }) });
  }
}

/** Log lines of every attempt in order, with a marker line where an attempt went over the cap (as `Store.getRun`). */
export function assembleLogs(attempts: AttemptLogs[]): Pick<RunDetails, "logs" | "droppedLogLines" | "droppedLogBytes"> {
  const logs: RunDetails["logs"] = [];
  let dropped = 0;
  let droppedBytes = 0;
  for (const a of [...attempts].sort((x, y) => x.attempt - y.attempt)) {
    for (const l of a.head) logs.push({ ...l, attempt: a.attempt });
    if (a.dropped > 0) {
      dropped += a.dropped;
      droppedBytes += a.droppedBytes;
      logs.push({ attempt: a.attempt, ts: a.tail[0]?.ts ?? a.droppedTs ?? 0, level: "warn", message: droppedMarker(a.dropped, a.droppedBytes) });
    }
    for (const l of a.tail) logs.push({ ...l, attempt: a.attempt });
  }
  return { logs, droppedLogLines: dropped, droppedLogBytes: droppedBytes };
}

