import { describe, expect, it } from "vitest";
import { cacheKey } from "../../src/core/hash.js";

describe("cacheKey", () => {
  it("is stable, hex, of the asked length, and tells inputs apart", () => {
    expect(cacheKey("a")).toBe(cacheKey("a"));
    expect(cacheKey("a")).toMatch(/^[0-9a-f]{16}$/);
    expect(cacheKey("a", 8)).toBe(cacheKey("a").slice(0, 8));
    const keys = new Set(Array.from({ length: 10_000 }, (_, i) => cacheKey(`/project/tasks/task-${i}.ts`)));
    expect(keys.size).toBe(10_000);
    expect(cacheKey("ab")).not.toBe(cacheKey("ba"));
  });
});
