import { describe, expect, it } from "vitest";
import { createMemoryBroker } from "../../src/broker/memory.js";
import { describeBrokerContract, makeRun, T0 } from "./broker-contract.js";

describeBrokerContract("memory", () => createMemoryBroker());

describe("memory broker", () => {
  it("keeps claim order through many enqueues, retries and cancels (checked against a sort)", async () => {
    const broker = createMemoryBroker();
    const expected = new Map<string, { rank: number; runAfter: number; seq: number }>();
    const ranks = { high: 0, medium: 1, low: 2 } as const;
    let seq = 0;
    // A fixed pseudo-random sequence, so a failure reproduces.
    let state = 42;
    const rand = (n: number): number => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) % n);
    for (let i = 0; i < 2000; i++) {
      const priority = (["high", "medium", "low"] as const)[rand(3)]!;
      const run = makeRun({ id: `r${i}`, task: `t${rand(7)}`, priority, runAfter: T0 + rand(50) });
      await broker.enqueue(run);
      expected.set(run.id, { rank: ranks[priority], runAfter: run.runAfter, seq: seq++ });
      if (rand(10) === 0) {
        const victim = `r${rand(i + 1)}`;
        if ((await broker.cancel(victim)) === "removed") expected.delete(victim);
      }
    }
    const order = [...expected.entries()]
      .sort(([, a], [, b]) => a.rank - b.rank || a.runAfter - b.runAfter || a.seq - b.seq)
      .map(([id]) => id);
    const claimed: string[] = [];
    for (;;) {
      const runs = await broker.claim({ max: 1 + rand(40), owner: "w", now: T0 + 100 });
      if (runs.length === 0) break;
      claimed.push(...runs.map((r) => r.id));
    }
    expect(claimed).toEqual(order);
    await broker.close();
  });
});
