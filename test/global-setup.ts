import { execFileSync } from "node:child_process";
import { existsSync, statSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Builds dist/ once before the suite when it is missing or older than src/, since CLI tests run bin/fluid.js. */
export default function setup(): void {
  const root = join(import.meta.dirname, "..");
  const built = join(root, "dist", "cli", "bundle.js");
  if (existsSync(built) && statSync(built).mtimeMs >= newest(join(root, "src"))) return;
  execFileSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
}

function newest(dir: string): number {
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    max = Math.max(max, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return max;
}
