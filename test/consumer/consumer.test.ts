import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Broker, QueuedRun } from "../../src/broker/broker.js";
import { createMemoryBroker } from "../../src/broker/memory.js";
import { Registry } from "../../src/config/registry.js";
import { createConsumer, type Consumer, type ConsumerEvent, type ConsumerOptions } from "../../src/consumer/consumer.js";
import { openStore } from "../../src/store/index.js";
import type { Store } from "../../src/store/store.js";
import { task, type RunContext, type Task } from "../../src/task/task.js";
import { useTempDirs } from "../broker/temp-dirs.js";

// The consumer on its own: the memory broker, a real store in a temp dir, tasks defined here.
// Each test follows runs through claim -> validate -> execute -> record -> ack / retry.

const tempDir = useTempDirs();
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function queued(id: string, taskName: string, params: Record<string, unknown> = {}): QueuedRun {
  const now = Date.now();
  return { id, task: taskName, params, priority: "medium", attempt: 1, trigger: "queue", runAfter: now, queuedAt: now };
}

/** Resolves when the test lets it (`release()`), or rejects when ctx.signal aborts. */
function gate() {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return {
    release: () => open(),
    wait: (ctx: RunContext<Record<string, unknown>>) =>
      new Promise<void>((resolve, reject) => {
        void opened.then(resolve);
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
      }),
  };
}

interface SetUp {
  consumer: Consumer;
  broker: Broker;
  store: Store;
  events: ConsumerEvent[];
  ended: (id: string) => Extract<ConsumerEvent, { type: "end" }> | undefined;
}

function setUp(tasks: Task[], more: Partial<ConsumerOptions> = {}): SetUp {
  const store = openStore({ path: join(tempDir(), "fluid.db") });
  const broker = createMemoryBroker();
  const registry = new Registry();
  for (const t of tasks) registry.add(t, { file: "test", exportName: t.name });
  const events: ConsumerEvent[] = [];
  const consumer = createConsumer({ registry, broker, store, pollMs: 5, onEvent: (e) => events.push(e), ...more });
  closers.push(async () => {
    await consumer.drain(1000);
    await broker.close();
    store.close();
  });
  const ended = (id: string) =>
    events.find((e): e is Extract<ConsumerEvent, { type: "end" }> => e.type === "end" && e.run.id === id);
  return { consumer, broker, store, events, ended };
}

async function waitFor(pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(2);
  }
}

