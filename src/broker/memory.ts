import type { Broker, BrokerCounts, ClaimOptions, QueuedRun } from "./broker.js";
import { BrokerClosedError } from "./broker-closed-error.js";
import { checkQueuedRun, checkRetry } from "./check-queued-run.js";
import { claimsBefore, priorityRank, type ClaimKey } from "./claim-order.js";
import { EnqueueListeners } from "./enqueue-listeners.js";
import { Heap, type HeapItem } from "../core/heap.js";

/** A run held by the memory broker: queued in its task's heap, or claimed. */
interface Entry extends HeapItem {
  run: QueuedRun;
  rank: number;
  seq: number;
  /** The task queue holding it while queued. */
  queue: TaskQueue | undefined;
  /** Set while claimed. */
  claim: { owner: string; cancelRequested: boolean } | undefined;
}

/** The queued runs of one task at one priority, in claim order. */
interface TaskQueue extends HeapItem {
  task: string;
  runs: Heap<Entry>;
}

/** The task queues of one priority, ordered by their first run. */
interface Level {
  tasks: Heap<TaskQueue>;
  byTask: Map<string, TaskQueue>;
}

const entryBefore = (a: Entry, b: Entry): boolean =>
  a.run.runAfter < b.run.runAfter || (a.run.runAfter === b.run.runAfter && a.seq < b.seq);
const queueBefore = (a: TaskQueue, b: TaskQueue): boolean => entryBefore(a.runs.peek()!, b.runs.peek()!);
const keyOf = (e: Entry): ClaimKey => ({ rank: e.rank, runAfter: e.run.runAfter, seq: e.seq });

/**
 * A broker in this process's memory, for library use and tests: nothing survives the process.
 *
 * Layout: for each priority, one heap per task of its queued runs ordered by (runAfter, seq),
 * and a heap of those task queues ordered by their first run. Delayed runs are not kept
 * apart: a heap ordered by runAfter already is the "delayed set", and a run becomes ready
 * without being moved; the first run of a priority is due iff its runAfter <= now.
 *
 * Costs (n queued runs, T tasks with queued runs, k runs claimed, s skipped tasks):
 * enqueue O(log n); claim O(k (log n + log T) + s log T), so a skipped task with 100,000
 * queued runs costs one heap pop and push per claim, not a scan of its runs; ack, has,
 * hasPending O(1); retry, cancel O(log n); nextDue O(1); cancelRequested and recover
 * O(claimed); counts O(n) (status lines only). Params are not copied: do not mutate them
 * after enqueue.
 */
export function createMemoryBroker(): Broker {
  return new MemoryBroker();
}

class MemoryBroker implements Broker {
  readonly kind = "memory" as const;
  readonly recordsRuns = false;
  private readonly levels: Level[] = [0, 1, 2].map(() => ({ tasks: new Heap<TaskQueue>(queueBefore), byTask: new Map() }));
  /** Every queued or claimed run by id. */
  private readonly entries = new Map<string, Entry>();
  private readonly claimed = new Map<string, Entry>();
  /** Queued + claimed runs per task, for hasPending. */
  private readonly pending = new Map<string, number>();
  private readonly listeners = new EnqueueListeners();
  private seq = 0;
  private closed = false;

  async enqueue(run: QueuedRun): Promise<boolean> {
    this.assertOpen();
    checkQueuedRun(run);
    if (this.entries.has(run.id)) return false;
    const entry: Entry = { run: { ...run }, rank: priorityRank(run.priority), seq: ++this.seq, queue: undefined, claim: undefined, heapIndex: -1 };
    this.entries.set(run.id, entry);
    this.pending.set(run.task, (this.pending.get(run.task) ?? 0) + 1);
    this.push(entry);
    this.listeners.notify();
    return true;
  }

  async claim(options: ClaimOptions): Promise<QueuedRun[]> {
    this.assertOpen();
    const { max, owner, skipTasks } = options;
    const now = options.now ?? Date.now();
    const claimed: QueuedRun[] = [];
    for (const level of this.levels) {
      if (claimed.length >= max) break;
      const skipped: TaskQueue[] = [];
      while (claimed.length < max) {
        const queue = level.tasks.peek();
        if (queue === undefined) break;
        const entry = queue.runs.peek()!;
        // The first run of the first task queue is the earliest of the level: none later is due.
        if (entry.run.runAfter > now) break;
        if (skipTasks?.has(queue.task)) {
          // Set the whole task aside (not run by run): its runs cost nothing to skip.
          level.tasks.pop();
          skipped.push(queue);
          continue;
        }
        queue.runs.pop();
        entry.queue = undefined;
        if (queue.runs.size === 0) {
          level.tasks.pop();
          level.byTask.delete(queue.task);
        } else {
          level.tasks.update(queue);
        }
        entry.claim = { owner, cancelRequested: false };
        this.claimed.set(entry.run.id, entry);
        claimed.push({ ...entry.run });
      }
      for (const queue of skipped) level.tasks.push(queue);
    }
    return claimed;
  }

