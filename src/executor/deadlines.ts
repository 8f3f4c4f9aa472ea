/** Something with a time limit: `expire()` is called once it passed. */
export interface Expiring {
  /** The limit, ms (the list it goes in). */
  readonly timeoutMs: number;
  expire(): void;
}

/** One entry of `deadlines`. */
export interface Deadline {
  at: number;
  target: Expiring;
}

interface DeadlineList {
  entries: Set<Deadline>;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The time limits of pending attempts (inline and in the pool), one list per limit: attempts
 * with the same limit (most share the default) expire in the order they started, so each list
 * needs one timer, armed for its oldest entry, instead of a timer per attempt (a timer set and
 * cleared per run cost a short run a few microseconds). The timer is cleared when its list
 * empties; a pending limit keeps the process alive, as a timer of its own would.
 */
export const deadlines = {
  lists: new Map<number, DeadlineList>(),

  /** Adds a limit of `target.timeoutMs` from now; `expire()` is called when it passes, unless removed first. */
  add(target: Expiring): Deadline {
    const ms = target.timeoutMs;
    const entry: Deadline = { at: performance.now() + ms, target };
    let list = this.lists.get(ms);
    if (!list) {
      list = { entries: new Set(), timer: undefined };
      this.lists.set(ms, list);
    }
    list.entries.add(entry);
    if (list.timer === undefined) this.arm(ms, list, ms);
    return entry;
  },

  /** Removes a limit (the attempt ended first); a no-op for one that expired or was removed. */
  remove(entry: Deadline): void {
    const ms = entry.target.timeoutMs;
    const list = this.lists.get(ms);
    if (!list || !list.entries.delete(entry) || list.entries.size > 0) return;
    clearTimeout(list.timer);
    this.lists.delete(ms);
  },

  arm(ms: number, list: DeadlineList, wait: number): void {
    list.timer = setTimeout(() => {
      list.timer = undefined;
      const now = performance.now();
      for (const entry of list.entries) {
        if (entry.at > now) return this.arm(ms, list, Math.max(1, Math.ceil(entry.at - now)));
        list.entries.delete(entry);
        entry.target.expire();
      }
      if (list.entries.size === 0 && this.lists.get(ms) === list) this.lists.delete(ms);
    }, wait);
  },
};
