import { chmodSync, closeSync, mkdirSync, openSync } from "node:fs";
import { basename, dirname } from "node:path";
import { StoreError } from "../core/errors.js";
import { toStoreError } from "./store-error.js";

/** Mode of a store file: queued runs keep their params in clear, so only the owner reads it. */
const FILE_MODE = 0o600;
/** Mode of the directories fluid creates for a store, and of its own `.fluid` directory. */
const DIR_MODE = 0o700;

/**
 * Makes ready to open the store file at `path` (absolute) for writing: creates its missing
 * directories with mode 0700, and the file itself, empty, with mode 0600 when it is missing,
 * so SQLite gives its -wal and -shm files the same mode (it copies the database file's).
 * A file or directory that exists keeps its mode, except fluid's own `.fluid` directory when
 * the store file is new there (other fluid files, like the compile cache, may have created
 * it first with the umask's mode). Throws a StoreError saying what to do.
 */
export function prepareStoreFile(path: string): void {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new StoreError(`run store ${path}: cannot create the directory ${dir}: ${reason}`, {
      cause: error,
      hint: `create ${dir} yourself, fix its permissions, or set another store path`,
    });
  }
  let created = false;
  try {
    closeSync(openSync(path, "wx", FILE_MODE));
    created = true;
  } catch (error) {
    // It exists (a file, or something SQLite will refuse with a clear message): leave it.
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw toStoreError(error, path, "creating it");
  }
  if (created && basename(dir) === ".fluid") {
    try {
      chmodSync(dir, DIR_MODE);
    } catch {
      // Not ours to change (another owner): the file itself is still 0600.
    }
  }
}
