import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { createMemoryBroker } from "../../src/broker/memory.js";
import { Registry } from "../../src/config/registry.js";
import { createConsumer, type ConsumerEvent } from "../../src/consumer/consumer.js";
import { newQueuedRun } from "../../src/core/queued-run.js";
import { task } from "../../src/task/task.js";

describe("consumer: a run that ignores its abort signal", () => {
  it("is recorded as a timeout at its deadline, and holds its concurrency slot until its function settles", async () => {
    let stubbornEnded = 0;
    const stubborn = task({ name: "stubborn", timeout: 50 }, async () => {
      await sleep(400); // ignores ctx.signal
      stubbornEnded = Date.now();
    });
    let nextStarted = 0;
    const next = task({ name: "next" }, async () => {
      nextStarted = Date.now();
    });
    const registry = new Registry();
    registry.add(stubborn, { file: "t.ts", exportName: "stubborn" });
    registry.add(next, { file: "t.ts", exportName: "next" });
    const broker = createMemoryBroker();
    const events: Array<ConsumerEvent & { at: number }> = [];
    const consumer = createConsumer({ registry, broker, concurrency: 1, pollMs: 10, onEvent: (e) => events.push({ ...e, at: Date.now() }) });
    await broker.enqueue(newQueuedRun(stubborn, {}));
    await broker.enqueue(newQueuedRun(next, {}));
    consumer.start();
    try {
      const deadline = Date.now() + 10_000;
      while (!events.some((e) => e.type === "end" && e.run.task === "next") && Date.now() < deadline) await sleep(10);
    } finally {
      await consumer.drain(1000);
    }
    const end = events.find((e) => e.type === "end" && e.run.task === "stubborn") as Extract<ConsumerEvent, { type: "end" }> & { at: number };
    expect(end.state).toBe("timeout");
    // Recorded at the deadline, while the function still ran...
    expect(end.at).toBeLessThan(stubbornEnded);
    // ...and the only slot stayed taken until it settled.
    expect(nextStarted).toBeGreaterThanOrEqual(stubbornEnded);
    expect(events.filter((e) => e.type === "start").map((e) => (e as { run: { task: string } }).run.task)).toEqual(["stubborn", "next"]);
  });
});
