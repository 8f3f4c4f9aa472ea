import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { useChildren } from "../helpers/children.js";
import { CONFIG, ROOT, fluid, tempProject } from "../helpers/cli.js";
import { useServe, type Served } from "../helpers/serve.js";
import { readTable } from "../store/temp-store.js";

// Records that tell the truth while a producer and the daemon write the same store at once:
// the real `fluid serve` consumes, a separate producer process queues through the client.

const TASKS = `
import { task } from "fluid-tasks";
export const quick = task({}, async () => 1);
`;

const src = (path: string): string => JSON.stringify(pathToFileURL(join(ROOT, "src", path)).href);

/** Queues `count` runs in batches of 10 through `enqueue`, then waits for each with `waitForRun`; prints ids and outcomes. */
const PRODUCER = `
import ${src("index.ts")}; // publishes the API the task modules import
import { loadProject } from ${src("config/load.ts")};
import { connect, enqueue, waitForRun } from ${src("daemon/client.ts")};
const [dir, count] = process.argv.slice(2);
const project = await loadProject({ cwd: dir, env: {} });
const conn = await connect(project);
const task = project.registry.get("quick");
const ids = [];
for (let i = 0; i < Number(count); i += 10) {
  const runs = await Promise.all(Array.from({ length: 10 }, () => enqueue(conn, task, {})));
  ids.push(...runs.map((r) => r.id));
}
const outcomes = {};
for (const id of ids) {
  const end = await waitForRun(conn, id, { timeoutMs: 30000, pollMs: 20 }).catch((e) => ({ state: "wait failed: " + e.code }));
  outcomes[end.state] = (outcomes[end.state] ?? 0) + 1;
}
await conn.close();
process.stdout.write(JSON.stringify({ ids, outcomes }) + "\\n");
`;

/**
 * Holds the store's write lock 100 ms at a time with 30 ms gaps, so every writer waits in
 * SQLite's busy handler and the order in which writers get in is shuffled: a writer that has
 * waited long sleeps longer between tries, and one that came later often gets in first.
 */
const LOCKER = `
import Database from ${JSON.stringify(pathToFileURL(join(ROOT, "node_modules", "better-sqlite3", "lib", "index.js")).href)};
const db = new Database(process.argv[2]);
db.pragma("busy_timeout = 5000");
const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
process.stdout.write("ready\\n");
for (;;) {
  db.exec("BEGIN IMMEDIATE");
  pause(100);
  db.exec("COMMIT");
  await new Promise((r) => setTimeout(r, 30));
}
`;

const { children, cleanups } = useChildren();

const serve = useServe();
/** Starts `fluid serve --log-format json` in `dir`; resolves once it has started. */
async function startServe(dir: string): Promise<Served> {
  const served = serve(dir);
  await served.started();
  return served;
}

describe("records while a producer and the daemon write at once", () => {
  it("no run that executed stays recorded `queued`, and waitForRun returns for every one", async () => {
    const p = tempProject({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    cleanups.push(p.cleanup);
    const serve = await startServe(p.dir);
    const db = join(p.dir, ".fluid", "fluid.db");
    writeFileSync(join(p.dir, "locker.mjs"), LOCKER);
    const locker = execa("node", [join(p.dir, "locker.mjs"), db], { cwd: ROOT, reject: false });
    children.push(locker);
    await new Promise<void>((resolve, reject) => {
      locker.stdout!.once("data", () => resolve());
      void locker.then((r) => reject(new Error(`the locker died: ${String(r.stderr)}`)));
    });
    const script = join(p.dir, "producer.mts");
    writeFileSync(script, PRODUCER);
    const count = 200;
    // Four producers at once, as a busy system has (the defect showed at 45-500 runs/s).
    const producers = await Promise.all([0, 1, 2, 3].map(() => execa("node", ["--import", "tsx", script, p.dir, String(count / 4)], { cwd: ROOT, reject: false, timeout: 120_000 })));
    const ids: string[] = [];
    for (const producer of producers) {
      expect(producer.exitCode, producer.stderr).toBe(0);
      const out = JSON.parse(producer.stdout.trim().split("\n").pop()!) as { ids: string[]; outcomes: Record<string, number> };
      expect(out.outcomes).toEqual({ success: count / 4 });
      ids.push(...out.ids);
    }
    expect(new Set(ids).size).toBe(count);

    locker.kill("SIGKILL");
    serve.child.kill("SIGTERM");
    await serve.child;
    const states = readTable(db, "SELECT state, count(*) AS n FROM runs GROUP BY state");
    expect(states).toEqual([{ state: "success", n: count }]);
    const executed = (serve.stderr().match(/"event":"run-end"/g) ?? []).length;
    expect(executed).toBe(count); // each ran once
  }, 180_000);

  it("refuses a run id already used, queued or recorded, without touching its record (exit 2)", async () => {
    const p = tempProject({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    cleanups.push(p.cleanup);
    const ran = await fluid(["run", "quick", "--run-id", "used-once"], { cwd: p.dir });
    expect(ran.exitCode, ran.stderr).toBe(0);
    const again = await fluid(["queue", "quick", "--run-id", "used-once"], { cwd: p.dir });
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/a run with id "used-once" is already recorded/);
    const db = join(p.dir, ".fluid", "fluid.db");
    expect(readTable(db, "SELECT id, state FROM runs")).toEqual([{ id: "used-once", state: "success" }]);
    expect(readTable(db, "SELECT id FROM queue")).toEqual([]);
  });
});
