import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { codeCacheDir, codeCacheLog, discardCodeCache, flushCodeCache, requireCached, WRAPPER } from "../../src/startup/code-cache.js";
import { fluid } from "../helpers/cli.js";

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "fluid-code-cache-"));
  dirs.push(dir);
  return dir;
}

describe("codeCacheDir", () => {
  it("uses node_modules/.cache beside an installed package, else under the package", () => {
    expect(codeCacheDir("/p/node_modules/fluid-tasks", {})).toBe(join("/p/node_modules", ".cache", "fluid-tasks"));
    expect(codeCacheDir("/src/fluid-tasks", {})).toBe(join("/src/fluid-tasks", "node_modules", ".cache", "fluid-tasks"));
  });

  it("follows FLUID_CODE_CACHE: a directory, or 0 for off", () => {
    expect(codeCacheDir("/p", { FLUID_CODE_CACHE: "/elsewhere" })).toBe("/elsewhere");
    expect(codeCacheDir("/p", { FLUID_CODE_CACHE: "0" })).toBeUndefined();
  });
});

describe("requireCached", () => {
  it("runs a wrapped CommonJS file with require, and writes its cached data when flushed", () => {
    const dir = tempDir();
    const file = join(dir, "m.js");
    writeFileSync(file, `${WRAPPER[0]}const { join } = require("node:path"); module.exports = { where: join("a", "b"), file: __filename };${WRAPPER[1]}`);
    const cacheDir = join(dir, "cache");
    expect(requireCached(file, cacheDir)).toEqual({ where: join("a", "b"), file });
    expect(codeCacheLog.at(-1)).toEqual({ file, cache: "miss" });
    flushCodeCache();
    const written = readdirSync(cacheDir);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^m\.js-[0-9a-f]{8}-[0-9a-f]{12}\.v8$/);
    expect(statSync(join(cacheDir, written[0]!)).size).toBeGreaterThan(0);
  });

  it("writes nothing once the pending data is discarded (as fluid serve does)", () => {
    const dir = tempDir();
    const file = join(dir, "m.js");
    writeFileSync(file, `${WRAPPER[0]}module.exports = 8;${WRAPPER[1]}`);
    const cacheDir = join(dir, "cache");
    expect(requireCached(file, cacheDir)).toBe(8);
    expect(codeCacheLog.at(-1)).toEqual({ file, cache: "miss" });
    discardCodeCache();
    flushCodeCache();
    expect(readdirSync(dir)).toEqual(["m.js"]);
  });

  it("without a cache directory, only runs the file", () => {
    const dir = tempDir();
    const file = join(dir, "m.js");
    writeFileSync(file, `${WRAPPER[0]}module.exports = 7;${WRAPPER[1]}`);
    expect(requireCached(file, undefined)).toBe(7);
    expect(codeCacheLog.at(-1)).toEqual({ file, cache: "off" });
    flushCodeCache();
    expect(readdirSync(dir)).toEqual(["m.js"]);
  });
});

describe("the CLI through the code cache (real processes)", () => {
  const version = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8")).version as string;

  it("writes the cache on the first run, reuses it after, and replaces a corrupt one", async () => {
    const cacheDir = tempDir();
    const env = { FLUID_CODE_CACHE: cacheDir };
    const first = await fluid(["--version"], { env });
    expect(first.stdout.trim()).toBe(version);
    const [name] = readdirSync(cacheDir).filter((n) => n.startsWith("bundle.js-"));
    expect(name).toBeDefined();
    const path = join(cacheDir, name!);
    const data = readFileSync(path);
    const { mtimeMs } = statSync(path);

    // A hit is not written again.
    expect((await fluid(["--version"], { env })).stdout.trim()).toBe(version);
    expect(statSync(path).mtimeMs).toBe(mtimeMs);

    // V8 rejects garbage: the command works all the same and the data is written anew.
    writeFileSync(path, "not V8 data");
    expect((await fluid(["--version"], { env })).stdout.trim()).toBe(version);
    expect(readFileSync(path, "utf8")).not.toBe("not V8 data");
    expect(statSync(path).size).toBeGreaterThan(data.length / 2);
  });

  it("works with the cache off, and when the cache directory cannot be created", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "file"), "");
    for (const FLUID_CODE_CACHE of ["0", join(dir, "file", "cache")]) {
      const r = await fluid(["--version"], { env: { FLUID_CODE_CACHE } });
      expect(r).toMatchObject({ exitCode: 0, stderr: "" });
      expect(r.stdout.trim()).toBe(version);
    }
    expect(readdirSync(dir)).toEqual(["file"]);
  });
});
