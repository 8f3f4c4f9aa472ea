import type { RunRecord } from "../core/run-record.js";
import type { RunReader } from "../store/run-reader.js";
import type { Store } from "../store/store.js";
import type { TaskHealth } from "./decide.js";

/** Runs of a task looked at, newest first, to find whether it was failing. */
const LOOK_BACK = 50;

/**
 * A task's health as the store last recorded it: failing when its latest finished runs (a
 * success, a failure or a timeout; other ends and runs still queued for a retry are passed
 * over) end in failures, with how many in a row (up to LOOK_BACK runs) and since when.
 * `exceptRunId`, the run that just ended, is left out. Undefined when the store cannot say.
 */
export function previousHealth(store: Pick<Store, "listRuns">, task: string, exceptRunId: string): TaskHealth | undefined {
  let runs;
  try {
    runs = store.listRuns({ task, limit: LOOK_BACK });
  } catch {
    return undefined;
  }
  return healthOf(runs, exceptRunId);
}

/**
 * The same from a fleet's run history (docs/fleet.md), which every daemon writes: a failure
 * another daemon recorded counts. `before` runs first (the caller's own records land there).
 */
export async function previousFleetHealth(runs: Pick<RunReader, "listRuns">, task: string, exceptRunId: string, before?: () => Promise<void>): Promise<TaskHealth | undefined> {
  let timer: NodeJS.Timeout | undefined;
  // A backend that is away must not hold the task's alerts: unknown after FLEET_HEALTH_WAIT_MS (the notifier then uses what it saw last).
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, FLEET_HEALTH_WAIT_MS, undefined)));
  try {
    return await Promise.race([late, (async () => {
      await before?.();
      return healthOf(await runs.listRuns({ task, limit: LOOK_BACK }), exceptRunId);
    })()]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** How long a fleet's health may take to read, ms. */
export const FLEET_HEALTH_WAIT_MS = 3000;

function healthOf(runs: RunRecord[], exceptRunId: string): TaskHealth {
  let failures = 0;
  let since: number | undefined;
  for (const run of runs) {
    if (run.id === exceptRunId) continue;
    if (run.state === "success") break;
    if (run.state !== "failure" && run.state !== "timeout") continue;
    failures++;
    since = run.endedAt ?? run.startedAt ?? since;
  }
  return failures > 0 ? { failing: true, failures, ...(since !== undefined ? { since } : {}) } : { failing: false, failures: 0 };
}
