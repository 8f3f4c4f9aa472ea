import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openBullmqBroker } from "../../src/broker/bullmq.js";
import { newQueuedRun } from "../../src/core/queued-run.js";
import { parseBackendUrl } from "../../src/fleet/backend-url.js";
import { HAS_REDIS_SERVER, freePort, startRedisServer, stopChild } from "./backends.js";


describe("the Redis backend restarted", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it.runIf(HAS_REDIS_SERVER)("a broker reconnects by itself and loses no queued run (a redis-server of its own)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fluid-redis-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    let server = await startRedisServer(port, dir);
    cleanups.push(() => stopChild(server));
    const broker = await openBullmqBroker({ target: parseBackendUrl(`redis://127.0.0.1:${port}/0`) });
    cleanups.push(() => broker.close());
    const runs = [1, 2, 3].map((n) => newQueuedRun({ name: "t", priority: "medium" }, { n }));
    for (const run of runs) await broker.enqueue(run);
    await stopChild(server);
    // Down: a claim waits for the server instead of failing (BullMQ's connections retry forever).
    const claim = broker.claim({ max: 10, owner: "o" });
    await new Promise((r) => setTimeout(r, 300));
    server = await startRedisServer(port, dir);
    const claimed = await claim;
    expect(claimed.map((r) => r.params.n)).toEqual([1, 2, 3]);
    for (const run of claimed) await broker.ack(run.id);
    expect(await broker.counts()).toEqual({ ready: 0, delayed: 0, claimed: 0 });
  });
});
