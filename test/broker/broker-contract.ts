import { afterEach, describe, expect, it } from "vitest";
import type { Broker, QueuedRun } from "../../src/broker/broker.js";

/** Epoch ms all contract runs are queued at; claims pass explicit `now` values around it. */
export const T0 = 1_700_000_000_000;

/** A queued run with every required field, overridable. */
export function makeRun(overrides: Partial<QueuedRun> = {}): QueuedRun {
  return {
    id: "run-1",
    task: "say_hi",
    params: { name: "bob" },
    priority: "medium",
    attempt: 1,
    trigger: "queue",
    runAfter: T0,
    queuedAt: T0,
    ...overrides,
  };
}

const ids = (runs: QueuedRun[]): string[] => runs.map((r) => r.id);

/**
 * The behaviour every broker shares, written once and run against each implementation:
 * `open` makes a new, empty broker (the contract closes it after each test).
 */
export function describeBrokerContract(name: string, open: () => Broker | Promise<Broker>): void {
  const opened: Broker[] = [];
  afterEach(async () => {
    for (const broker of opened.splice(0)) await broker.close();
  });
  const make = async (): Promise<Broker> => {
    const broker = await open();
    opened.push(broker);
    return broker;
  };
  /** A broker holding `runs`, enqueued in order. */
  const withRuns = async (...runs: QueuedRun[]): Promise<Broker> => {
    const broker = await make();
    for (const run of runs) expect(await broker.enqueue(run)).toBe(true);
    return broker;
  };

  describe(`${name} broker contract`, () => {
    it("keeps a run with every field, and knows it is there", async () => {
      const full = makeRun({ id: "full", fromRunId: "parent", rootRunId: "root", scheduledAt: T0 - 5, trigger: "schedule", params: { n: [1, { a: "x" }] } });
      const bare = makeRun({ id: "bare" });
      const broker = await withRuns(full, bare);
      expect(await broker.has("full")).toBe(true);
      expect(await broker.has("nope")).toBe(false);
      expect(await broker.hasPending("say_hi")).toBe(true);
      expect(await broker.hasPending("other")).toBe(false);
      expect(await broker.counts(T0)).toEqual({ ready: 2, delayed: 0, claimed: 0 });
      const claimed = await broker.claim({ max: 10, owner: "w1", now: T0 });
      expect(claimed).toEqual([full, bare]);
      expect(Object.keys(claimed[1]!).sort()).toEqual(Object.keys(bare).sort()); // no undefined optional fields
      expect(await broker.counts(T0)).toEqual({ ready: 0, delayed: 0, claimed: 2 });
      expect(await broker.has("full")).toBe(true); // claimed still counts
      expect(await broker.hasPending("say_hi")).toBe(true);
    });

    it("claims by priority, then runAfter, then enqueue order", async () => {
      const broker = await withRuns(
        makeRun({ id: "low-1", priority: "low" }),
        makeRun({ id: "med-late", runAfter: T0 + 2 }),
        makeRun({ id: "med-1" }),
        makeRun({ id: "high-1", priority: "high", runAfter: T0 + 1 }),
        makeRun({ id: "med-2" }),
        makeRun({ id: "med-early", runAfter: T0 - 10 }),
        makeRun({ id: "high-2", priority: "high" }),
      );
      expect(ids(await broker.claim({ max: 3, owner: "w", now: T0 + 5 }))).toEqual(["high-2", "high-1", "med-early"]);
      expect(ids(await broker.claim({ max: 10, owner: "w", now: T0 + 5 }))).toEqual(["med-1", "med-2", "med-late", "low-1"]);
      expect(await broker.claim({ max: 10, owner: "w", now: T0 + 5 })).toEqual([]);
    });

    it("does not claim a run before its runAfter, and says when the next is due", async () => {
      const broker = await make();
      expect(await broker.nextDue()).toBeUndefined();
      await broker.enqueue(makeRun({ id: "later", runAfter: T0 + 1000, priority: "high" }));
      await broker.enqueue(makeRun({ id: "soon", runAfter: T0 + 300, priority: "low" }));
      expect(await broker.nextDue()).toBe(T0 + 300);
      expect(await broker.counts(T0)).toEqual({ ready: 0, delayed: 2, claimed: 0 });
      expect(await broker.claim({ max: 10, owner: "w", now: T0 })).toEqual([]);
      expect(await broker.counts(T0 + 500)).toEqual({ ready: 1, delayed: 1, claimed: 0 });
      expect(ids(await broker.claim({ max: 10, owner: "w", now: T0 + 999 }))).toEqual(["soon"]);
      expect(await broker.nextDue()).toBe(T0 + 1000); // claimed runs do not count
      expect(ids(await broker.claim({ max: 10, owner: "w", now: T0 + 1000 }))).toEqual(["later"]);
      expect(await broker.nextDue()).toBeUndefined();
    });

    it("claims at most max, and never a claimed run twice", async () => {
      const broker = await withRuns(...[1, 2, 3, 4, 5].map((i) => makeRun({ id: `r${i}` })));
      expect(ids(await broker.claim({ max: 2, owner: "a", now: T0 }))).toEqual(["r1", "r2"]);
      expect(ids(await broker.claim({ max: 2, owner: "b", now: T0 }))).toEqual(["r3", "r4"]);
      expect(await broker.claim({ max: 0, owner: "b", now: T0 })).toEqual([]);
      expect(ids(await broker.claim({ max: Infinity, owner: "b", now: T0 }))).toEqual(["r5"]);
      expect(await broker.counts(T0)).toEqual({ ready: 0, delayed: 0, claimed: 5 });
    });

    it("leaves the runs of skipped tasks queued and claims the others in order", async () => {
      const broker = await withRuns(
        makeRun({ id: "a1", task: "a" }),
        makeRun({ id: "b1", task: "b", priority: "low" }),
        makeRun({ id: "a2", task: "a", priority: "high" }),
        makeRun({ id: "c1", task: "c" }),
        makeRun({ id: "c2", task: "c", priority: "high", runAfter: T0 + 1 }),
      );
      expect(ids(await broker.claim({ max: 10, owner: "w", now: T0 + 1, skipTasks: new Set(["a"]) }))).toEqual(["c2", "c1", "b1"]);
      expect(await broker.claim({ max: 10, owner: "w", now: T0 + 1, skipTasks: new Set(["a"]) })).toEqual([]);
      expect(await broker.counts(T0 + 1)).toEqual({ ready: 2, delayed: 0, claimed: 3 });
      expect(ids(await broker.claim({ max: 10, owner: "w", now: T0 + 1, skipTasks: new Set() }))).toEqual(["a2", "a1"]);
    });

    it("finds the runs of other tasks behind many runs of a skipped task", async () => {
      const broker = await make();
      const busy = Array.from({ length: 600 }, (_, i) => broker.enqueue(makeRun({ id: `busy-${i}`, task: "busy" })));
      await Promise.all(busy);
      for (const id of ["x1", "x2", "x3"]) await broker.enqueue(makeRun({ id, task: "other" }));
      await broker.enqueue(makeRun({ id: "y1", task: "third", priority: "low" }));
      const skip = new Set(["busy"]);
      expect(ids(await broker.claim({ max: 2, owner: "w", now: T0, skipTasks: skip }))).toEqual(["x1", "x2"]);
      expect(ids(await broker.claim({ max: 5, owner: "w", now: T0, skipTasks: skip }))).toEqual(["x3", "y1"]);
      expect(await broker.claim({ max: 5, owner: "w", now: T0, skipTasks: skip })).toEqual([]);
      expect(ids(await broker.claim({ max: 2, owner: "w", now: T0 }))).toEqual(["busy-0", "busy-1"]);
      expect(await broker.counts(T0)).toEqual({ ready: 598, delayed: 0, claimed: 6 });
    });

    it("ack removes a claimed run and nothing else", async () => {
      const broker = await withRuns(makeRun({ id: "done" }), makeRun({ id: "waiting", task: "other" }));
      await broker.claim({ max: 1, owner: "w", now: T0 });
      await broker.ack("done");
      await broker.ack("waiting"); // queued, not claimed: stays
      await broker.ack("never-heard-of");
      expect(await broker.has("done")).toBe(false);
      expect(await broker.hasPending("say_hi")).toBe(false);
      expect(await broker.has("waiting")).toBe(true);
      expect(await broker.counts(T0)).toEqual({ ready: 1, delayed: 0, claimed: 0 });
    });

    it("retry puts a claimed run back as a delayed run with a new attempt, keeping its place", async () => {
      const broker = await withRuns(makeRun({ id: "flaky", trigger: "schedule", priority: "high" }), makeRun({ id: "next", priority: "high" }));
      const [flaky] = await broker.claim({ max: 1, owner: "w", now: T0 });
      expect(await broker.retry(flaky!.id, 2, T0 + 500)).toBe(true);
      expect(await broker.counts(T0 + 10)).toEqual({ ready: 1, delayed: 1, claimed: 0 });
      expect(await broker.nextDue()).toBe(T0);
      expect(ids(await broker.claim({ max: 5, owner: "w", now: T0 + 499 }))).toEqual(["next"]);
      const [again] = await broker.claim({ max: 5, owner: "w", now: T0 + 500 });
      expect(again).toEqual({ ...flaky, attempt: 2, runAfter: T0 + 500 }); // trigger and priority kept
      // Same runAfter as a run queued after it: the retried run keeps its enqueue order.
      await broker.enqueue(makeRun({ id: "newer", priority: "high", runAfter: T0 + 600 }));
      expect(await broker.retry("flaky", 3, T0 + 600)).toBe(true);
      expect(ids(await broker.claim({ max: 5, owner: "w", now: T0 + 600 }))).toEqual(["flaky", "newer"]);
    });

    it("retry of a run that is not claimed changes nothing", async () => {
      const broker = await withRuns(makeRun({ id: "queued" }));
      expect(await broker.retry("queued", 2, T0 + 100)).toBe(false);
      expect(await broker.retry("unknown", 2, T0 + 100)).toBe(false);
      expect(ids(await broker.claim({ max: 5, owner: "w", now: T0 }))).toEqual(["queued"]);
      await expect(broker.retry("queued", 0, T0)).rejects.toThrow(TypeError);
    });

    it("cancel removes a queued run, flags a claimed one for its owner, and knows no other", async () => {
      const broker = await withRuns(makeRun({ id: "w1-run" }), makeRun({ id: "w2-run" }), makeRun({ id: "queued" }), makeRun({ id: "delayed", runAfter: T0 + 60_000 }));
      expect(ids(await broker.claim({ max: 1, owner: "w1", now: T0 }))).toEqual(["w1-run"]);
      expect(ids(await broker.claim({ max: 1, owner: "w2", now: T0 }))).toEqual(["w2-run"]);
      expect(await broker.cancel("delayed")).toBe("removed");
      expect(await broker.cancel("queued")).toBe("removed");
      expect(await broker.has("queued")).toBe(false);
      expect(await broker.cancelRequested("w1")).toEqual([]);
      expect(await broker.cancel("w1-run")).toBe("flagged");
      expect(await broker.cancel("w2-run")).toBe("flagged");
      expect(await broker.cancel("w2-run")).toBe("flagged"); // again: still flagged
      expect(await broker.cancel("unknown")).toBe("unknown");
      expect(await broker.cancelRequested("w1")).toEqual(["w1-run"]);
      expect(await broker.cancelRequested("w2")).toEqual(["w2-run"]);
      expect(await broker.cancelRequested("w3")).toEqual([]);
      expect(await broker.counts(T0)).toEqual({ ready: 0, delayed: 0, claimed: 2 });
      await broker.ack("w1-run"); // its consumer stopped it
      expect(await broker.cancelRequested("w1")).toEqual([]);
      expect(await broker.cancel("w1-run")).toBe("unknown");
    });

    it("a retry of a run whose cancellation was requested removes it (cancel wins)", async () => {
      const broker = await withRuns(makeRun({ id: "doomed" }));
      await broker.claim({ max: 1, owner: "w", now: T0 });
      expect(await broker.cancel("doomed")).toBe("flagged");
      expect(await broker.retry("doomed", 2, T0)).toBe(false);
      expect(await broker.has("doomed")).toBe(false);
      expect(await broker.counts(T0)).toEqual({ ready: 0, delayed: 0, claimed: 0 });
    });

    it("recover gives back the runs of one owner, or of all, unchanged", async () => {
      const broker = await withRuns(
        makeRun({ id: "a1" }),
        makeRun({ id: "a2", priority: "high" }),
        makeRun({ id: "b1", task: "other" }),
        makeRun({ id: "a3-cancelled" }),
      );
      await broker.claim({ max: 2, owner: "dead", now: T0 });
      await broker.claim({ max: 1, owner: "alive", now: T0 });
      await broker.claim({ max: 1, owner: "dead", now: T0 });
      expect(await broker.cancel("a3-cancelled")).toBe("flagged");
      expect(await broker.recover("nobody")).toEqual([]);
      const recovered = await broker.recover("dead");
      expect(recovered).toEqual([makeRun({ id: "a2", priority: "high" }), makeRun({ id: "a1" })]);
      expect(await broker.has("a3-cancelled")).toBe(false); // its cancel won
      expect(await broker.counts(T0)).toEqual({ ready: 2, delayed: 0, claimed: 1 });
      expect(ids(await broker.claim({ max: 5, owner: "new", now: T0 }))).toEqual(["a2", "a1"]);
      expect(ids(await broker.recover())).toEqual(["a2", "a1", "b1"]);
      expect(await broker.counts(T0)).toEqual({ ready: 3, delayed: 0, claimed: 0 });
    });

    it("ignores an enqueue of an id already queued or claimed, and takes it again once acked", async () => {
      const broker = await withRuns(makeRun({ id: "once", params: { v: 1 } }));
      expect(await broker.enqueue(makeRun({ id: "once", params: { v: 2 }, priority: "high" }))).toBe(false);
      const [claimed] = await broker.claim({ max: 5, owner: "w", now: T0 });
      expect(claimed!.params).toEqual({ v: 1 });
      expect(await broker.enqueue(makeRun({ id: "once", params: { v: 3 } }))).toBe(false);
      await broker.ack("once");
      expect(await broker.enqueue(makeRun({ id: "once", params: { v: 4 } }))).toBe(true);
      expect((await broker.claim({ max: 5, owner: "w", now: T0 }))[0]!.params).toEqual({ v: 4 });
    });

    it("wakes onEnqueue listeners on enqueue, retry and recover, until unsubscribed", async () => {
      const broker = await make();
      const calls: string[] = [];
      const off = broker.onEnqueue(() => calls.push("one"));
      broker.onEnqueue(() => {
        throw new Error("a broken listener");
      });
      expect(await broker.enqueue(makeRun({ id: "r1" }))).toBe(true);
      expect(calls).toEqual(["one"]);
      await broker.enqueue(makeRun({ id: "r1" })); // a duplicate adds nothing: no wake-up
      expect(calls).toEqual(["one"]);
      await broker.claim({ max: 1, owner: "w", now: T0 });
      await broker.retry("r1", 2, T0 + 5);
      expect(calls).toEqual(["one", "one"]);
      await broker.claim({ max: 1, owner: "w", now: T0 + 5 });
      await broker.recover("w");
      expect(calls).toEqual(["one", "one", "one"]);
      off();
      await broker.enqueue(makeRun({ id: "r2" }));
      expect(calls).toHaveLength(3);
    });

    it("rejects a run it cannot queue, naming the field", async () => {
      const broker = await make();
      await expect(broker.enqueue(makeRun({ priority: "urgent" as never }))).rejects.toThrow(/priority is "urgent"/);
      await expect(broker.enqueue(makeRun({ runAfter: Number.NaN }))).rejects.toThrow(TypeError);
      expect(await broker.counts(T0)).toEqual({ ready: 0, delayed: 0, claimed: 0 });
    });

    it("rejects every call after close, and closes once", async () => {
      const broker = await make();
      await broker.close();
      await broker.close();
      await expect(broker.enqueue(makeRun())).rejects.toMatchObject({ code: "FLUID_BROKER_CLOSED" });
      await expect(broker.claim({ max: 1, owner: "w" })).rejects.toMatchObject({ code: "FLUID_BROKER_CLOSED" });
      await expect(broker.counts()).rejects.toMatchObject({ code: "FLUID_BROKER_CLOSED" });
    });
  });
}
