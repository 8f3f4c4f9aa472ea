import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { openSqliteBroker } from "../../src/broker/sqlite.js";
import { makeRun } from "./broker-contract.js";
import { readRows, useTempDirs } from "./temp-dirs.js";
import { startGatedChild } from "../helpers/gated-child.js";

const tempDir = useTempDirs();
const root = join(import.meta.dirname, "..", "..");
const brokerModule = pathToFileURL(join(root, "src", "broker", "sqlite.ts")).href;

/**
 * A consumer process: opens the broker, says "ready", waits for "go" on stdin so both start
 * together, then claims batches of 1-16 runs (varying, so the two interleave), acks them a
 * turn later as a consumer would, until the queue is empty. After its first claim it waits
 * until the other process has claimed too (a marker file each), so on a loaded machine one
 * cannot drain the queue before the other is scheduled. Prints the ids it claimed and the
 * time span it was claiming.
 */
const CONSUMER = `
import { existsSync, writeFileSync } from "node:fs";
import { openSqliteBroker } from ${JSON.stringify(brokerModule)};
const [path, owner, other] = process.argv.slice(2);
let first = true;
async function afterFirstClaim() {
  if (!first) return;
  first = false;
  writeFileSync(path + "." + owner + ".claimed", "");
  const deadline = Date.now() + 20000;
  while (!existsSync(path + "." + other + ".claimed") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}
const broker = openSqliteBroker({ path });
process.stdout.write("ready\\n");
await new Promise((resolve) => process.stdin.once("data", resolve));
const claimed = [];
const start = Date.now();
let batch = owner.length;
for (;;) {
  batch = (batch * 7 + 3) % 16 + 1;
  const runs = await broker.claim({ max: batch, owner });
  if (runs.length === 0) {
    if ((await broker.counts()).ready === 0) break;
    continue;
  }
  await afterFirstClaim();
  await new Promise((resolve) => setImmediate(resolve));
  await Promise.all(runs.map((run) => broker.ack(run.id)));
  for (const run of runs) claimed.push(run.id);
}
const end = Date.now();
await broker.close();
process.stdout.write(JSON.stringify({ claimed, start, end }) + "\\n");
`;


describe("sqlite broker: several processes", () => {
  it("two processes claiming 2,000 runs from one file at once claim each exactly once", async () => {
    const dir = tempDir();
    const path = join(dir, "runs.db");
    const producer = openSqliteBroker({ path });
    const ids = Array.from({ length: 2000 }, (_, i) => `run-${String(i).padStart(4, "0")}`);
    await Promise.all(ids.map((id, i) => producer.enqueue(makeRun({ id, task: `t${i % 5}`, runAfter: 0 }))));
    await producer.close();

    const script = join(dir, "consumer.mts");
    writeFileSync(script, CONSUMER);
    const children = [startGatedChild(script, [path, "alpha", "beta-2"]), startGatedChild(script, [path, "beta-2", "alpha"])];
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.go();
    const results = await Promise.all(children.map((c) => c.done));
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0, stderr: "" });

    const [a, b] = results.map((r) => JSON.parse(r.stdout.split("\n").filter(Boolean).pop()!) as { claimed: string[]; start: number; end: number });
    // The test only proves something if both claimed, and at the same time.
    expect(a!.claimed.length).toBeGreaterThan(0);
    expect(b!.claimed.length).toBeGreaterThan(0);
    expect(Math.max(a!.start, b!.start)).toBeLessThan(Math.min(a!.end, b!.end));
    const all = [...a!.claimed, ...b!.claimed];
    expect(all).toHaveLength(2000);
    expect(new Set(all).size).toBe(2000);
    expect([...all].sort()).toEqual(ids);
    expect(readRows(path, "SELECT count(*) AS n FROM queue")).toEqual([{ n: 0 }]);
  });
});
