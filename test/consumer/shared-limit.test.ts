import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { QueuedRun } from "../../src/broker/broker.js";
import { createMemoryBroker } from "../../src/broker/memory.js";
import { Registry } from "../../src/config/registry.js";
import { createConsumer, type ConsumerEvent, type SharedLimit } from "../../src/consumer/consumer.js";
import { openStore } from "../../src/store/index.js";
import { task, type Task } from "../../src/task/task.js";
import { useTempDirs } from "../broker/temp-dirs.js";

// The consumer with a limit shared by other consumers (a fleet's maxConcurrency): a fake
// SharedLimit whose slots another consumer may hold (`taken`).

const tempDir = useTempDirs();
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function queued(id: string, taskName: string): QueuedRun {
  const now = Date.now();
  return { id, task: taskName, params: {}, priority: "medium", attempt: 1, trigger: "queue", runAfter: now, queuedAt: now };
}

/** Slots of each task, some held "elsewhere" (`taken`), and what was asked. */
function fakeShared(retryMs = 30) {
  const held = new Map<string, Set<string>>();
  const taken = new Map<string, number>();
  const asked: string[] = [];
  let failing = false;
  const limit: SharedLimit = {
    retryMs,
    async acquire(t, id, n) {
      asked.push(id);
      if (failing) throw new Error("backend away");
      const set = held.get(t) ?? new Set<string>();
      held.set(t, set);
      if (set.size + (taken.get(t) ?? 0) >= n) return false;
      set.add(id);
      return true;
    },
    release(t, id) {
      held.get(t)?.delete(id);
    },
  };
  return { limit, held, taken, asked, fail: (on: boolean) => (failing = on) };
}

function setUp(tasks: Task[], shared: SharedLimit) {
  const store = openStore({ path: join(tempDir(), "fluid.db") });
  const broker = createMemoryBroker();
  const registry = new Registry();
  for (const t of tasks) registry.add(t, { file: "test", exportName: t.name });
  const events: ConsumerEvent[] = [];
  const consumer = createConsumer({ registry, broker, store, pollMs: 5, onEvent: (e) => events.push(e), sharedLimit: shared });
  closers.push(async () => {
    await consumer.drain(1000);
    await broker.close();
    store.close();
  });
  const ends = () => events.filter((e): e is Extract<ConsumerEvent, { type: "end" }> => e.type === "end");
  return { consumer, broker, store, events, ends };
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await sleep(5);
  }
}

describe("consumer with a shared limit", () => {
  it('onLimit "wait": a run whose slots are all held elsewhere stays queued and runs once one frees; the slot is given back', async () => {
    const fake = fakeShared();
    const one = task({ name: "one", maxConcurrency: 1 }, async () => "ok");
    const { consumer, broker, ends, store } = setUp([one], fake.limit);
    fake.taken.set("one", 1);
    await broker.enqueue(queued("r1", "one"));
    consumer.start();
    await until(() => fake.asked.length >= 2); // asked, put back, asked again
    expect(ends()).toEqual([]);
    expect(await broker.has("r1")).toBe(true);
    expect(store.latestAttempt("r1")?.state ?? "queued").toBe("queued");
    fake.taken.delete("one"); // the other daemon's run ended
    await until(() => ends().length === 1);
    expect(ends()[0]).toMatchObject({ state: "success" });
    expect(fake.held.get("one")?.size).toBe(0);
  });

  it('onLimit "drop": a run whose slots are held elsewhere ends rate_limited', async () => {
    const fake = fakeShared();
    const gate = task({ name: "gate", maxConcurrency: 1, onLimit: "drop" }, async () => "ok");
    const { consumer, broker, ends, store } = setUp([gate], fake.limit);
    fake.taken.set("gate", 1);
    await broker.enqueue(queued("d1", "gate"));
    consumer.start();
    await until(() => ends().length === 1);
    expect(ends()[0]).toMatchObject({ state: "rate_limited" });
    store.flush();
    expect(store.latestAttempt("d1")).toMatchObject({ state: "rate_limited" });
  });

  it("a task without a limit asks nothing; a limit that cannot be asked puts the run back, reported", async () => {
    const fake = fakeShared();
    const free = task({ name: "free" }, async () => "ok");
    const one = task({ name: "one", maxConcurrency: 2 }, async () => "ok");
    const { consumer, broker, ends, events } = setUp([free, one], fake.limit);
    fake.fail(true);
    await broker.enqueue(queued("f1", "free"));
    await broker.enqueue(queued("o1", "one"));
    consumer.start();
    await until(() => ends().some((e) => e.run.id === "f1") && fake.asked.length >= 1);
    expect(fake.asked.every((id) => id === "o1")).toBe(true);
    expect(events.find((e) => e.type === "error")).toMatchObject({ message: expect.stringMatching(/taking a slot of one .* failed: backend away/) });
    expect(ends().some((e) => e.run.id === "o1")).toBe(false);
    fake.fail(false);
    await until(() => ends().some((e) => e.run.id === "o1"));
    expect(ends().find((e) => e.run.id === "o1")).toMatchObject({ state: "success" });
  });
});
