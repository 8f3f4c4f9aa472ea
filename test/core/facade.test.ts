import { build } from "esbuild";
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

  it("lets a bundler drop the properties a module does not import", async () => {
    const result = await build({
      stdin: { contents: `import { z } from "facade"; globalThis.seen = z;`, loader: "js" },
      bundle: true, write: false, format: "esm", logLevel: "silent",
      plugins: [{
        name: "facade",
        setup(b) {
          b.onResolve({ filter: /^facade$/ }, () => ({ path: "facade", namespace: "facade" }));
          b.onLoad({ filter: /.*/, namespace: "facade" }, () => ({ contents: `const src = globalThis.src;\n${exportProperties("src", ["z", "enum", "object"])}`, loader: "js" }));
        },
      }],
    });
    const code = result.outputFiles[0]!.text;
    expect(code).toContain(`"z"`);
    expect(code).not.toContain(`"enum"`);
    expect(code).not.toContain(`"object"`);
  });
});
