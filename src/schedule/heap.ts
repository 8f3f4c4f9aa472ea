/**
 * A binary min-heap over an array, ordered by `less`. The scheduler keeps one entry per
 * schedule in it, keyed by the next fire time, and re-sifts the top in place after a fire
 * (`updateTop`) instead of pop + push, so the hot path allocates nothing.
 */
export class MinHeap<T> {
  private readonly items: T[] = [];

  /** `less(a, b)`: true when `a` must come out before `b`. */
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  /** Number of items. */
  get size(): number {
    return this.items.length;
  }

  /** The smallest item, or undefined when empty. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** Adds an item. */
  push(item: T): void {
    this.items.push(item);
    this.siftUp(this.items.length - 1);
  }

  /** Removes and returns the smallest item. */
  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** Restores the order after the key of the top item grew (the usual case after a fire). */
  updateTop(): void {
    if (this.items.length > 1) this.siftDown(0);
  }

  /** Replaces the contents with `items` and orders them in O(n). */
  reset(items: readonly T[]): void {
    this.items.length = 0;
    this.items.push(...items);
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  /** The items in heap (not sorted) order; a copy. */
  toArray(): T[] {
    return [...this.items];
  }

  private siftUp(index: number): void {
    const items = this.items;
    const item = items[index]!;
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!this.less(item, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = item;
  }

  private siftDown(index: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[index]!;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && this.less(items[right]!, items[left]!)) child = right;
      if (!this.less(items[child]!, item)) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = item;
  }
}
