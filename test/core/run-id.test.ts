import { describe, expect, it } from "vitest";
import { checkRunId, newRunId } from "../../src/core/run-id.js";

describe("run ids", () => {
  it("are 20 lowercase hex characters and do not repeat", () => {
    const ids = Array.from({ length: 50_000 }, newRunId);
    for (const id of ids.slice(0, 100)) expect(id).toMatch(/^[0-9a-f]{20}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // Every hex digit shows up at every position: no constant or biased part.
    for (let position = 0; position < 20; position++) expect(new Set(ids.map((id) => id[position])).size).toBe(16);
  });

  it("accepts a caller's id of letters, digits and _ . : -, and refuses others", () => {
    expect(checkRunId("nightly-2026.11.29:1")).toBe("nightly-2026.11.29:1");
    for (const bad of ["", "-lead", "has space", "x".repeat(65)]) expect(() => checkRunId(bad)).toThrow(/invalid run id/);
  });
});
