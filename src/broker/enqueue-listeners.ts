import { callListener } from "../core/call-listener.js";

/**
 * The `onEnqueue` listeners of one broker. A listener is a consumer's wake-up call; one that
 * throws must not break the enqueue that notified it, so its error is ignored.
 */
export class EnqueueListeners {
  private readonly listeners = new Set<() => void>();

  /** Adds a listener; returns the function that removes it. */
  add(listener: () => void): () => void {
    // A wrapper, so the same function added twice is called twice and removed once per unsubscribe.
    const entry = (): void => listener();
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** Calls every listener. */
  notify(): void {
    for (const listener of this.listeners) callListener(listener);
  }

  /** Removes every listener (on close). */
  clear(): void {
    this.listeners.clear();
  }
}
