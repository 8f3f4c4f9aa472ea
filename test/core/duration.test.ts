import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../src/core/duration.js";

describe("parseDuration", () => {
  it("reads numbers as milliseconds and text with units", () => {
    expect(parseDuration(1500)).toBe(1500);
    expect(parseDuration("1500")).toBe(1500);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("5m")).toBe(300_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("1.5s")).toBe(1500);
    expect(parseDuration("2d")).toBe(172_800_000);
  });

  it("refuses anything else with a hint", () => {
    expect(() => parseDuration("5 minutes")).toThrow(/invalid duration "5 minutes"/);
    expect(() => parseDuration("")).toThrow(/invalid duration/);
    expect(() => parseDuration(-1)).toThrow(/non-negative/);
    try {
      parseDuration("soon", "timeout");
    } catch (error) {
      expect((error as { code: string }).code).toBe("FLUID_USAGE");
      expect((error as { hint: string }).hint).toMatch(/30s/);
    }
  });
});

describe("formatDuration", () => {
  it("prints people-friendly durations", () => {
    expect(formatDuration(850)).toBe("850ms");
    expect(formatDuration(1234)).toBe("1.23s");
    expect(formatDuration(185_000)).toBe("3m 05s");
    expect(formatDuration(7_800_000)).toBe("2h 10m");
  });
});
