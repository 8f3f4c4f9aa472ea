import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadZod, ownZod, resolveZod, zodFacade } from "../../src/loader/zod.js";
import { packageRoot } from "../../src/package-root.js";

let cacheDir: string;
const before = process.env.FLUID_CODE_CACHE;
beforeAll(() => {
  cacheDir = mkdtempSync(join(tmpdir(), "fluid-zod-"));
  process.env.FLUID_CODE_CACHE = cacheDir;
});
afterAll(() => {
  if (before === undefined) delete process.env.FLUID_CODE_CACHE;
  else process.env.FLUID_CODE_CACHE = before;
  rmSync(cacheDir, { recursive: true, force: true });
});

describe("zod loader", () => {
  it("bundles an installation once into the cache directory and loads one instance of it", () => {
    const entry = resolveZod(packageRoot().dir)!;
    expect(entry).toMatch(/zod/);
    const zod = loadZod(entry);
    expect(zod.z.string().parse("x")).toBe("x");
    expect(loadZod(entry)).toBe(zod);
    expect(ownZod()).toBe(zod);
    expect(readdirSync(cacheDir).filter((n) => /^zod-\d+\.\d+\.\d+-[0-9a-f]{8}\.js$/.test(n))).toHaveLength(1);
  });

  it("gives no entry where zod is not installed", () => {
    expect(resolveZod(tmpdir())).toBeUndefined();
  });

  it("writes a facade module that re-exports that same instance, default and reserved names too", async () => {
    const entry = resolveZod(packageRoot().dir)!;
    const file = join(cacheDir, "facade.mjs");
    writeFileSync(file, zodFacade(entry));
    const facade = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    const zod = loadZod(entry);
    expect(facade.z).toBe(zod.z);
    expect(facade.null).toBe(zod.null);
    expect(facade.default).toBe(zod.default);
  });
});