describe("consumer", () => {
  it("claims a run, validates its params, executes it, records running then success, and acks it", async () => {
    const seen: unknown[] = [];
    const double = task({ name: "double", params: z.object({ n: z.coerce.number() }) }, async (ctx) => {
      seen.push(ctx.params);
      ctx.log.info("doubling %d", ctx.params.n);
      return ctx.params.n * 2;
    });
    const { consumer, broker, store, ended } = setUp([double]);
    await broker.enqueue(queued("r1", "double", { n: "21" }));
    consumer.start();
    await waitFor(() => ended("r1") !== undefined);
    expect(ended("r1")).toMatchObject({ state: "success" });
    expect(seen).toEqual([{ n: 21 }]); // validated (coerced) params, not the raw ones
    store.flush();
    const details = store.getRun("r1");
    expect(details.run).toMatchObject({ state: "success", result: 42, attempt: 1, task: "double" });
    expect(details.logs.map((l) => l.message)).toEqual(["doubling 21"]);
    expect(await broker.counts()).toEqual({ ready: 0, delayed: 0, claimed: 0 });
  });

  it("records a run whose params no longer fit the task as a failure, never retried, and drops it", async () => {
    let calls = 0;
    const strict = task({ name: "strict", params: z.object({ n: z.number() }), retry: { attempts: 3, delay: "1ms" } }, async () => {
      calls++;
    });
    const { consumer, broker, store, ended } = setUp([strict]);
    await broker.enqueue(queued("p1", "strict", { n: "not a number" }));
    consumer.start();
    await waitFor(() => ended("p1") !== undefined);
    expect(ended("p1")).toMatchObject({ state: "failure", error: { code: "FLUID_PARAMS" } });
    expect(ended("p1")!.retryInMs).toBeUndefined();
    expect(calls).toBe(0);
    store.flush();
    expect(store.getRun("p1").attempts).toHaveLength(1);
    expect(await broker.counts()).toEqual({ ready: 0, delayed: 0, claimed: 0 });
  });

  it("records a run of a task that no longer exists as a failure and drops it", async () => {
    const { consumer, broker, store, ended } = setUp([task({ name: "other" }, async () => {})]);
    await broker.enqueue(queued("gone1", "gone"));
    consumer.start();
    await waitFor(() => ended("gone1") !== undefined);
    expect(ended("gone1")!.state).toBe("failure");
    store.flush();
    expect(store.getRun("gone1").run.state).toBe("failure");
    expect(await broker.counts()).toEqual({ ready: 0, delayed: 0, claimed: 0 });
  });

  it("retries a failed attempt by its policy, records each attempt, and acks the run once it succeeds", async () => {
    let calls = 0;
    const flaky = task({ name: "flaky", retry: { attempts: 3, delay: "5ms", backoff: 1 } }, async (ctx) => {
      calls++;
      if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt} failed`);
      return "third time";
    });
    const { consumer, broker, store, events } = setUp([flaky]);
    await broker.enqueue(queued("f1", "flaky"));
    consumer.start();
    const ends = () => events.filter((e): e is Extract<ConsumerEvent, { type: "end" }> => e.type === "end");
    await waitFor(() => ends().length === 3);
    expect(ends().map((e) => [e.state, e.retryInMs])).toEqual([["failure", 5], ["failure", 5], ["success", undefined]]);
    expect(calls).toBe(3);
    store.flush();
    const details = store.getRun("f1");
    expect(details.attempts.map((a) => [a.attempt, a.state])).toEqual([[1, "failure"], [2, "failure"], [3, "success"]]);
    expect(details.run.result).toBe("third time");
    expect(await broker.counts()).toEqual({ ready: 0, delayed: 0, claimed: 0 });
  });

  it("never runs more than `concurrency` runs at once, and starts the next as one ends", async () => {
    const g = gate();
    let now = 0;
    let most = 0;
    const slow = task({ name: "slow" }, async (ctx) => {
      most = Math.max(most, ++now);
      await g.wait(ctx);
      now--;
    });
    const { consumer, broker, ended } = setUp([slow], { concurrency: 3 });
    for (let i = 0; i < 10; i++) await broker.enqueue(queued(`c${i}`, "slow"));
    consumer.start();
    await waitFor(() => consumer.running().length === 3);
    await sleep(50); // a consumer that ignored its limit would have claimed more by now
    expect(consumer.running()).toHaveLength(3);
    expect((await broker.counts()).ready).toBe(7);
    g.release();
    await waitFor(() => Array.from({ length: 10 }, (_, i) => ended(`c${i}`)).every(Boolean));
    expect(most).toBe(3);
  });

  it("keeps runs of a task at its maxConcurrency waiting in the queue, while other tasks run", async () => {
    const g = gate();
    const limited = task({ name: "limited", maxConcurrency: 2 }, async (ctx) => g.wait(ctx));
    const free = task({ name: "free" }, async () => "ok");
    const { consumer, broker, ended } = setUp([limited, free], { concurrency: 10 });
    for (let i = 0; i < 5; i++) await broker.enqueue(queued(`l${i}`, "limited"));
    await broker.enqueue(queued("f", "free"));
    consumer.start();
    await waitFor(() => ended("f") !== undefined);
    await sleep(50);
    expect(consumer.runningCount("limited")).toBe(2);
    expect((await broker.counts()).ready).toBe(3); // waiting, not dropped
    g.release();
    await waitFor(() => Array.from({ length: 5 }, (_, i) => ended(`l${i}`)).every((e) => e?.state === "success"));
  });

  it("records runs over a dropping task's limit as rate_limited without running them", async () => {
    const g = gate();
    let calls = 0;
    const dropping = task({ name: "dropping", maxConcurrency: 1, onLimit: "drop" }, async (ctx) => {
      calls++;
      await g.wait(ctx);
    });
    const { consumer, broker, store, ended } = setUp([dropping]);
    for (let i = 0; i < 3; i++) await broker.enqueue(queued(`d${i}`, "dropping"));
    consumer.start();
    await waitFor(() => ended("d1") !== undefined && ended("d2") !== undefined);
    expect([ended("d1")!.state, ended("d2")!.state]).toEqual(["rate_limited", "rate_limited"]);
    g.release();
    await waitFor(() => ended("d0") !== undefined);
    expect(ended("d0")!.state).toBe("success");
    expect(calls).toBe(1);
    store.flush();
    expect(store.getRun("d2").run.state).toBe("rate_limited");
  });

  it("cancels a running run: ctx.signal aborts, the run is recorded cancelled and acked", async () => {
    const g = gate();
    const long = task({ name: "long" }, async (ctx) => g.wait(ctx));
    const { consumer, broker, store, ended } = setUp([long]);
    await broker.enqueue(queued("x1", "long"));
    consumer.start();
    await waitFor(() => consumer.running().length === 1);
    expect(consumer.cancel("nope")).toBe(false);
    expect(consumer.cancel("x1", "not needed")).toBe(true);
    await waitFor(() => ended("x1") !== undefined);
    expect(ended("x1")).toMatchObject({ state: "cancelled", error: { message: expect.stringContaining("not needed") } });
    store.flush();
    expect(store.getRun("x1").run.state).toBe("cancelled");
    expect(await broker.counts()).toEqual({ ready: 0, delayed: 0, claimed: 0 });
  });

  it("cancels a run whose task never reads ctx.signal", async () => {
    // The stop must end the attempt even though the task never asked for its signal.
    const deaf = task({ name: "deaf" }, async () => new Promise<void>((resolve) => void sleep(200).then(resolve)));
    const { consumer, broker, ended } = setUp([deaf]);
    await broker.enqueue(queued("deaf1", "deaf"));
    consumer.start();
    await waitFor(() => consumer.running().length === 1);
    consumer.cancel("deaf1");
    await waitFor(() => ended("deaf1") !== undefined);
    expect(ended("deaf1")!.state).toBe("cancelled");
    // Its slot stays held until the function settles (it ignored the signal).
    expect(consumer.running()).toHaveLength(1);
    await waitFor(() => consumer.running().length === 0);
  });

  it("times a run out by its task's timeout, whether or not other runs share the limit", async () => {
    const g = gate();
    const capped = task({ name: "capped", timeout: "50ms" }, async (ctx) => g.wait(ctx));
    const quick = task({ name: "quick", timeout: "50ms" }, async () => "ok");
    const { consumer, broker, ended } = setUp([capped, quick]);
    await broker.enqueue(queued("q1", "quick"));
    await broker.enqueue(queued("t1", "capped"));
    await broker.enqueue(queued("q2", "quick"));
    consumer.start();
    await waitFor(() => ended("t1") !== undefined);
    expect(ended("t1")).toMatchObject({ state: "timeout", error: { code: "FLUID_TIMEOUT" } });
    expect([ended("q1")?.state, ended("q2")?.state]).toEqual(["success", "success"]);
    g.release();
  });

  it("drain waits for running runs within its grace, then interrupts the rest and puts them back", async () => {
    const g = gate();
    const quickish = task({ name: "quickish" }, async () => sleep(20));
    const long = task({ name: "long" }, async (ctx) => g.wait(ctx));
    const { consumer, broker, store, ended } = setUp([quickish, long]);
    await broker.enqueue(queued("q", "quickish"));
    await broker.enqueue(queued("l", "long"));
    consumer.start();
    await waitFor(() => consumer.running().length === 2);
    const result = await consumer.drain(300);
    expect(result).toEqual({ finished: 1, interrupted: 1 });
    expect(ended("q")!.state).toBe("success");
    expect(ended("l")!.state).toBe("interrupted");
    store.flush();
    expect(store.getRun("l").run.state).toBe("interrupted");
    // The interrupted run waits in the queue for the next start, same attempt.
    expect((await broker.counts()).ready).toBe(1);
    const [again] = await broker.claim({ max: 1, owner: "test" });
    expect(again).toMatchObject({ id: "l", attempt: 1 });
    g.release();
  });

  it("does not claim after drain, and a drained consumer has nothing running", async () => {
    const t = task({ name: "t" }, async () => {});
    const { consumer, broker } = setUp([t]);
    consumer.start();
    expect(await consumer.drain(100)).toEqual({ finished: 0, interrupted: 0 });
    await broker.enqueue(queued("late", "t"));
    await sleep(30);
    expect((await broker.counts()).ready).toBe(1);
    expect(consumer.running()).toEqual([]);
  });

  it("runs many short runs without losing any (runs ending in the same turn share one claim)", async () => {
    const t = task({ name: "noop" }, async () => {});
    const { consumer, broker, events } = setUp([t], { concurrency: 20 });
    for (let i = 0; i < 500; i++) await broker.enqueue(queued(`n${i}`, "noop"));
    consumer.start();
    await waitFor(() => events.filter((e) => e.type === "end").length === 500);
    expect(events.filter((e) => e.type === "end" && e.state !== "success")).toEqual([]);
    expect(await broker.counts()).toEqual({ ready: 0, delayed: 0, claimed: 0 });
  });
});
