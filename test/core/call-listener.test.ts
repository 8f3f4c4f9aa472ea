import { describe, expect, it } from "vitest";
import { callListener } from "../../src/core/call-listener.js";

describe("callListener", () => {
  it("calls the listener with the arguments", () => {
    const got: unknown[][] = [];
    callListener((a: number, b: string) => void got.push([a, b]), 1, "x");
    expect(got).toEqual([[1, "x"]]);
  });

  it("ignores a listener that throws, and an absent one", () => {
    let called = 0;
    expect(() => callListener(() => {
      called++;
      throw new Error("a failing logger");
    })).not.toThrow();
    expect(called).toBe(1);
    expect(() => callListener(undefined, "nothing to call")).not.toThrow();
  });
});
