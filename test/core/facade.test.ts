import { describe, expect, it } from "vitest";
import { exportProperties } from "../../src/core/facade.js";

describe("exportProperties", () => {
  it("exports each property under its own name, reserved words included", async () => {
    const source = `const src = globalThis.__facadeTest;\n${exportProperties("src", ["z", "null", "enum", "default", "__esModule", "not-a-name"])}`;
    (globalThis as Record<string, unknown>).__facadeTest = { z: 1, null: 2, enum: 3, default: 4, __esModule: true, "not-a-name": 5 };
    try {
      const mod = (await import(`data:text/javascript,${encodeURIComponent(source)}`)) as Record<string, unknown>;
      expect({ ...mod }).toEqual({ z: 1, null: 2, enum: 3 });
    } finally {
      delete (globalThis as Record<string, unknown>).__facadeTest;
    }
  });

  it("gives nothing for no names", () => {
    expect(exportProperties("x", [])).toBe("");
  });
});
