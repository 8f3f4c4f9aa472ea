import { describe, expect, it } from "vitest";
import { Heap } from "../../src/core/heap.js";

interface Item {
  key: number;
  /** Tie-break, as the scheduler's entry order and the broker's sequence number. */
  id: number;
  heapIndex: number;
}

const before = (a: Item, b: Item): boolean => a.key < b.key || (a.key === b.key && a.id < b.id);
const byOrder = (a: Item, b: Item): number => a.key - b.key || a.id - b.id;

/** A seeded random source (mulberry32), so a failure replays: an integer in [0, n). */
function seeded(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4_294_967_296) * n);
  };
}

/** The heap's inner invariants: every item knows its place, and no child comes before its parent. */
function checkShape(heap: Heap<Item>): void {
  const items = heap.values();
  items.forEach((item, i) => {
    expect(item.heapIndex).toBe(i);
    if (i > 0) expect(before(item, items[(i - 1) >> 1]!)).toBe(false);
  });
}

describe("Heap", () => {
  it("matches a sorted array over random pushes, pops, removals, key changes, top updates and resets", () => {
    for (const seed of [1, 7, 2026]) {
      const rand = seeded(seed);
      const heap = new Heap<Item>(before);
      // The model: the live items, sorted on demand.
      let model: Item[] = [];
      let nextId = 0;
      // A small key range makes ties common, as many schedules due at one instant.
      const newItem = (): Item => ({ key: rand(50), id: nextId++, heapIndex: -1 });
      for (let step = 0; step < 2000; step++) {
        // Phases that grow and shrink the heap, so small sizes (0, 1, 2 items) come up often.
        const pushShare = Math.floor(step / 100) % 2 === 0 ? 55 : 5;
        const op = rand(100) < pushShare || model.length === 0 ? -1 : rand(100);
        if (op < 0) {
          const item = newItem();
          heap.push(item);
          model.push(item);
        } else if (op < 25) {
          model.sort(byOrder);
          const popped = heap.pop();
          expect(popped).toBe(model.shift());
          expect(popped!.heapIndex).toBe(-1);
        } else if (op < 45) {
          const item = model[rand(model.length)]!;
          heap.remove(item);
          model = model.filter((x) => x !== item);
          expect(item.heapIndex).toBe(-1);
        } else if (op < 70) {
          const item = model[rand(model.length)]!;
          item.key = rand(50);
          heap.update(item);
        } else if (op < 95) {
          // The scheduler's hot path: the first item's key grows, re-sift in place.
          const top = heap.peek()!;
          top.key += rand(20);
          heap.updateTop();
        } else {
          // A reset keeps some items, drops others (out of the heap), adds new ones.
          const kept = model.filter(() => rand(2) === 0);
          const dropped = model.filter((x) => !kept.includes(x));
          const added = Array.from({ length: rand(10) }, newItem);
          model = [...kept, ...added];
          heap.reset(model);
          for (const x of dropped) expect(x.heapIndex).toBe(-1);
        }
        expect(heap.size).toBe(model.length);
        expect(heap.peek()).toBe(model.reduce<Item | undefined>((min, x) => (min === undefined || before(x, min) ? x : min), undefined));
        if (step % 100 === 0) checkShape(heap);
      }
      checkShape(heap);
      const rest: Item[] = [];
      for (let item = heap.pop(); item !== undefined; item = heap.pop()) rest.push(item);
      expect(rest).toEqual(model.sort(byOrder));
      expect(heap.size).toBe(0);
      expect(heap.peek()).toBeUndefined();
    }
  });

  it("pops in order and re-sifts an updated top", () => {
    const heap = new Heap<{ k: number; heapIndex: number }>((a, b) => a.k < b.k);
    const items = [5, 3, 9, 1, 7, 3, 8].map((k) => ({ k, heapIndex: -1 }));
    heap.reset(items.slice(0, 3));
    for (const item of items.slice(3)) heap.push(item);
    heap.peek()!.k = 6; // 1 -> 6
    heap.updateTop();
    const out: number[] = [];
    while (heap.size > 0) out.push(heap.pop()!.k);
    expect(out).toEqual([3, 3, 5, 6, 7, 8, 9]);
    expect(heap.pop()).toBeUndefined();
  });
});
