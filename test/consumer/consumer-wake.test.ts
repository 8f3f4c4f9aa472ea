import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { Broker, QueuedRun } from "../../src/broker/broker.js";
import { openSqliteBroker } from "../../src/broker/sqlite.js";
import { Registry } from "../../src/config/registry.js";
import { createConsumer, type Consumer, type ConsumerEvent } from "../../src/consumer/consumer.js";
import { task } from "../../src/task/task.js";
import { useTempDirs } from "../broker/temp-dirs.js";

// A consumer given the store file to watch sleeps while nothing changes and wakes when another
// connection (as `fluid queue` in another process) commits. Its poll is set to a minute here,
// so a run that starts, or a cancel that lands, within the test's seconds came from the watch.

const tempDir = useTempDirs();
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const MINUTE = 60_000;

function queued(id: string, taskName: string): QueuedRun {
  const now = Date.now();
  return { id, task: taskName, params: {}, priority: "medium", attempt: 1, trigger: "queue", runAfter: now, queuedAt: now };
}

/** A consumer on `path` with a counted claim, its events, and a second connection to produce with. */
function setUp(path: string, options: { watch: boolean }) {
  const broker = openSqliteBroker({ path });
  const producer = openSqliteBroker({ path });
  let claims = 0;
  const counted: Broker = Object.assign(Object.create(broker) as Broker, {
    claim: (o: Parameters<Broker["claim"]>[0]) => {
      claims++;
      return broker.claim(o);
    },
  });
  const registry = new Registry();
  registry.add(task({ name: "quick" }, async () => "done"), { file: "test", exportName: "quick" });
  registry.add(
    task({ name: "long" }, async (ctx) => {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, 2 * MINUTE);
        ctx.signal.addEventListener("abort", () => (clearTimeout(t), reject(ctx.signal.reason)), { once: true });
      });
    }),
    { file: "test", exportName: "long" },
  );
  const events: ConsumerEvent[] = [];
  const consumer: Consumer = createConsumer({
    registry, broker: counted, pollMs: MINUTE, ...(options.watch ? { watch: path } : {}), onEvent: (e) => events.push(e),
  });
  closers.push(async () => {
    await consumer.drain(1000);
    await producer.close();
    await broker.close();
  });
  return { consumer, producer, events, claims: () => claims };
}

async function waitFor(pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(5);
  }
}

const ended = (events: ConsumerEvent[], id: string) =>
  events.find((e): e is Extract<ConsumerEvent, { type: "end" }> => e.type === "end" && e.run.id === id);

describe("consumer with a watched store", () => {
  it("starts a run another connection queued without waiting for its poll, and does not poll while idle", async () => {
    const path = join(tempDir(), "fluid.db");
    const { consumer, producer, events, claims } = setUp(path, { watch: true });
    consumer.start();
    // Opening the store writes (migrations), and each connection empties its WAL once writes go
    // quiet for a second: those changes wake the consumer a few times. Then the store is idle.
    await sleep(2500);
    const settled = claims();
    await sleep(1500);
    // No claim per 25 ms poll: at most one fallback look while nothing changes.
    expect(claims() - settled).toBeLessThanOrEqual(1);
    for (const id of ["a", "b", "c"]) {
      await producer.enqueue(queued(id, "quick"));
      await waitFor(() => ended(events, id) !== undefined); // a minute's poll would fail this
      expect(ended(events, id)).toMatchObject({ state: "success" });
    }
  });

  it("cancels a running run when another connection asks, without waiting for its poll", async () => {
    const path = join(tempDir(), "fluid.db");
    const { consumer, producer, events } = setUp(path, { watch: true });
    consumer.start();
    await producer.enqueue(queued("l1", "long"));
    await waitFor(() => consumer.running().length === 1);
    expect(await producer.cancel("l1")).toBe("flagged");
    await waitFor(() => ended(events, "l1") !== undefined);
    expect(ended(events, "l1")).toMatchObject({ state: "cancelled" });
  });

  it("without a watch, another connection's run waits for the poll (what the watch saves)", async () => {
    const path = join(tempDir(), "fluid.db");
    const { consumer, producer, events } = setUp(path, { watch: false });
    consumer.start();
    await sleep(50);
    await producer.enqueue(queued("p", "quick"));
    await sleep(1000);
    expect(ended(events, "p")).toBeUndefined();
  });
});
