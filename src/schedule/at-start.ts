import type { Schedule } from "../core/types.js";
import { SCHEDULE_BRAND } from "../core/brand.js";
import { checkAfter, checkKeys, checkParams } from "./validate.js";

/** Options of `atStart()`. */
export interface AtStartOptions {
  /**
   * Params of the run, validated against the task's schema.
   * @default undefined (the task's schema defaults apply)
   */
  params?: Record<string, unknown>;
}

/** A schedule made by `atStart()`: one fire when `fluid serve` starts (cron's `@reboot`). */
export interface AtStartSchedule extends Schedule {
  readonly kind: "start";
  readonly [SCHEDULE_BRAND]: true;
  /** Always null: the fire at start is the scheduler's, not a time of the calendar. */
  next(after: Date): null;
}

/**
 * Fires once when the daemon (`fluid serve`) starts, like cron's `@reboot`: not on a reload
 * (SIGHUP), not on a schedule. The run goes through the queue like any fire (overlap,
 * retries, history). A daemon that restarts fires it again; a task added by a reload does
 * not fire until the next start. `next()` is always null, so `fluid next` lists no times and
 * nothing is ever caught up.
 *
 * @param options `params` of the run.
 * @example
 * export const warm = task({ schedule: atStart() }, async () => { ... });
 */
export function atStart(options: AtStartOptions = {}): AtStartSchedule {
  checkKeys("atStart", "options", options, ["params"]);
  const params = checkParams("atStart", options.params);
  return Object.freeze({
    [SCHEDULE_BRAND]: true as const,
    kind: "start" as const,
    params,
    timezone: undefined,
    next(after: Date): null {
      checkAfter(after, "atStart");
      return null;
    },
    describe: () => "once when fluid serve starts",
    toString: () => "atStart()",
  });
}

/** True for a schedule that fires once at daemon start (`atStart()`). */
export function firesAtStart(schedule: Schedule): boolean {
  return schedule.kind === "start";
}
