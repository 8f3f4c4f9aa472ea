import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import type { QueuedRun } from "../../src/broker/broker.js";
import { openSqliteBroker } from "../../src/broker/sqlite.js";
import { Registry } from "../../src/config/registry.js";
import { createConsumer, type ConsumerEvent } from "../../src/consumer/consumer.js";
import { openStore } from "../../src/store/index.js";
import { task, type Task } from "../../src/task/task.js";
import { useTempDirs } from "../broker/temp-dirs.js";

// The consumer as the daemon runs it: the SQLite broker in the store's file records the
// attempts (Broker.recordAttempt), in the commit that writes the acks.

const tempDir = useTempDirs();
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function queued(id: string, taskName: string): QueuedRun {
  const now = Date.now();
  return { id, task: taskName, params: {}, priority: "medium", attempt: 1, trigger: "queue", runAfter: now, queuedAt: now };
}

function rows(path: string, sql: string): unknown[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

async function setUp(tasks: Task[], concurrency = 10) {
  const path = join(tempDir(), "fluid.db");
  const store = openStore({ path });
  const broker = openSqliteBroker({ path });
  const registry = new Registry();
  for (const t of tasks) registry.add(t, { file: "test", exportName: t.name });
  const events: ConsumerEvent[] = [];
  const consumer = createConsumer({ registry, broker, store, concurrency, pollMs: 5, watch: path, onEvent: (e) => events.push(e) });
  closers.push(async () => {
    await consumer.drain(1000);
    await broker.close();
    store.close();
  });
  const ends = () => events.filter((e): e is Extract<ConsumerEvent, { type: "end" }> => e.type === "end");
  return { path, consumer, broker, store, ends };
}

async function waitFor(pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(2);
  }
}

describe("consumer on the SQLite broker, recording through it", () => {
  it("records every run once, with its outcome committed by the time its end is reported", async () => {
    let calls = 0;
    const { path, consumer, broker, ends } = await setUp([task({ name: "count" }, async (ctx) => {
      calls++;
      return ctx.id;
    })]);
    for (let i = 0; i < 200; i++) await broker.enqueue(queued(`r${i}`, "count"));
    consumer.start();
    await waitFor(() => ends().length === 200);
    // Each end event comes after its ack committed, and the record went in the same commit.
    expect(rows(path, "SELECT count(*) AS n, min(state) AS lo, max(state) AS hi FROM runs")).toEqual([{ n: 200, lo: "success", hi: "success" }]);
    expect(calls).toBe(200);
    expect(rows(path, "SELECT count(*) AS n FROM queue")).toEqual([{ n: 0 }]);
    expect(rows(path, "SELECT result FROM runs WHERE id = 'r7'")).toEqual([{ result: '"r7"' }]);
  });

  it("records a running attempt while it runs, then its retry as the next attempt queued", async () => {
    let release: () => void = () => {};
    const opened = new Promise<void>((resolve) => (release = resolve));
    const flaky = task({ name: "flaky", retry: { attempts: 2, delay: "5ms", backoff: 1 } }, async (ctx) => {
      if (ctx.attempt === 1) {
        await opened;
        throw new Error("first attempt fails");
      }
      return "ok";
    });
    const { path, consumer, broker, ends } = await setUp([flaky]);
    await broker.enqueue(queued("f1", "flaky"));
    consumer.start();
    await waitFor(() => rows(path, "SELECT state FROM runs WHERE id = 'f1'").length === 1);
    expect(rows(path, "SELECT attempt, state FROM runs WHERE id = 'f1'")).toEqual([{ attempt: 1, state: "running" }]);
    release();
    await waitFor(() => ends().length === 2);
    expect(ends().map((e) => e.state)).toEqual(["failure", "success"]);
    expect(rows(path, "SELECT attempt, state, trigger FROM runs WHERE id = 'f1' ORDER BY attempt")).toEqual([
      { attempt: 1, state: "failure", trigger: "queue" },
      { attempt: 2, state: "success", trigger: "retry" },
    ]);
  });
});
