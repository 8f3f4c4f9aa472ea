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

  it("gives the keys it always gave (cache files keep their names from one version to the next)", () => {
    expect(cacheKey("")).toBe("0bdcb81aee8d8310");
    expect(cacheKey("fluid-tasks")).toBe("13e9ace2700eb913");
    expect(cacheKey(JSON.stringify([7, ["/p/tasks/a.ts", "/p/tasks/b.ts"]]), 28)).toBe("046c1cb9bc77f102d66e99f8b2b2");
  });
});
