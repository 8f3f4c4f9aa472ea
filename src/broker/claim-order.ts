import type { Priority } from "../core/types.js";

/** Priorities in claim order; the index is the rank the SQLite broker stores (0 high, 1 medium, 2 low). */
export const PRIORITIES: readonly Priority[] = ["high", "medium", "low"];

const RANK: Readonly<Record<string, number>> = { high: 0, medium: 1, low: 2 };

/** Rank of a priority: 0 high, 1 medium, 2 low; for a valid priority only. */
export function priorityRank(priority: Priority): number {
  return RANK[priority]!;
}

/** Whether `value` is one of the three priorities. */
export function isPriority(value: unknown): value is Priority {
  return typeof value === "string" && Object.hasOwn(RANK, value);
}

/** Where a run stands in claim order. */
export interface ClaimKey {
  /** Priority rank: 0 high, 1 medium, 2 low. */
  rank: number;
  runAfter: number;
  /** Enqueue order. */
  seq: number;
}

/** Whether `a` is claimed before `b`: priority, then runAfter, then enqueue order (`seq`). */
export function claimsBefore(a: ClaimKey, b: ClaimKey): boolean {
  if (a.rank !== b.rank) return a.rank < b.rank;
  if (a.runAfter !== b.runAfter) return a.runAfter < b.runAfter;
  return a.seq < b.seq;
}
