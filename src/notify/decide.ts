import type { RunState } from "../core/types.js";

/** Why an alert is sent. */
export type AlertKind = "failure" | "timeout" | "recovery";

/** What a notifier remembers of a task between runs: is it failing, and since when. */
export interface TaskHealth {
  failing: boolean;
  /** Runs in a row that failed or timed out (as far as known). */
  failures: number;
  /** When the first of those ended (epoch ms), if known. */
  since?: number;
}

/** What to do when a run ends: the alert to send, the dead-man's-switch ping, the task's health after it. */
export interface Decision {
  alert?: AlertKind;
  ping?: "success" | "fail";
  next?: TaskHealth;
}

/**
 * Decides, without side effects, what the end of an attempt sends. Only a run's last attempt
 * (`final`: no retry follows) counts. A failure or timeout alerts every time; a success alerts
 * only when the task was failing (recovery); every other end (aborted on purpose, cancelled,
 * dropped at a limit, interrupted by shutdown) sends nothing and leaves the health as it was.
 */
export function decide(previous: TaskHealth | undefined, state: RunState, final: boolean, endedAt: number): Decision {
  if (!final) return {};
  if (state === "success") {
    return { ...(previous?.failing ? { alert: "recovery" as const } : {}), ping: "success", next: { failing: false, failures: 0 } };
  }
  if (state === "failure" || state === "timeout") {
    const wasFailing = previous?.failing === true;
    const since = wasFailing ? previous.since : endedAt;
    return {
      alert: state, ping: "fail",
      next: { failing: true, failures: (wasFailing ? previous.failures : 0) + 1, ...(since !== undefined ? { since } : {}) },
    };
  }
  return {};
}

/** Does an end in this state need the task's previous health (to count, or to see a recovery)? */
export function needsHealth(state: RunState, final: boolean): boolean {
  return final && (state === "success" || state === "failure" || state === "timeout");
}
