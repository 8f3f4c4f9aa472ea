import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { loadZod, ownZod, prepareZod, resolveZod, zodFacade } from "../../src/startup/zod.js";
import { packageRoot } from "../../src/package-root.js";
import { useTempCodeCache } from "./temp-code-cache.js";

const cache = useTempCodeCache();

describe("zod loader", () => {
  it("bundles an installation once into the cache directory and loads one instance of it", async () => {
    const entry = resolveZod(packageRoot().dir)!;
    expect(entry).toMatch(/zod/);
    await prepareZod(entry);
    const zod = loadZod(entry);
    expect(zod.z.string().parse("x")).toBe("x");
    expect(loadZod(entry)).toBe(zod);
    expect(ownZod()).toBe(zod);
    expect(readdirSync(cache()).filter((n) => /^zod-[0-9a-f]{8}-\d+\.\d+\.\d+-[0-9a-f]{8}\.js$/.test(n))).toHaveLength(1);
  });

  it("leaves the locales out of the bundle and loads them on first use", () => {
    const zod = loadZod(resolveZod(packageRoot().dir)!);
    const bundle = readdirSync(cache()).find((n) => /^zod-.*\.js$/.test(n))!;
    expect(readFileSync(join(cache(), bundle), "utf8")).not.toContain("Entr\u00e9e invalide");
    expect(zod.z.string().safeParse(1).error!.issues[0]!.message).toMatch(/^Invalid input/);
    zod.z.config(zod.z.locales.fr());
    try {
      expect(zod.z.string().safeParse(1).error!.issues[0]!.message).toMatch(/^Entr\u00e9e invalide/);
      expect(Object.keys(zod.z.locales)).toContain("de");
    } finally {
      zod.z.config(zod.z.locales.en());
    }
  });

  it("gives no entry where zod is not installed", () => {
    expect(resolveZod(tmpdir())).toBeUndefined();
  });

  it("writes a facade module that re-exports that same instance, default and reserved names too", async () => {
    const entry = resolveZod(packageRoot().dir)!;
    const file = join(cache(), "facade.mjs");
    writeFileSync(file, zodFacade(entry));
    const facade = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    const zod = loadZod(entry);
    expect(facade.z).toBe(zod.z);
    expect(facade.null).toBe(zod.null);
    expect(facade.default).toBe(zod.default);
  });
});
