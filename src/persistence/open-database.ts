import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type Database from "better-sqlite3";
import { packageRoot } from "../package-root.js";
import { packageOf, requirePrebundled } from "../startup/prebundle.js";

let loaded: { Database: typeof Database; nativeBinding?: string } | undefined;

/**
 * Opens a better-sqlite3 database. The library loads as one code-cached bundle
 * (src/startup/prebundle.ts), and is handed its compiled addon's path: otherwise its
 * `bindings` helper probes a list of build directories on every open.
 */
export function openDatabase(path: string, options: Database.Options = {}): Database.Database {
  loaded ??= load();
  return new loaded.Database(path, { ...(loaded.nativeBinding ? { nativeBinding: loaded.nativeBinding } : {}), ...options });
}

function load(): { Database: typeof Database; nativeBinding?: string } {
  const entry = createRequire(join(packageRoot().dir, "package.json")).resolve("better-sqlite3");
  const Database = requirePrebundled(entry, { external: ["bindings"] }) as typeof import("better-sqlite3");
  const dir = packageOf(entry)?.dir;
  const addon = dir === undefined ? undefined : join(dir, "build", "Release", "better_sqlite3.node");
  return addon !== undefined && existsSync(addon) ? { Database, nativeBinding: addon } : { Database };
}
