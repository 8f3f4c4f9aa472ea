import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageOf, requirePrebundled } from "../../src/loader/prebundle.js";
import { openDatabase } from "../../src/loader/sqlite.js";
import { packageRoot } from "../../src/package-root.js";
import { useTempCodeCache } from "./temp-code-cache.js";

const cache = useTempCodeCache();

const resolve = (id: string): string => createRequire(join(packageRoot().dir, "package.json")).resolve(id);

describe("requirePrebundled", () => {
  it("finds the package of an entry file", () => {
    const entry = resolve("better-sqlite3");
    expect(packageOf(entry)).toMatchObject({ name: "better-sqlite3", version: expect.stringMatching(/^12\./) });
    expect(packageOf("/no/such/dir/file.js")).toBeUndefined();
  });

  it("bundles a CommonJS package once and returns one instance of it", () => {
    const entry = resolve("croner");
    const croner = requirePrebundled(entry) as typeof import("croner");
    expect(new croner.Cron("0 * * * *", { paused: true }).getPattern()).toBe("0 * * * *");
    expect(requirePrebundled(entry)).toBe(croner);
    expect(readdirSync(cache()).filter((n) => /^croner-[\d.]+-[0-9a-f]{8}\.js$/.test(n))).toHaveLength(1);
  });
});

describe("openDatabase", () => {
  it("opens a database through the bundled better-sqlite3 and its compiled addon", () => {
    const db = openDatabase(":memory:");
    try {
      expect(db.prepare("SELECT 40 + 2 AS n").get()).toEqual({ n: 42 });
    } finally {
      db.close();
    }
    expect(readdirSync(cache()).some((n) => /^better-sqlite3-12\.[\d.]+-[0-9a-f]{8}\.js$/.test(n))).toBe(true);
  });
});
