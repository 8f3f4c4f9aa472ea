import { join } from "node:path";
import { packageRoot } from "../package-root.js";

/** Path of the built worker entry, `<package root>/dist/executor/child.js`. */
export function defaultChildEntry(): string {
  return join(packageRoot().dir, "dist", "executor", "child.js");
}
