import type { RunState } from "../core/types.js";

/**
 * How far along an attempt is, by state: the one place that says which record of an attempt
 * may replace which. A record never goes backwards: the store keeps a stored record when the
 * new one's rank is lower (a producer's late `queued` row never hides the daemon's `success`).
 *
 * - 0 `queued`: written with the queue row.
 * - 1 `running`, and `interrupted`: a shutdown puts the same attempt back in the queue, and
 *   its next start records `running` again; `interrupted` replaces `running` and back.
 * - 2 every other final state: nothing replaces it but another final state.
 */
export const STATE_RANK: Readonly<Record<RunState, number>> = {
  queued: 0,
  running: 1,
  interrupted: 1,
  success: 2,
  failure: 2,
  aborted: 2,
  timeout: 2,
  cancelled: 2,
  rate_limited: 2,
};

/** SQL expression giving the rank of the state in `column` (an unknown state ranks as final). */
export function stateRankSql(column: string): string {
  const cases = Object.entries(STATE_RANK)
    .filter(([, rank]) => rank !== 2)
    .map(([state, rank]) => `WHEN '${state}' THEN ${rank}`)
    .join(" ");
  return `(CASE ${column} ${cases} ELSE 2 END)`;
}
