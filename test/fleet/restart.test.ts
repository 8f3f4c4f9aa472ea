import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openBullmqBroker } from "../../src/broker/bullmq.js";
import { newQueuedRun } from "../../src/core/queued-run.js";
import { parseBackendUrl } from "../../src/fleet/backend-url.js";
import { HAS_REDIS_SERVER } from "./backends.js";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A redis-server of this test (append-only file in `dir`, so a restart keeps the queue). */
async function startRedis(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--save", ""], { stdio: ["ignore", "pipe", "ignore"] });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`redis-server exited ${code}`)));
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.includes("Ready to accept connections")) resolve();
    });
  });
  child.removeAllListeners("exit");
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

describe("the Redis backend restarted", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it.runIf(HAS_REDIS_SERVER)("a broker reconnects by itself and loses no queued run (a redis-server of its own)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fluid-redis-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    let server = await startRedis(port, dir);
    cleanups.push(() => stop(server));
    const broker = await openBullmqBroker({ target: parseBackendUrl(`redis://127.0.0.1:${port}/0`) });
    cleanups.push(() => broker.close());
    const runs = [1, 2, 3].map((n) => newQueuedRun({ name: "t", priority: "medium" }, { n }));
    for (const run of runs) await broker.enqueue(run);
    await stop(server);
    // Down: a claim waits for the server instead of failing (BullMQ's connections retry forever).
    const claim = broker.claim({ max: 10, owner: "o" });
    await new Promise((r) => setTimeout(r, 300));
    server = await startRedis(port, dir);
    const claimed = await claim;
    expect(claimed.map((r) => r.params.n)).toEqual([1, 2, 3]);
    for (const run of claimed) await broker.ack(run.id);
    expect(await broker.counts()).toEqual({ ready: 0, delayed: 0, claimed: 0 });
  });
});
