/** One delivery: a notifier sending one alert or ping. */
export interface AlertJob<K extends string = string> {
  /** Which notifier (for counts and the failure line). */
  notifier: K;
  /** Jobs of one lane go out one after another, in order (a task's dead-man's-switch pings). */
  lane?: string;
  /** Sends; rejects when the delivery failed for good. Must stop soon once `signal` aborts. */
  send(signal: AbortSignal): Promise<void>;
}

/** Options of `createAlertQueue`. */
export interface AlertQueueOptions<K extends string> {
  /** Deliveries at once. */
  concurrency: number;
  /** Jobs waiting at most; a job beyond it is dropped (and counted). */
  maxQueued: number;
  /** Called once per job as it ends: without an error when it was delivered. */
  onDone(job: AlertJob<K>, error?: Error): void;
}

/** A bounded queue of deliveries that runs them in the background. */
export interface AlertQueue<K extends string> {
  /** Adds a job; false when the queue is full or closed (the job is dropped). */
  push(job: AlertJob<K>): boolean;
  /** Jobs waiting, jobs being delivered. */
  size(): { queued: number; inFlight: number };
  /**
   * Takes no more jobs and waits up to `timeoutMs` for the queued and running ones; then aborts
   * those still running and drops those still waiting (returned as `abandoned`).
   */
  close(timeoutMs: number): Promise<{ abandoned: number }>;
}

/** Creates a queue of deliveries that never blocks its caller: `push` returns at once. */
export function createAlertQueue<K extends string>(options: AlertQueueOptions<K>): AlertQueue<K> {
  const waiting: Array<AlertJob<K>> = [];
  const busyLanes = new Set<string>();
  const running = new Set<Promise<void>>();
  const stop = new AbortController();
  let closed = false;
  let idle: (() => void) | undefined;

  const next = (): void => {
    while (running.size < options.concurrency && !stop.signal.aborted) {
      const index = waiting.findIndex((j) => j.lane === undefined || !busyLanes.has(j.lane));
      if (index < 0) break;
      const job = waiting.splice(index, 1)[0]!;
      if (job.lane !== undefined) busyLanes.add(job.lane);
      const p: Promise<void> = job.send(stop.signal).then(
        () => options.onDone(job),
        (error: unknown) => options.onDone(job, error instanceof Error ? error : new Error(String(error))),
      ).catch(() => {}).finally(() => {
        running.delete(p);
        if (job.lane !== undefined) busyLanes.delete(job.lane);
        next();
      });
      running.add(p);
    }
    if (running.size === 0 && waiting.length === 0) idle?.();
  };

  return {
    push(job) {
      if (closed || waiting.length >= options.maxQueued) return false;
      waiting.push(job);
      next();
      return true;
    },
    size: () => ({ queued: waiting.length, inFlight: running.size }),
    async close(timeoutMs) {
      closed = true;
      if (running.size > 0 || waiting.length > 0) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          idle = resolve;
          timer = setTimeout(resolve, timeoutMs);
        });
        clearTimeout(timer);
      }
      const abandoned = waiting.splice(0).length;
      stop.abort(new Error("not delivered before fluid stopped waiting (shutdown or exit)"));
      await Promise.all([...running]);
      return { abandoned };
    },
  };
}
