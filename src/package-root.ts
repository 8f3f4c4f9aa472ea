import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: { dir: string; version: string } | undefined;

/**
 * This package's root directory and version, found by walking up from this module to the
 * package.json named "fluid-tasks". Works from src/ (tests) and from dist/chunks/ (where the
 * bundle puts shared code), unlike a fixed number of "..".
 */
export function packageRoot(): { dir: string; version: string } {
  if (cached) return cached;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
      if (pkg.name === "fluid-tasks") return (cached = { dir, version: String(pkg.version) });
    } catch {}
    if (dirname(dir) === dir) throw new Error(`cannot find the fluid-tasks package.json above ${start}`);
  }
}
