import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach } from "vitest";
import type { StoreError } from "../../src/core/errors.js";
import { openStore, type RunRecord, type Store, type StoreOptions } from "../../src/store/index.js";

/**
 * Temp directories and stores of one test file: `tempDir()` makes a directory, `open()` a
 * store in it; both are closed and removed after each test.
 */
export function useTempStores(): { tempDir: () => string; open: (options?: Partial<StoreOptions>) => Store } {
  const dirs: string[] = [];
  const stores: Store[] = [];
  afterEach(() => {
    for (const store of stores.splice(0)) {
      try {
        store.close();
      } catch {
        // A test that made writes fail on purpose may not be able to flush; the handle is closed anyway.
      }
    }
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const tempDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), "fluid-store-test-"));
    dirs.push(dir);
    return dir;
  };
  const open = (options: Partial<StoreOptions> = {}): Store => {
    const store = openStore({ path: join(tempDir(), "runs.db"), ...options });
    stores.push(store);
    return store;
  };
  return { tempDir, open };
}

/** A run record with every required field, overridable. */
export function makeRecord(overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    id: "run-0001",
    attempt: 1,
    maxAttempts: 1,
    task: "say_hi",
    state: "success",
    trigger: "cli",
    params: { name: "bob" },
    queuedAt: 1_700_000_000_000,
    host: "test-host",
    pid: 4242,
    ...overrides,
  };
}

/** Rows of a table read through a separate connection, as another process would see them. */
export function readTable(path: string, sql: string): unknown[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

/** The error `fn` throws (typed as the StoreError the store raises); fails when it throws nothing. */
export function catchStoreError(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (error) {
    return error as StoreError;
  }
  throw new Error("expected an error, got none");
}

/**
 * Holds the write lock of a store file from another connection, as a second process in a long
 * write would: writes of the store or the SQLite broker then fail with SQLITE_BUSY (transient)
 * after their busy timeout.
 */
export function holdWriteLock(path: string): { release: () => void } {
  const db = new Database(path);
  db.exec("BEGIN IMMEDIATE");
  return {
    release: () => {
      db.exec("ROLLBACK");
      db.close();
    },
  };
}
