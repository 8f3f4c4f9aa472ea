import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

/**
 * Path of the built worker entry, `<package root>/dist/executor/child.js`. The package root is
 * found by walking up from this module to the package.json named "fluid-tasks", which works
 * from src/ (tests) and from dist/chunks/ (the bundle puts this code in a shared chunk).
 */
export function defaultChildEntry(): string {
  if (cached) return cached;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown };
      if (pkg.name === "fluid-tasks") return (cached = join(dir, "dist", "executor", "child.js"));
    } catch {}
    if (dirname(dir) === dir) throw new Error(`cannot find the fluid-tasks package.json above ${start}`);
  }
}
