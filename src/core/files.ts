import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Writes `path` through a temporary file and a rename, so a concurrent process reads the old
 * file or the whole new one, never half of it. Creates the directory when missing.
 */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Removes the files of `dir` whose names start with `prefix`, but those `keep` takes. */
export function removeWithPrefix(dir: string, prefix: string, keep: (name: string) => boolean): void {
  for (const name of readdirSync(dir)) {
    if (name.startsWith(prefix) && !keep(name)) rmSync(join(dir, name), { force: true });
  }
}
