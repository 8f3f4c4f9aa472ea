import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";
import { useTempStores } from "../store/temp-store.js";

const { tempDir } = useTempStores();
const sqlite = JSON.stringify(join(ROOT, "node_modules", "better-sqlite3"));

/** Holds the write lock of `path` for `ms`, printing "held" once it has it. */
const HOLDER = `
const Database = require(${sqlite});
const [path, ms] = process.argv.slice(2);
const db = new Database(path);
db.exec("BEGIN IMMEDIATE");
process.stdout.write("held\\n");
setTimeout(() => { db.exec("COMMIT"); db.close(); }, Number(ms));
`;

/** Waits for "go" on stdin, then writes under withWriteLock with the given busy timeout; prints what happened as JSON. */
const WRITER = `
import Database from ${JSON.stringify(pathToFileURL(join(ROOT, "node_modules", "better-sqlite3", "lib", "index.js")).href)};
import { withWriteLock } from ${JSON.stringify(pathToFileURL(join(ROOT, "src", "persistence", "write-lock.ts")).href)};
const [path, timeout] = process.argv.slice(2);
const db = new Database(path);
db.pragma("busy_timeout = " + timeout);
process.stdout.write("ready\\n");
await new Promise((resolve) => process.stdin.once("data", resolve));
const started = Date.now();
let inside = -1;
let error = null;
try {
  withWriteLock(db, Number(timeout), () => db.transaction(() => {
    inside = db.pragma("busy_timeout", { simple: true });
    db.prepare("INSERT INTO t VALUES (1)").run();
  }).immediate());
} catch (e) {
  error = e.code;
}
const after = db.pragma("busy_timeout", { simple: true });
let calls = 0;
let other = null;
try {
  withWriteLock(db, 5000, () => { calls++; throw Object.assign(new Error("constraint"), { code: "SQLITE_CONSTRAINT" }); });
} catch (e) {
  other = e.code;
}
const rows = db.prepare("SELECT count(*) FROM t").pluck().get();
process.stdout.write(JSON.stringify({ ms: Date.now() - started, inside, error, after, rows, calls, other }) + "\\n");
`;

function start(args: string[], stdin = false): { line: (text: string) => Promise<string>; go: () => void; done: Promise<string> } {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: [stdin ? "pipe" : "ignore", "pipe", "inherit"] });
  let out = "";
  const waiters: Array<() => void> = [];
  child.stdout!.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    for (const w of waiters.splice(0)) w();
  });
  let closed = false;
  const done = new Promise<string>((resolve) => child.on("close", () => {
    closed = true;
    for (const w of waiters.splice(0)) w();
    resolve(out);
  }));
  const line = async (text: string): Promise<string> => {
    while (!out.includes(text)) {
      if (closed) throw new Error(`the child ended before printing "${text}": ${out}`);
      await new Promise<void>((r) => waiters.push(r));
    }
    return out;
  };
  return { line, go: () => child.stdin?.end("go\n"), done };
}

/** Holds the lock `holdMs` in one process while another writes with `timeoutMs`; returns what the writer saw. */
async function contend(holdMs: number, timeoutMs: number): Promise<Record<string, unknown>> {
  const dir = tempDir();
  const path = join(dir, "w.db");
  writeFileSync(join(dir, "holder.cjs"), HOLDER);
  writeFileSync(join(dir, "writer.mts"), WRITER);
  const setup = start(["-e", `const D = require(${sqlite}); const db = new D(${JSON.stringify(path)}); db.pragma("journal_mode = WAL"); db.exec("CREATE TABLE t (v INTEGER)"); db.close();`]);
  await setup.done;
  const writer = start(["--import", "tsx", join(dir, "writer.mts"), path, String(timeoutMs)], true);
  await writer.line("ready");
  const holder = start([join(dir, "holder.cjs"), path, String(holdMs)]);
  await holder.line("held");
  writer.go();
  const out = await writer.done;
  await holder.done;
  return JSON.parse(out.trim().split("\n").pop()!) as Record<string, unknown>;
}

describe("withWriteLock (two real processes)", () => {
  it("waits for another process's write lock in its own naps, not SQLite's busy handler, then restores busy_timeout", async () => {
    // The holder keeps the lock 2 s from when it says so; the writer starts a moment later (on
    // a loaded machine, a few hundred ms later), so it waits well over a second.
    const r = await contend(2000, 5000);
    expect(r).toMatchObject({ error: null, inside: 0, after: 5000, rows: 1 });
    expect(r.ms).toBeGreaterThanOrEqual(1000); // it did wait for the holder
    expect(r).toMatchObject({ calls: 1, other: "SQLITE_CONSTRAINT" }); // other errors: thrown at once, no retry
  });

  it("gives up with SQLITE_BUSY once busyTimeoutMs has passed", async () => {
    const r = await contend(1000, 150);
    expect(r).toMatchObject({ error: "SQLITE_BUSY", after: 150, rows: 0 });
    expect(r.ms).toBeGreaterThanOrEqual(150);
    expect(r.ms).toBeLessThan(900); // not until the holder let go
  });
});
