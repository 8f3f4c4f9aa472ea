/** A sleep that can be cancelled, so nothing is left on the timer list once the wait is moot. */
export interface Delay {
  promise: Promise<void>;
  cancel(): void;
}

/** Resolves after `ms`; `cancel()` clears the timer (the promise then never settles). */
export function delay(ms: number): Delay {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms));
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** Waits for `promise` at most `ms`; true when it settled in time. The timer is always cleared. */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const d = delay(ms);
  try {
    return await Promise.race([promise.then(() => true, () => true), d.promise.then(() => false)]);
  } finally {
    d.cancel();
  }
}
