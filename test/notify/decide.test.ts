import { describe, expect, it } from "vitest";
import { decide, needsHealth } from "../../src/notify/decide.js";

describe("decide: what the end of an attempt sends", () => {
  it("a success of a task that was not failing sends no alert, only the success ping", () => {
    expect(decide(undefined, "success", true, 1000)).toEqual({ ping: "success", next: { failing: false, failures: 0 } });
    expect(decide({ failing: false, failures: 0 }, "success", true, 1000).alert).toBeUndefined();
  });

  it("a failure or a timeout alerts every time and counts the failures in a row", () => {
    const first = decide(undefined, "failure", true, 1000);
    expect(first).toEqual({ alert: "failure", ping: "fail", next: { failing: true, failures: 1, since: 1000 } });
    const second = decide(first.next, "timeout", true, 2000);
    expect(second).toEqual({ alert: "timeout", ping: "fail", next: { failing: true, failures: 2, since: 1000 } });
  });

  it("the first success after failures is a recovery; the next success is not", () => {
    const recovered = decide({ failing: true, failures: 3, since: 5 }, "success", true, 1000);
    expect(recovered.alert).toBe("recovery");
    expect(decide(recovered.next, "success", true, 2000).alert).toBeUndefined();
  });

  it("an attempt that will be retried sends nothing and changes nothing", () => {
    expect(decide(undefined, "failure", false, 1000)).toEqual({});
    expect(decide({ failing: true, failures: 1 }, "success", false, 1000)).toEqual({});
    expect(needsHealth("failure", false)).toBe(false);
  });

  it("ends that are not a verdict on the task (aborted, cancelled, dropped, interrupted) send nothing", () => {
    for (const state of ["aborted", "cancelled", "rate_limited", "interrupted"] as const) {
      expect(decide({ failing: true, failures: 1 }, state, true, 1000)).toEqual({});
      expect(needsHealth(state, true)).toBe(false);
    }
  });
});
