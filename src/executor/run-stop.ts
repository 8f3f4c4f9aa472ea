/** A listener of an outside stop: a function, or an object with `handleEvent` (as EventTarget takes). */
export type StopListener = (() => void) | { handleEvent(): void };

/**
 * What an attempt needs of an outside stop (cancel, shutdown). An AbortSignal is one; so is
 * `RunStop`, the consumer's cheaper stop.
 */
export interface OutsideStop {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: "abort", listener: StopListener, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: StopListener): void;
}

/**
 * A stop from outside of one run (cancel, shutdown) that costs nothing until it is used: no
 * EventTarget (adding and removing a listener on an AbortSignal cost a pool run several
 * microseconds), and an AbortSignal only when one is asked for (`signal`). Its listeners are
 * called once, at the abort, in the order they were added.
 */
export class RunStop implements OutsideStop {
  aborted = false;
  reason: unknown = undefined;
  private listeners: StopListener[] | undefined;
  private controller: AbortController | undefined;

  /** Stops the run (once; later calls do nothing). */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    for (const listener of listeners ?? []) {
      if (typeof listener === "function") listener();
      else listener.handleEvent();
    }
    this.controller?.abort(reason);
  }

  addEventListener(_type: "abort", listener: StopListener): void {
    if (this.aborted) return;
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: "abort", listener: StopListener): void {
    const at = this.listeners?.indexOf(listener) ?? -1;
    if (at >= 0) this.listeners!.splice(at, 1);
  }

  /** An AbortSignal that follows this stop. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }
}
