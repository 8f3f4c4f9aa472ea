import { readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildPrebundle, packageOf, requirePrebundled } from "../../src/startup/prebundle.js";
import { openDatabase } from "../../src/persistence/open-database.js";
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

  it("bundles a CommonJS package once and returns one instance of it", async () => {
    const entry = resolve("croner");
    const croner = requirePrebundled(entry) as typeof import("croner");
    expect(new croner.Cron("0 * * * *", { paused: true }).getPattern()).toBe("0 * * * *");
    expect(requirePrebundled(entry)).toBe(croner);
    // An earlier bundle of the same entry (an older install) is removed when one is written.
    const stale = join(cache(), readdirSync(cache()).find((n) => n.startsWith("croner-"))!.replace(/^(croner-[0-9a-f]{8})-[\d.]+-/, "$1-0.0.1-"));
    writeFileSync(stale, "old");
    writeFileSync(`${stale}-x.v8`, "old");
    await buildPrebundle(entry, { external: ["nothing"] }); // another bundle of that entry: written now
    expect(readdirSync(cache()).filter((n) => n.startsWith("croner-") && n.includes("-0.0.1-"))).toEqual([]);
    expect(readdirSync(cache()).filter((n) => /^croner-[0-9a-f]{8}-[\d.]+-[0-9a-f]{8}\.js$/.test(n))).toHaveLength(1);
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
    expect(readdirSync(cache()).some((n) => /^better-sqlite3-[0-9a-f]{8}-12\.[\d.]+-[0-9a-f]{8}\.js$/.test(n))).toBe(true);
  });
});
