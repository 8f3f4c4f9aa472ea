import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { transformSync } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { decodeMappings, originalPosition } from "../../src/startup/stack-map.js";

const dir = mkdtempSync(join(tmpdir(), "fluid-stack-map-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("stack mapping", () => {
  it("decodes base64 VLQ mappings: columns per line, other fields relative across lines", () => {
    // "AAAA" = [0,0,0,0]; "CAAC" = [1,0,0,1]; ";" starts line 2; "AACA" = [0,0,1,0].
    expect(decodeMappings("AAAA,CAAC;AACA")).toEqual([
      [{ column: 0, source: 0, line: 0, sourceColumn: 0 }, { column: 1, source: 0, line: 0, sourceColumn: 1 }],
      [{ column: 0, source: 0, line: 1, sourceColumn: 1 }],
    ]);
  });

  it("maps a position in a compiled file to its TypeScript source through the inline map", () => {
    const source = join(dir, "task.ts");
    const ts = `interface Options {\n  n: number;\n}\n\nexport function boom(o: Options): never {\n  throw new Error("boom " + o.n);\n}\n`;
    writeFileSync(source, ts);
    const out = transformSync(ts, { loader: "ts", format: "esm", sourcemap: "inline", sourcefile: "task.ts" });
    const compiled = join(dir, "compiled.mjs");
    writeFileSync(compiled, out.code);
    const lines = out.code.split("\n");
    const line = lines.findIndex((l) => l.includes("throw new Error")) + 1;
    const column = lines[line - 1]!.indexOf("throw") + 1;
    expect(originalPosition(compiled, line, column)).toEqual({ source, line: 6, column: 3 });
    expect(originalPosition(compiled, 999, 1)).toBeUndefined();
    expect(originalPosition(join(dir, "missing.mjs"), 1, 1)).toBeUndefined();
  });
});
