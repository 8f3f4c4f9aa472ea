import { expect } from "vitest";
import { ScheduleError } from "../../src/core/errors.js";

/** A Date from an ISO string. */
export const at = (iso: string): Date => new Date(iso);

/** Dates as ISO strings. */
export const isoOf = (dates: Date[]): string[] => dates.map((d) => d.toISOString());

/** The ScheduleError `fn` throws (failing the test when it throws nothing or something else). */
export function thrown(fn: () => unknown): ScheduleError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ScheduleError);
    expect((error as ScheduleError).code).toBe("FLUID_SCHEDULE");
    return error as ScheduleError;
  }
  throw new Error("expected a ScheduleError, nothing was thrown");
}
