import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { Broker } from "../../src/broker/broker.js";
import { openBullmqBroker, type BullmqBrokerOptions } from "../../src/broker/bullmq.js";
import { newQueuedRun } from "../../src/core/queued-run.js";
import type { BackendTarget } from "../../src/fleet/backend-url.js";
import { checkBackend } from "../../src/fleet/check-backend.js";
import { openFleetConnection } from "../../src/fleet/connection.js";
import { slotRunId } from "../../src/fleet/slot-run-id.js";
import { BACKENDS, ownTarget } from "./backends.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const task = (name: string) => ({ name, priority: "medium" as const });

describe.each(BACKENDS)("pending runs of a task (the overlap check) on $name", ({ name, url, up }) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  let namespace: { target: BackendTarget; drop: () => Promise<void> } | undefined;
  beforeAll(async () => {
    if (!up) return;
    namespace = ownTarget(url);
    await checkBackend(namespace.target);
  });
  afterAll(async () => namespace?.drop());
  let queues = 0;
  const fresh = (): { target: BackendTarget; queueName: string } => ({ target: namespace!.target, queueName: `p${queues++}` });
  const open = async (where: { target: BackendTarget; queueName: string }, more: Partial<BullmqBrokerOptions> = {}): Promise<Broker> => {
    const broker = await openBullmqBroker({ ...where, ...more });
    cleanups.push(() => broker.close());
    return broker;
  };
  const test = up ? it : it.skip;
  if (!up) it.skip(`${name} is not reachable on 127.0.0.1: start it to run these tests`, () => {});

  test("a run counts from its enqueue until it finishes, and never the slot the fire itself enqueues", async () => {
    const b = await open(fresh());
    const slot = slotRunId("tick", 60_000);
    expect(await b.hasPending("tick", slot)).toBe(false);
    await b.enqueue(newQueuedRun(task("tick"), {}, { id: slot, scheduledAt: 60_000 }));
    // Another daemon firing the same slot: its own run, not an overlap.
    expect(await b.hasPending("tick", slot)).toBe(false);
    expect(await b.hasPending("tick")).toBe(true);
    expect(await b.hasPending("tock")).toBe(false);
    const next = slotRunId("tick", 120_000);
    expect(await b.hasPending("tick", next)).toBe(true); // waiting
    const [run] = await b.claim({ max: 10, owner: "a" });
    expect(await b.hasPending("tick", next)).toBe(true); // running
    await b.ack(run!.id);
    expect(await b.hasPending("tick", next)).toBe(false);
    // A failed run finishes too.
    await b.enqueue(newQueuedRun(task("tick"), {}, { id: next, scheduledAt: 120_000 }));
    const [second] = await b.claim({ max: 10, owner: "a" });
    await b.ack(second!.id, { state: "failure", error: { message: "no" } });
    expect(await b.hasPending("tick", slotRunId("tick", 180_000))).toBe(false);
  });

  test("several daemons firing the same slots at once: each sees the previous slot's run, never its own", async () => {
    const where = fresh();
    const daemons = await Promise.all([open(where), open(where), open(where)]);
    for (let i = 1; i <= 6; i++) {
      const slot = slotRunId("tick", i * 1000);
      const seen = await Promise.all(daemons.map(async (d) => {
        const overlap = await d.hasPending("tick", slot);
        if (!overlap) await d.enqueue(newQueuedRun(task("tick"), {}, { id: slot, scheduledAt: i * 1000 }));
        return overlap;
      }));
      // Slot 1 finds nothing; later slots find slot 1's run, still queued: every daemon skips them.
      expect(seen).toEqual(i === 1 ? [false, false, false] : [true, true, true]);
    }
    const runs = await daemons[0]!.claim({ max: 10, owner: "a" });
    expect(runs.map((r) => r.id)).toEqual([slotRunId("tick", 1000)]);
    await daemons[0]!.ack(runs[0]!.id);
    expect(await daemons[1]!.hasPending("tick", slotRunId("tick", 7000))).toBe(false);
  });

  test("a daemon killed mid-run: its run stays pending until another daemon, after the stall, finishes it", async () => {
    const where = fresh();
    const stall = { lockDurationMs: 1000, stalledIntervalMs: 1000 };
    const dead = await openBullmqBroker({ ...where, ...stall, prefetch: false });
    await dead.enqueue(newQueuedRun(task("tick"), {}, { id: "r1" }));
    const [run] = await dead.claim({ max: 1, owner: "dead" });
    expect(run?.id).toBe("r1");
    // Killed: no ack, no renewal (close gives back only runs it had not started: this one it had).
    await dead.close();
    const live = await open(where, stall);
    expect(await live.hasPending("tick", "next")).toBe(true);
    let claimed: string[] = [];
    for (let i = 0; i < 60 && claimed.length === 0; i++) {
      await sleep(200);
      claimed = (await live.claim({ max: 1, owner: "live" })).map((r) => r.id);
      expect(await live.hasPending("tick", "next")).toBe(true);
    }
    expect(claimed).toEqual(["r1"]);
    await live.ack("r1");
    expect(await live.hasPending("tick", "next")).toBe(false);
  }, 20_000);

  test("a job a plain BullMQ producer added counts once claimed, and a removed job stops counting", async () => {
    const where = fresh();
    const b = await open(where);
    const connection = openFleetConnection(where.target, where.queueName);
    const queue = connection.queue();
    try {
      await queue.add("tick", {}, { jobId: "foreign" });
      const [run] = await b.claim({ max: 1, owner: "a" });
      expect(run?.id).toBe("foreign");
      expect(await b.hasPending("tick", "x")).toBe(true);
      await b.ack("foreign");
      expect(await b.hasPending("tick", "x")).toBe(false);
      // Removed by a dashboard (not through fluid): gone from the check too.
      await b.enqueue(newQueuedRun(task("tick"), {}, { id: "mine" }));
      expect(await b.hasPending("tick", "x")).toBe(true);
      await (await queue.getJob("mine"))!.remove();
      expect(await b.hasPending("tick", "x")).toBe(false);
    } finally {
      await queue.close();
      await connection.close();
    }
  });

  if (name === "redis") {
    test("a look is one command however many runs of other tasks are queued (the old check read every one)", async () => {
      const where = fresh();
      const b = await open(where);
      for (let i = 0; i < 300; i++) await b.enqueue(newQueuedRun(task(`other${i % 7}`), { i }));
      await b.enqueue(newQueuedRun(task("tick"), {}, { id: "t1" }));
      // Commands this process sends (another process may use the same Redis).
      const sent = vi.spyOn(Redis.prototype, "sendCommand");
      try {
        expect(await b.hasPending("tick", "t2")).toBe(true);
        expect(await b.hasPending("other3", "t2")).toBe(true);
        expect(await b.hasPending("none", "t2")).toBe(false);
        // One script per look; the old check listed the queue and read each of its 301 jobs.
        expect(sent.mock.calls.length).toBeGreaterThanOrEqual(1);
        expect(sent.mock.calls.length).toBeLessThanOrEqual(3);
      } finally {
        sent.mockRestore();
      }
    });

    test("leftovers (a daemon killed between finishing a run and clearing it) are dropped by the next look", async () => {
      const where = fresh();
      const b = await open(where);
      await b.enqueue(newQueuedRun(task("tick"), {}, { id: "old" }));
      const [run] = await b.claim({ max: 1, owner: "a" });
      await b.ack(run!.id);
      const t = where.target as Extract<BackendTarget, { kind: "redis" }>;
      const redis = new Redis({ host: t.host, port: t.port, db: t.db });
      cleanups.push(async () => void redis.disconnect());
      const key = `${t.prefix}:fluid-pending:${where.queueName}:tick`;
      // As if the clearing never happened, and an enqueue died before its job was added long ago.
      await redis.zadd(key, Date.now(), "old", Date.now() - 60_000, "never-added");
      expect(await b.hasPending("tick", "x")).toBe(false);
      expect(await redis.zcard(key)).toBe(0);
      // An enqueue under way (indexed, job not added yet) counts.
      await redis.zadd(key, Date.now(), "adding");
      expect(await b.hasPending("tick", "x")).toBe(true);
      // An added job removed by hand does not.
      await redis.zadd(key, 0, "removed-by-hand");
      await redis.zrem(key, "adding");
      expect(await b.hasPending("tick", "x")).toBe(false);
    });
  } else {
    test("the look is an index scan of fluid's partial index on BullMQ's job table", async () => {
      const t = namespace!.target as Extract<BackendTarget, { kind: "postgres" }>;
      const client = new pg.Client({ connectionString: t.connectionString });
      await client.connect();
      try {
        await client.query(`SET search_path TO "${t.schema}"`);
        await client.query("SET enable_seqscan = off");
        const { rows } = await client.query<{ "QUERY PLAN": string }>(
          "EXPLAIN SELECT EXISTS (SELECT 1 FROM job WHERE queue = 'q' AND name = 'tick' AND state IN ('waiting', 'active', 'delayed', 'waiting-children') AND id <> 'x')",
        );
        expect(rows.map((r) => r["QUERY PLAN"]).join("\n")).toMatch(/fluid_job_pending_name_idx/);
      } finally {
        await client.end();
      }
    });
  }
});