  async ack(id: string): Promise<void> {
    this.assertOpen();
    const entry = this.claimed.get(id);
    if (entry !== undefined) this.forget(entry);
  }

  async retry(id: string, attempt: number, runAfter: number): Promise<boolean> {
    this.assertOpen();
    checkRetry(id, attempt, runAfter);
    const entry = this.claimed.get(id);
    if (entry === undefined) return false;
    if (entry.claim!.cancelRequested) {
      this.forget(entry);
      return false;
    }
    this.claimed.delete(id);
    entry.claim = undefined;
    entry.run.attempt = attempt;
    entry.run.runAfter = runAfter;
    this.push(entry);
    this.listeners.notify();
    return true;
  }

  async cancel(id: string): Promise<"removed" | "flagged" | "unknown"> {
    this.assertOpen();
    const entry = this.entries.get(id);
    if (entry === undefined) return "unknown";
    if (entry.claim !== undefined) {
      entry.claim.cancelRequested = true;
      return "flagged";
    }
    this.unqueue(entry);
    this.forget(entry);
    return "removed";
  }

  async cancelRequested(owner: string): Promise<string[]> {
    this.assertOpen();
    const ids: string[] = [];
    for (const [id, entry] of this.claimed) if (entry.claim!.owner === owner && entry.claim!.cancelRequested) ids.push(id);
    return ids;
  }

  async recover(owner?: string): Promise<QueuedRun[]> {
    this.assertOpen();
    const recovered: Entry[] = [];
    for (const entry of [...this.claimed.values()]) {
      const claim = entry.claim!;
      if (owner !== undefined && claim.owner !== owner) continue;
      if (claim.cancelRequested) {
        this.forget(entry);
        continue;
      }
      this.claimed.delete(entry.run.id);
      entry.claim = undefined;
      this.push(entry);
      recovered.push(entry);
    }
    if (recovered.length > 0) this.listeners.notify();
    return recovered.sort((a, b) => (claimsBefore(keyOf(a), keyOf(b)) ? -1 : 1)).map((e) => ({ ...e.run }));
  }

  async nextDue(): Promise<number | undefined> {
    this.assertOpen();
    let next: number | undefined;
    for (const level of this.levels) {
      const first = level.tasks.peek()?.runs.peek();
      if (first !== undefined && (next === undefined || first.run.runAfter < next)) next = first.run.runAfter;
    }
    return next;
  }

  async hasPending(task: string): Promise<boolean> {
    this.assertOpen();
    return this.pending.has(task);
  }

  async has(id: string): Promise<boolean> {
    this.assertOpen();
    return this.entries.has(id);
  }

  async counts(now = Date.now()): Promise<BrokerCounts> {
    this.assertOpen();
    let ready = 0;
    let delayed = 0;
    for (const level of this.levels) {
      for (const queue of level.tasks.values()) {
        for (const entry of queue.runs.values()) {
          if (entry.run.runAfter <= now) ready++;
          else delayed++;
        }
      }
    }
    return { ready, delayed, claimed: this.claimed.size };
  }

  onEnqueue(listener: () => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    for (const level of this.levels) level.byTask.clear();
    this.entries.clear();
    this.claimed.clear();
    this.pending.clear();
  }

  /** Puts an unclaimed entry in its task queue, creating the queue when needed. */
  private push(entry: Entry): void {
    const level = this.levels[entry.rank]!;
    let queue = level.byTask.get(entry.run.task);
    if (queue === undefined) {
      queue = { task: entry.run.task, runs: new Heap(entryBefore), heapIndex: -1 };
      level.byTask.set(queue.task, queue);
    }
    queue.runs.push(entry);
    entry.queue = queue;
    if (queue.heapIndex < 0) level.tasks.push(queue);
    else if (queue.runs.peek() === entry) level.tasks.update(queue);
  }

  /** Takes a queued entry out of its task queue. */
  private unqueue(entry: Entry): void {
    const queue = entry.queue!;
    const level = this.levels[entry.rank]!;
    const wasFirst = queue.runs.peek() === entry;
    queue.runs.remove(entry);
    entry.queue = undefined;
    if (queue.runs.size === 0) {
      level.tasks.remove(queue);
      level.byTask.delete(queue.task);
    } else if (wasFirst) {
      level.tasks.update(queue);
    }
  }

  /** Drops an entry that is no longer queued from every index. */
  private forget(entry: Entry): void {
    const { id, task } = entry.run;
    this.entries.delete(id);
    this.claimed.delete(id);
    const left = this.pending.get(task)! - 1;
    if (left === 0) this.pending.delete(task);
    else this.pending.set(task, left);
  }

  private assertOpen(): void {
    if (this.closed) throw new BrokerClosedError(this.kind);
  }
}
