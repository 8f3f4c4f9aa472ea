import { dirname } from "node:path";
import { StoreError } from "../core/errors.js";

/** Error codes of SQLite and the file system that a retry can cure (the disk frees up, the lock goes away). */
const TRANSIENT = /^(SQLITE_(FULL|IOERR|BUSY|LOCKED|READONLY|CANTOPEN|PERM|NOMEM|PROTOCOL)|EACCES|EPERM|EROFS|ENOSPC|EIO)/;

/** The `code` of an error from better-sqlite3 or node:fs, e.g. "SQLITE_BUSY", "ENOTDIR". */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}

/** True when writing again later may succeed (disk full, I/O error, lock, permissions), false for a bad row. */
export function isTransient(error: unknown): boolean {
  return TRANSIENT.test(errorCode(error));
}

/**
 * Turns an error of better-sqlite3 or node:fs into a StoreError that says what went wrong with
 * which file and what to do. `doing` says what the store was doing, e.g. "recording runs".
 * A StoreError passes through unchanged; the original is kept as `cause`.
 */
export function toStoreError(error: unknown, path: string, doing: string): StoreError {
  if (error instanceof StoreError) return error;
  const code = errorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  const what = `${detail}${code && !detail.includes(code) ? ` (${code})` : ""}`;
  const dir = dirname(path);
  const make = (problem: string, hint: string): StoreError =>
    new StoreError(`run store ${path}: ${problem}, while ${doing}: ${what}`, { cause: error, hint });

  if (code.startsWith("SQLITE_NOTADB") || code.startsWith("SQLITE_CORRUPT")) {
    return make(
      "the file is corrupt or not a SQLite database",
      `move it aside (mv ${path} ${path}.corrupt) and fluid-tasks will start a new one; the old history stays in the moved file`,
    );
  }
  if (code.startsWith("SQLITE_READONLY") || code === "EACCES" || code === "EPERM" || code === "EROFS" || code.startsWith("SQLITE_PERM")) {
    // SQLite in WAL mode writes ${path}-wal and ${path}-shm beside the store, even to read it.
    return make("the file or its directory is read-only", `make ${path}, its ${path}-wal and ${path}-shm files (when present) and the directory ${dir} writable by this user, or set another store path (FLUID_STORE)`);
  }
  if (code.startsWith("SQLITE_FULL") || code === "ENOSPC") {
    return make("the disk is full", `free some space on the disk holding ${dir}, or keep fewer runs (store retention)`);
  }
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return make("another process held the file locked for too long", "retry; if it persists, look for a stuck fluid process using this file");
  }
  if (code.startsWith("SQLITE_IOERR") || code === "EIO") {
    return make("the disk reported an I/O error", `check the disk holding ${dir}`);
  }
  if (code.startsWith("SQLITE_CANTOPEN")) {
    return make("the file cannot be opened", `check that ${path} is a file (not a directory) and that ${dir} exists and is writable`);
  }
  if (code === "ENOTDIR" || code === "EEXIST" || code === "ENOENT") {
    return make(`cannot create the directory ${dir}`, `a part of ${dir} is a file or is missing; set another store path`);
  }
  return make("unexpected error", "report this as a bug of fluid-tasks if it persists");
}
