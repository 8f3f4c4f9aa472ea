/** An element of a `Heap`: the heap keeps its position there (-1 when in no heap). */
export interface HeapItem {
  heapIndex: number;
}

/**
 * A binary min-heap that knows where each item is, so an item can be removed or re-sorted
 * after its key changed in O(log n), not only popped. An item is in at most one heap at a
 * time. `before(a, b)` is true when `a` must come out first.
 *
 * The one heap of the project: the memory broker keeps its queued runs in it, the scheduler
 * its schedules keyed by their next fire time (re-sifting the top in place after a fire,
 * `updateTop`, instead of pop + push, so the hot path allocates nothing).
 */
export class Heap<T extends HeapItem> {
  private readonly items: T[] = [];
  private readonly before: (a: T, b: T) => boolean;

  constructor(before: (a: T, b: T) => boolean) {
    this.before = before;
  }

  /** Number of items. */
  get size(): number {
    return this.items.length;
  }

  /** The first item, left in place. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** The items in no particular order (for counting; do not modify). */
  values(): readonly T[] {
    return this.items;
  }

  /** Adds an item. O(log n); O(1) when it sorts last, as a new run usually does. */
  push(item: T): void {
    item.heapIndex = this.items.length;
    this.items.push(item);
    this.up(item.heapIndex);
  }

  /** Removes and returns the first item. */
  pop(): T | undefined {
    const first = this.items[0];
    if (first !== undefined) this.remove(first);
    return first;
  }

  /** Removes an item that is in this heap. */
  remove(item: T): void {
    const at = item.heapIndex;
    const last = this.items.pop()!;
    item.heapIndex = -1;
    if (last === item) return;
    this.items[at] = last;
    last.heapIndex = at;
    this.fix(at);
  }

  /** Puts an item of this heap back in order after its key changed. */
  update(item: T): void {
    this.fix(item.heapIndex);
  }

  /** Puts the first item back in order after its key grew (the usual case after a fire). */
  updateTop(): void {
    if (this.items.length > 1) this.down(0);
  }

  /** Replaces the contents with `items` and orders them in O(n). Items left out leave the heap. */
  reset(items: readonly T[]): void {
    for (const item of this.items) item.heapIndex = -1;
    this.items.length = 0;
    for (const item of items) {
      item.heapIndex = this.items.length;
      this.items.push(item);
    }
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private fix(at: number): void {
    if (at > 0 && this.before(this.items[at]!, this.items[(at - 1) >> 1]!)) this.up(at);
    else this.down(at);
  }

  private up(at: number): void {
    const items = this.items;
    const item = items[at]!;
    while (at > 0) {
      const parentAt = (at - 1) >> 1;
      const parent = items[parentAt]!;
      if (!this.before(item, parent)) break;
      items[at] = parent;
      parent.heapIndex = at;
      at = parentAt;
    }
    items[at] = item;
    item.heapIndex = at;
  }

  private down(at: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[at]!;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= n) break;
      if (child + 1 < n && this.before(items[child + 1]!, items[child]!)) child++;
      if (!this.before(items[child]!, item)) break;
      items[at] = items[child]!;
      items[at]!.heapIndex = at;
      at = child;
    }
    items[at] = item;
    item.heapIndex = at;
  }
}
