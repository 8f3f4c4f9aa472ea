import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";

/**
 * Points FLUID_CODE_CACHE at a fresh directory for the tests of this file (restored and removed
 * after them); returns a getter of that directory.
 */
export function useTempCodeCache(): () => string {
  let dir = "";
  const before = process.env.FLUID_CODE_CACHE;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "fluid-code-cache-"));
    process.env.FLUID_CODE_CACHE = dir;
  });
  afterAll(() => {
    if (before === undefined) delete process.env.FLUID_CODE_CACHE;
    else process.env.FLUID_CODE_CACHE = before;
    rmSync(dir, { recursive: true, force: true });
  });
  return () => dir;
}
