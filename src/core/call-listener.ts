/**
 * Calls a listener fluid does not control (an `onEvent` or `onError` hook, a log sink, a run's
 * hook) and ignores what it throws: reporting something must never break the code that
 * reports it (a run, the pool, a timer, a stream handler). The one guard for every such call.
 */
export function callListener<A extends unknown[]>(listener: ((...args: A) => unknown) | undefined, ...args: A): void {
  if (listener === undefined) return;
  try {
    listener(...args);
  } catch {
    // See above: a listener's failure is its own; the caller goes on.
  }
}
