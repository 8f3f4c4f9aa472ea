import { describe, expect, it } from "vitest";
import { checkRunId, newRunId, runIdKey } from "../../src/core/run-id.js";

describe("run ids", () => {
  it("are 20 lowercase hex characters and do not repeat", () => {
    const ids = Array.from({ length: 50_000 }, newRunId);
    for (const id of ids.slice(0, 100)) expect(id).toMatch(/^[0-9a-f]{20}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // The first 8 (what people see and type) are random: every hex digit at every position.
    for (let position = 0; position < 8; position++) expect(new Set(ids.map((id) => id[position])).size).toBe(16);
    // So 8 characters tell 50,000 ids apart as well as they did when ids were all random.
    expect(new Set(ids.map((id) => id.slice(0, 8))).size).toBeGreaterThan(ids.length - 5);
  });

  it("have keys that follow the order they were made in, and near the clock", () => {
    const before = Date.now();
    const ids = Array.from({ length: 10_000 }, newRunId);
    const keys = ids.map(runIdKey);
    for (let i = 1; i < keys.length; i++) expect(keys[i]! > keys[i - 1]!).toBe(true);
    // The counter is milliseconds × 32 plus a sequence: never behind the clock, and ahead of it
    // by at most one millisecond per 32 ids (this file makes 60,000).
    for (const id of [ids[0]!, ids[ids.length - 1]!]) {
      const ms = Math.floor(parseInt(id.slice(8), 16) / 32);
      expect(ms).toBeGreaterThanOrEqual(before);
      expect(ms).toBeLessThanOrEqual(Date.now() + 60_000 / 32);
    }
  });

  it("key an id by rotating it left by 8 characters, one-to-one", () => {
    expect(runIdKey("abcdef01" + "0123456789ab")).toBe("0123456789ab" + "abcdef01");
    expect(runIdKey("nightly-2026.11.29:1")).toBe("2026.11.29:1nightly-");
    for (const short of ["a", "used-one", "12345678"]) expect(runIdKey(short)).toBe(short);
    expect(runIdKey("123456789")).toBe("912345678");
    // Counted in code points, as SQLite's substr counts characters.
    expect(runIdKey("ééééééééxy")).toBe("xyéééééééé");
    expect(runIdKey("😀".repeat(8) + "z")).toBe("z" + "😀".repeat(8));
    const ids = ["a", "ab", "abcdefgh", "abcdefghi", "iabcdefgh", "habcdefgi", "bcdefghia"];
    expect(new Set(ids.map(runIdKey)).size).toBe(ids.length);
  });

  it("accepts a caller's id of letters, digits and _ . : -, and refuses others", () => {
    expect(checkRunId("nightly-2026.11.29:1")).toBe("nightly-2026.11.29:1");
    for (const bad of ["", "-lead", "has space", "x".repeat(65)]) expect(() => checkRunId(bad)).toThrow(/invalid run id/);
  });
});
