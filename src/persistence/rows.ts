import type { ErrorInfo } from "../core/errors.js";
import { StoreError } from "../core/errors.js";
import type { RunState, RunTrigger } from "../core/types.js";
import type { RunRecord } from "../core/run-record.js";
import { stateRankSql } from "./state-order.js";

/** A `runs` row, as bound positionally by the upsert (column order of `RUN_COLUMNS`). */
export type RunRow = [
  id: string,
  attempt: number,
  maxAttempts: number,
  task: string,
  state: string,
  trigger: string,
  params: string | null,
  result: string | null,
  error: string | null,
  at: number,
  queuedAt: number | null,
  startedAt: number | null,
  endedAt: number | null,
  durationMs: number | null,
  fromRunId: string | null,
  rootRunId: string | null,
  host: string,
  pid: number,
  exitCode: number | null,
];

/** Columns of `runs` in the order of `RunRow`. */
export const RUN_COLUMNS = [
  "id",
  "attempt",
  "max_attempts",
  "task",
  "state",
  "trigger",
  "params",
  "result",
  "error",
  "at",
  "queued_at",
  "started_at",
  "ended_at",
  "duration_ms",
  "from_run_id",
  "root_run_id",
  "host",
  "pid",
  "exit_code",
] as const;

/**
 * The one write of an attempt row, bound positionally with a `RunRow`: inserts it, or replaces
 * the stored row of the same (id, attempt) unless the stored one is further along (STATE_RANK).
 * The conflict is on the unique index (id_key, attempt), the id's key (schema v5). The rule
 * sits in the statement, so it holds whichever process writes last.
 */
export const UPSERT_RUN_SQL = `INSERT INTO runs (${RUN_COLUMNS.join(", ")}) VALUES (${RUN_COLUMNS.map(() => "?").join(", ")})
  ON CONFLICT (id_key, attempt) DO UPDATE SET ${RUN_COLUMNS.slice(2).map((c) => `${c} = excluded.${c}`).join(", ")}
  WHERE ${stateRankSql("excluded.state")} >= ${stateRankSql("runs.state")}`;

/** A `runs` row as read back. */
export interface RunRowObject {
  id: string;
  attempt: number;
  max_attempts: number;
  task: string;
  state: string;
  trigger: string;
  params: string | null;
  result: string | null;
  error: string | null;
  at: number;
  queued_at: number | null;
  started_at: number | null;
  ended_at: number | null;
  duration_ms: number | null;
  from_run_id: string | null;
  root_run_id: string | null;
  host: string;
  pid: number;
  exit_code: number | null;
}

/**
 * Converts a record to a row, serialising JSON now: the caller may mutate its objects after
 * `writeAttempt` returns, and a value JSON cannot hold must not poison a later flush.
 * Throws a StoreError for a record without a usable id or attempt (a caller bug).
 */
export function toRow(rec: RunRecord): RunRow {
  if (typeof rec.id !== "string" || rec.id === "" || !Number.isInteger(rec.attempt)) {
    throw new StoreError(`cannot record a run without a string id and an integer attempt (got id ${String(rec.id)}, attempt ${String(rec.attempt)})`);
  }
  return [
    rec.id,
    rec.attempt,
    rec.maxAttempts ?? rec.attempt,
    String(rec.task),
    String(rec.state),
    String(rec.trigger),
    toJson(rec.params),
    toJson(rec.result),
    toJson(rec.error),
    rec.queuedAt ?? rec.startedAt ?? rec.endedAt ?? Date.now(),
    rec.queuedAt ?? null,
    rec.startedAt ?? null,
    rec.endedAt ?? null,
    rec.durationMs ?? null,
    rec.fromRunId ?? null,
    rec.rootRunId ?? null,
    rec.host ?? "",
    rec.pid ?? 0,
    rec.exitCode ?? null,
  ];
}

/** Converts a row read back to a record; absent values are left out, not set to undefined. */
export function fromRow(row: RunRowObject): RunRecord {
  const rec: RunRecord = {
    id: row.id,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    task: row.task,
    state: row.state as RunState,
    trigger: row.trigger as RunTrigger,
    params: row.params === null ? undefined : JSON.parse(row.params),
    host: row.host,
    pid: row.pid,
  };
  if (row.result !== null) rec.result = JSON.parse(row.result);
  if (row.error !== null) rec.error = JSON.parse(row.error) as ErrorInfo;
  if (row.queued_at !== null) rec.queuedAt = row.queued_at;
  if (row.started_at !== null) rec.startedAt = row.started_at;
  if (row.ended_at !== null) rec.endedAt = row.ended_at;
  if (row.duration_ms !== null) rec.durationMs = row.duration_ms;
  if (row.from_run_id !== null) rec.fromRunId = row.from_run_id;
  if (row.root_run_id !== null) rec.rootRunId = row.root_run_id;
  if (row.exit_code !== null) rec.exitCode = row.exit_code;
  return rec;
}

/**
 * JSON text of a value, or null for undefined. BigInts become strings; a value JSON cannot
 * hold at all (a cycle) is recorded as a note saying so rather than failing the write.
 */
export function toJson(value: unknown): string | null {
  if (value === undefined) return null;
  try {
    return JSON.stringify(value) ?? null;
  } catch {
    // The replacer slows every call down, so it is only used when the plain call fails.
  }
  try {
    return JSON.stringify(value, bigintToString) ?? null;
  } catch (error) {
    return JSON.stringify({ unserializable: error instanceof Error ? error.message : String(error) });
  }
}

function bigintToString(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
