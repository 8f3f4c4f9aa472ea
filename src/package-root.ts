import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The fields of a package.json found by `findPackage`. */
export interface PackageInfo {
  dir: string;
  name: string;
  version: string;
}

/**
 * The nearest package.json at or above `dir` that has a name and that `accept` takes (default:
 * any), or undefined when there is none up to the root.
 */
export function findPackage(dir: string, accept: (name: string) => boolean = () => true): PackageInfo | undefined {
  for (; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
      if (typeof pkg.name === "string" && accept(pkg.name)) return { dir, name: pkg.name, version: String(pkg.version ?? "0") };
    } catch {} // no package.json here (or not JSON): look in the directory above
    if (dirname(dir) === dir) return undefined;
  }
}

let cached: PackageInfo | undefined;

/**
 * This package's root directory and version, found by walking up from this module to the
 * package.json named "fluid-tasks". Works from src/ (tests) and from dist/chunks/ (where the
 * bundle puts shared code), unlike a fixed number of "..".
 */
export function packageRoot(): PackageInfo {
  if (cached) return cached;
  const start = dirname(fileURLToPath(import.meta.url));
  cached = findPackage(start, (name) => name === "fluid-tasks");
  if (!cached) throw new Error(`cannot find the fluid-tasks package.json above ${start}`);
  return cached;
}
