import { describe, expect, it } from "vitest";
import { Heap } from "../../src/broker/heap.js";

interface Item {
  key: number;
  heapIndex: number;
}

describe("Heap", () => {
  it("pops in key order through pushes, removals and key changes (checked against a sort)", () => {
    const heap = new Heap<Item>((a, b) => a.key < b.key);
    const live = new Set<Item>();
    let state = 7;
    const rand = (n: number): number => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) % n);
    for (let i = 0; i < 5000; i++) {
      const op = rand(10);
      if (op < 5 || live.size === 0) {
        const item = { key: rand(1000), heapIndex: -1 };
        heap.push(item);
        live.add(item);
      } else if (op < 7) {
        const item = [...live][rand(live.size)]!;
        heap.remove(item);
        live.delete(item);
        expect(item.heapIndex).toBe(-1);
      } else if (op < 9) {
        const item = [...live][rand(live.size)]!;
        item.key = rand(1000);
        heap.update(item);
      } else {
        const min = Math.min(...[...live].map((x) => x.key));
        const popped = heap.pop()!;
        expect(popped.key).toBe(min);
        live.delete(popped);
      }
      expect(heap.size).toBe(live.size);
    }
    const rest: number[] = [];
    for (let item = heap.pop(); item !== undefined; item = heap.pop()) rest.push(item.key);
    expect(rest).toEqual([...live].map((x) => x.key).sort((a, b) => a - b));
    expect(heap.peek()).toBeUndefined();
  });
});
