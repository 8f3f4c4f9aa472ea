import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.js";
import { readTable, useTempStores } from "./temp-store.js";
import { startGatedChild } from "../helpers/gated-child.js";

const { tempDir } = useTempStores();
const root = join(import.meta.dirname, "..", "..");
const storeModule = pathToFileURL(join(root, "src", "store", "index.ts")).href;

/**
 * A writer process: opens the store, says "ready", waits for "go" on stdin so that both
 * writers record at the same time, records `count` runs the way the consumer does (running,
 * a log line, success, with turns of the event loop between them so the store's own
 * background flushes interleave with the other process), then prints its start and end time.
 */
const WRITER = `
import { openStore } from ${JSON.stringify(storeModule)};
const [path, prefix, countText, mode] = process.argv.slice(2);
const count = Number(countText);
const store = openStore({ path });
process.stdout.write("ready\\n");
await new Promise((resolve) => process.stdin.once("data", resolve));
const start = Date.now();
for (let i = 0; i < count; i++) {
  const id = prefix + "-" + String(i).padStart(5, "0");
  const base = { id, attempt: 1, maxAttempts: 1, task: "t_" + prefix, trigger: "queue", params: { i }, host: "h", pid: process.pid };
  store.writeAttempt({ ...base, state: "running", startedAt: Date.now() });
  store.appendLogs(id, 1, [{ ts: Date.now(), level: "info", message: "line " + i }]);
  if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
  store.writeAttempt({ ...base, state: "success", startedAt: start, endedAt: Date.now() });
}
const end = Date.now();
if (mode === "exit-without-close") process.exit(0); // the exit hook must flush what is buffered
store.close();
process.stdout.write(JSON.stringify({ start, end }) + "\\n");
`;


describe("store: several processes", () => {
  it("two processes recording 1,000 runs each into one new file at the same time lose nothing", async () => {
    const dir = tempDir();
    const script = join(dir, "writer.mts");
    writeFileSync(script, WRITER);
    const path = join(dir, "shared", "runs.db"); // created (and migrated) by whichever writer is first
    const writers = [startGatedChild(script, [path, "a", "1000"]), startGatedChild(script, [path, "b", "1000"])];
    await Promise.all(writers.map((w) => w.ready));
    for (const w of writers) w.go();
    const results = await Promise.all(writers.map((w) => w.done));
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0, stderr: "" });

    // The test only proves something if the writers overlapped in time.
    const [a, b] = results.map((r) => JSON.parse(r.stdout.split("\n")[1]!) as { start: number; end: number });
    expect(a!.start).toBeLessThan(b!.end);
    expect(b!.start).toBeLessThan(a!.end);

    expect(readTable(path, "SELECT task, state, count(*) AS n FROM runs GROUP BY task, state ORDER BY task")).toEqual([
      { task: "t_a", state: "success", n: 1000 },
      { task: "t_b", state: "success", n: 1000 },
    ]);
    expect(readTable(path, "SELECT count(*) AS n FROM logs")).toEqual([{ n: 2000 }]);
    const store = openStore({ path, readonly: true });
    try {
      expect(store.listRuns({ limit: Infinity })).toHaveLength(2000);
      expect(store.getRun("b-00999").logs.map((l) => l.message)).toEqual(["line 999"]);
    } finally {
      store.close();
    }
  });

  it("a process that exits without close() still records what it buffered", async () => {
    const dir = tempDir();
    const script = join(dir, "writer.mts");
    writeFileSync(script, WRITER);
    const path = join(dir, "runs.db");
    const writer = startGatedChild(script, [path, "c", "25", "exit-without-close"]);
    await writer.ready;
    writer.go();
    const result = await writer.done;
    expect(result, result.stderr).toMatchObject({ code: 0, stderr: "" });
    expect(readTable(path, "SELECT state, count(*) AS n FROM runs GROUP BY state")).toEqual([{ state: "success", n: 25 }]);
  });
});
