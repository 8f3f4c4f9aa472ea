import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, closeSync, mkdirSync, openSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { StoreError } from "../../src/core/errors.js";
import { openStore } from "../../src/store/index.js";
import { toStoreError } from "../../src/persistence/store-error.js";
import { catchStoreError, makeRecord, useTempStores } from "../store/temp-store.js";

const { tempDir } = useTempStores();
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const root = join(import.meta.dirname, "..", "..");
// As root, the read-only case runs as user nobody, who must be able to read this checkout
// (a clone inside a private 0700 directory is not readable by nobody).
const nobodyCanRun =
  !isRoot ||
  spawnSync(process.execPath, ["-e", `require("fs").accessSync(${JSON.stringify(join(root, "node_modules", "tsx", "package.json"))})`], { uid: NOBODY, gid: NOBODY }).status === 0;

/** Opens the store at argv[2] and records a run; prints the StoreError it gets as JSON. */
const READONLY_WRITER = `
import { openStore } from ${JSON.stringify(pathToFileURL(join(root, "src", "store", "index.ts")).href)};
try {
  const store = openStore({ path: process.argv[2] });
  try {
    store.writeAttempt({ id: "x", attempt: 1, maxAttempts: 1, task: "t", state: "success", trigger: "cli", params: {}, host: "h", pid: 1 });
    store.flush();
  } finally {
    store.close();
  }
  console.log(JSON.stringify({ name: "no error" }));
} catch (error) {
  console.log(JSON.stringify({ name: error.name, code: error.code, message: error.message, hint: error.hint, cause: error.cause?.code }));
}
`;

describe("store errors", () => {
  it("says a file of garbage is corrupt, names it and says what to do", () => {
    const path = join(tempDir(), "runs.db");
    writeFileSync(path, Buffer.alloc(8192, "this is not a database "));
    const error = catchStoreError(() => openStore({ path }));
    expect(error).toBeInstanceOf(StoreError);
    expect(error.code).toBe("FLUID_STORE");
    expect(error.message).toMatch(new RegExp(`^run store ${escape(path)}: the file is corrupt or not a SQLite database, while opening it`));
    expect(error.hint).toBe(`move it aside (mv ${path} ${path}.corrupt) and fluid-tasks will start a new one; the old history stays in the moved file`);
    expect((error.cause as { code?: string }).code).toBe("SQLITE_NOTADB");
  });

  it("says a store whose pages are damaged is corrupt when reading it", () => {
    const dir = tempDir();
    const path = join(dir, "runs.db");
    const store = openStore({ path });
    for (let i = 0; i < 500; i++) store.writeAttempt(makeRecord({ id: `r${i}`, params: { pad: "x".repeat(200) } }));
    store.close();
    // Keep page 1 (header and schema), overwrite every later page with garbage.
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.alloc(statSync(path).size - 4096, 0xa5), 0, undefined, 4096);
    closeSync(fd);
    const error = catchStoreError(() => {
      const damaged = openStore({ path });
      try {
        damaged.listRuns();
      } finally {
        damaged.close();
      }
    });
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toMatch(/the file is corrupt or not a SQLite database/);
    expect((error.cause as { code?: string }).code).toMatch(/^SQLITE_CORRUPT/);
  });

  it("says when the directory cannot be created", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a-file"), "");
    const path = join(dir, "a-file", "sub", "runs.db");
    const error = catchStoreError(() => openStore({ path }));
    expect(error.message).toMatch(new RegExp(`^run store ${escape(path)}: cannot create the directory ${escape(join(dir, "a-file", "sub"))}: ENOTDIR`));
    expect(error.hint).toMatch(/set another store path/);
    expect((error.cause as { code?: string }).code).toBe("ENOTDIR");
  });

  it("says when the path is a directory", () => {
    const path = join(tempDir(), "runs.db");
    mkdirSync(path);
    const error = catchStoreError(() => openStore({ path }));
    expect(error.message).toMatch(/the file cannot be opened, while opening it/);
    expect(error.hint).toMatch(/is a file \(not a directory\)/);
  });

  it("says when a store to read does not exist yet", () => {
    const path = join(tempDir(), "missing", "runs.db");
    const error = catchStoreError(() => openStore({ path, readonly: true }));
    expect(error.message).toBe(`run store ${path} does not exist: nothing has been recorded there yet`);
  });

  it("explains SQLITE_READONLY from SQLite as a read-only file or directory", () => {
    const path = join(tempDir(), "runs.db");
    openStore({ path }).close();
    const db = new Database(path, { readonly: true });
    let raw: unknown;
    try {
      db.prepare("DELETE FROM runs").run();
    } catch (error) {
      raw = error;
    } finally {
      db.close();
    }
    expect((raw as { code?: string }).code).toBe("SQLITE_READONLY");
    const error = toStoreError(raw, path, "recording runs");
    expect(error.message).toMatch(new RegExp(`^run store ${escape(path)}: the file or its directory is read-only, while recording runs: `));
    expect(error.hint).toMatch(/writable/);
    expect(error.cause).toBe(raw);
  });

  it.skipIf(!nobodyCanRun)("refuses a read-only file in a read-only directory", () => {
    // Modes do not stop root, so as root the attempt runs in a child process as user nobody.
    const dir = tempDir();
    const path = join(dir, "runs.db");
    openStore({ path }).close();
    const script = join(dir, "write.mts");
    writeFileSync(script, READONLY_WRITER);
    if (isRoot) for (const p of [dir, path, script]) chownSync(p, NOBODY, NOBODY);
    chmodSync(path, 0o444);
    chmodSync(dir, 0o555);
    try {
      const child = spawnSync(process.execPath, ["--import", "tsx", script, path], {
        cwd: root,
        encoding: "utf8",
        env: { ...process.env, HOME: dir },
        ...(isRoot ? { uid: NOBODY, gid: NOBODY } : {}),
      });
      expect(child.stderr).toBe("");
      const error = JSON.parse(child.stdout) as { name: string; code: string; message: string; hint: string; cause: string };
      expect(error).toMatchObject({ name: "StoreError", code: "FLUID_STORE", cause: expect.stringMatching(/^SQLITE_READONLY/) });
      expect(error.message).toMatch(new RegExp(`^run store ${escape(path)}: the file or its directory is read-only, while opening it: `));
      expect(error.hint).toBe(`make ${path}, its ${path}-wal and ${path}-shm files (when present) and the directory ${dir} writable by this user, or set another store path (FLUID_STORE)`);
    } finally {
      chmodSync(dir, 0o755);
      chmodSync(path, 0o644);
    }
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
