import { randomUUID } from "node:crypto";
import { UnrecoverableError, type Job, type JobsOptions, type MinimalJob, type Queue, type QueueEventsProducer, type Worker } from "bullmq";
import type { AckOutcome, Broker, BrokerCounts, ClaimOptions, QueuedRun } from "./broker.js";
import { BrokerClosedError } from "./broker-closed-error.js";
import { EnqueueListeners } from "./enqueue-listeners.js";
import type { RunRecord } from "../core/run-record.js";
import type { Priority } from "../core/types.js";
import { BackendError } from "../fleet/backend-error.js";
import type { BackendTarget } from "../fleet/backend-url.js";
import { openFleetConnection, QUEUE_NAME } from "../fleet/connection.js";
import { openPendingIndex } from "../fleet/pending-index.js";
import { jobIdOf, runIdOf } from "../fleet/slot-run-id.js";

/** Options of `openBullmqBroker`. */
export interface BullmqBrokerOptions {
  /** The backend (see `parseBackendUrl`); run `checkBackend` on it first. */
  target: BackendTarget;
  /** Name of the BullMQ queue. Default "fluid" (one queue for every task; the job name is the task name). */
  queueName?: string;
  /** Most attempts of a task's runs (its `retry.attempts`), stored as the job's `attempts`. Default: the record's `maxAttempts`, else 1. */
  maxAttempts?: (task: string) => number;
  /**
   * How long a claim holds a run without renewing, ms (BullMQ's `lockDuration`). The broker renews
   * its claims every half of it; a daemon that died loses its runs to another daemon's stall check
   * after at most this, plus `stalledIntervalMs`. Default 30000.
   */
  lockDurationMs?: number;
  /** How often this daemon looks for runs whose claim expired (BullMQ's `stalledInterval`), ms. Default 30000. */
  stalledIntervalMs?: number;
  /** How long finished jobs stay in the backend (BullMQ `removeOnComplete` / `removeOnFail` by age), seconds. Default 86400 (a day): a schedule slot's deterministic id stays taken that long. */
  keepFinishedSeconds?: number;
  /** A claimed run of a task in `skipTasks` is put back delayed by this long, ms. Default 250. */
  skipDelayMs?: number;
  /**
   * An ack also fetches the next ready run in the same round trip (BullMQ's `fetchNext`, as its
   * own Worker does), kept claimed for the consumer's next `claim`; `close` gives it back. Halves
   * the round trips per run. Default true.
   */
  prefetch?: boolean;
  /**
   * Listen for cancellations of runs this broker claimed, published by any process's `cancel`
   * (a custom event on the queue's event stream; one more connection). Default true.
   */
  cancelEvents?: boolean;
  /**
   * Told once when the backend becomes unreachable (Redis: the connection dropped; either backend:
   * a claim failed) and once when it is back (Redis: reconnected; either: a claim succeeded), not
   * at every failed reconnect or poll. Meanwhile Redis commands wait for the reconnect (ioredis
   * backoff) and claims on PostgreSQL fail; after a failed claim the next is tried 200 ms later,
   * then twice as late each time up to 2 s (earlier claims return nothing). Default: nothing is told.
   */
  onBackendStatus?: (status: BackendStatus) => void;
}

/** The backend went away or came back (see `BullmqBrokerOptions.onBackendStatus`). */
export interface BackendStatus {
  state: "down" | "up";
  /** One line for the log: what failed (down), or how long it was down (up). */
  message: string;
  /** How long the outage lasted, ms ("up" only). */
  downMs?: number;
}

/** The custom queue event `cancel` publishes for a run active on some daemon. */
export const CANCEL_EVENT = "fluid:cancel";

/** Fluid's fields of a job, kept in the job's options (`opts.fluid`), beside its name (task) and data (params). */
interface FluidJobFields {
  trigger: QueuedRun["trigger"];
  queuedAt: number;
  fromRunId?: string;
  rootRunId?: string;
  scheduledAt?: number;
  /** Tells this enqueue's job from one already there under the same id. */
  nonce: string;
}

type FluidJob = Job<Record<string, unknown>, unknown, string>;

/** The error a run that did not succeed ends its job with: `<state>: <message>`, never retried by BullMQ. */
function failedError(outcome: AckOutcome): Error {
  return new UnrecoverableError(outcome.error ? `${outcome.state}: ${outcome.error.message}` : outcome.state);
}

/** A successful job's return value: the run's result when it has one, else `{ state }`; null when the outcome is not known. */
function completedValue(outcome: AckOutcome | undefined): unknown {
  if (!outcome) return null;
  if (outcome.result === undefined) return { state: outcome.state };
  try {
    // BullMQ stores it as JSON: a result JSON cannot hold (a BigInt, a cycle) is left out, not a failed ack.
    JSON.stringify(outcome.result);
    return outcome.result;
  } catch {
    return { state: outcome.state };
  }
}

/** BullMQ priorities: jobs without one go first, then lower numbers. */
const PRIORITY: Record<Priority, number> = { high: 0, medium: 1, low: 2 };
const PENDING = new Set(["waiting", "prioritized", "delayed", "waiting-children", "active"]);
/**
 * The attempt a claimed job runs as: BullMQ's attempts made (fluid's retries) plus one, plus its
 * stalls: a run whose daemon died (its claim expired, BullMQ gave it back) runs again as the next
 * attempt, so the run history keeps the dead daemon's attempt (`interrupted`) apart from the new one.
 */
function attemptOf(job: FluidJob): number {
  return job.attemptsMade + 1 + (job.stalledCounter ?? 0);
}

/** After a failed claim the next is tried this long later, doubled each time up to MAX_CLAIM_BACKOFF_MS. */
const CLAIM_BACKOFF_MS = 100;
const MAX_CLAIM_BACKOFF_MS = 2000;
/** A claim that finds only runs of skipped tasks stops after putting back this many. */
const MAX_SKIPPED_PER_CLAIM = 100;
/** Most fetches a claim sends at once; a wave that found a run for every fetch doubles the next, up to this. */
const MAX_WAVE = 64;
/** A claim this soon after an ack that found no next run skips its fetches (see `claimRuns`), ms. */
const RECENT_EMPTY_MS = 20;
/** Longest a claim waits for the acks under way (see `claimRuns`), ms. */
const ACK_WAIT_MS = 1000;

/**
 * A Broker on a BullMQ 6 queue in Redis or PostgreSQL, shared by every daemon of a fleet. Pull-style:
 * a Worker without a processor fetches jobs (`getNextJob`) under a lock token per run, renews their
 * locks, and moves them to completed, failed (a retry) or delayed when fluid's consumer says so. The
 * job's name is the task, its data the validated params, its id the run id.
 */
export async function openBullmqBroker(options: BullmqBrokerOptions): Promise<Broker> {
  /** When the current outage began (see `onBackendStatus`); undefined while the backend is up. */
  let downSince: number | undefined;
  let opened = false;
  /** Claims that failed in a row, and when the next may be tried (backoff while the backend is down). */
  let failedClaims = 0;
  let retryAt = 0;
  const markDown = (message: string): void => {
    if (!opened || closed || downSince !== undefined) return;
    downSince = Date.now();
    options.onBackendStatus?.({ state: "down", message: `backend ${options.target.display} unreachable (${message}); reconnecting with backoff, runs in progress go on` });
  };
  const markUp = (): void => {
    if (!opened || closed || downSince === undefined) return;
    const downMs = Date.now() - downSince;
    downSince = undefined;
    options.onBackendStatus?.({ state: "up", message: `backend ${options.target.display} reachable again after ${(downMs / 1000).toFixed(1)} s`, downMs });
  };
  const connection = openFleetConnection(options.target, options.queueName ?? QUEUE_NAME, { down: markDown, up: markUp });
  const lockDuration = options.lockDurationMs ?? 30_000;
  const keepSeconds = options.keepFinishedSeconds ?? 86_400;
  const skipDelayMs = options.skipDelayMs ?? 250;
  let closed = false;
  /** Retry delays the consumer chose, read by the Worker's backoff strategy in `moveToFailed`. */
  const retryDelays = new Map<string, number>();
  const queueName = options.queueName ?? QUEUE_NAME;
  const queue: Queue = connection.queue();
  const pending = openPendingIndex(options.target, queue, queueName, connection.redis);
  const worker: Worker = connection.worker({
    autorun: false, lockDuration, stalledInterval: options.stalledIntervalMs ?? 30_000,
    settings: { backoffStrategy: (_attemptsMade: number, _type?: string, _error?: Error, job?: MinimalJob) => retryDelays.get(runIdOf(job?.id ?? "")) ?? 0 },
  });
  // Errors surface on the calls; an unhandled 'error' event would crash the daemon.
  queue.on("error", () => {});
  worker.on("error", () => {});
  try {
    await queue.waitUntilReady();
    await worker.waitUntilReady();
    await worker.startStalledCheckTimer();
  } catch (error) {
    await Promise.allSettled([worker.close(), queue.close()]);
    await connection.close();
    throw new BackendError(`cannot open the BullMQ queue on ${options.target.display}: ${(error as Error).message}`, { cause: error });
  }

  // Cancellations published by other processes for runs claimed here (see `cancel`).
  const events = (options.cancelEvents ?? true) ? connection.events() : undefined;
  if (events) {
    events.on("error", () => {});
    events.on(CANCEL_EVENT as "error", ((args: { runId?: string }) => {
      if (args.runId !== undefined && claimed.has(args.runId)) cancelled.add(args.runId);
    }) as never);
    try {
      await events.waitUntilReady();
    } catch {
      // Without it only this process's cancels reach its runs; the rest still works.
    }
  }
  let producer: QueueEventsProducer | undefined;
  const listeners = new EnqueueListeners();
  /** Runs this broker claimed and has not finished: the job and its lock token. */
  const claimed = new Map<string, { job: FluidJob; token: string }>();
  const cancelled = new Set<string>();
  /** Runs an ack fetched (see `prefetch`): claimed in BullMQ, handed out by the next `claim`. */
  const prefetched: Array<{ job: FluidJob; token: string }> = [];
  const prefetch = options.prefetch ?? true;
  const pendingAcks = new Set<NodeJS.Timeout>();
  opened = true;
  /**
   * What the last claim learnt of when a run is due, so `nextDue` (asked after every claim) costs
   * no round trip: "ready" (it took all it could: more may be ready), an epoch ms (the next delayed
   * run, from BullMQ's fetch), none (nothing queued), or "unknown" since an enqueue, retry or
   * cancel through this broker (then it asks the backend). Other daemons' enqueues are seen by the
   * consumer's next claim.
   */
  let due: "ready" | "unknown" | number | undefined = "unknown";
  const blockUntil = (): number => (worker as unknown as { blockUntil?: number }).blockUntil ?? 0;
  const open = (): void => {
    if (closed) throw new BrokerClosedError("bullmq");
  };
  const renew = setInterval(() => {
    const entries = [...claimed.values(), ...prefetched];
    if (entries.length === 0) return;
    worker.extendJobLocks(entries.map((c) => c.job.id!), entries.map((c) => c.token), lockDuration).catch(() => {});
  }, lockDuration / 2);
  renew.unref();

  const toRun = (job: FluidJob): QueuedRun => {
    const f = (job.opts as { fluid?: Partial<FluidJobFields> }).fluid ?? {};
    const priority = (Object.keys(PRIORITY) as Priority[]).find((p) => PRIORITY[p] === (job.opts.priority ?? 0)) ?? "medium";
    return {
      id: runIdOf(job.id!), task: job.name, params: job.data ?? {}, priority, attempt: attemptOf(job),
      trigger: f.trigger ?? "queue", runAfter: job.timestamp + (job.delay ?? 0), queuedAt: f.queuedAt ?? job.timestamp,
      ...(f.fromRunId ? { fromRunId: f.fromRunId } : {}),
      ...(f.rootRunId ? { rootRunId: f.rootRunId } : {}),
      ...(f.scheduledAt !== undefined ? { scheduledAt: f.scheduledAt } : {}),
    };
  };

  /** Finishes a claimed job, retrying with backoff while the backend cannot be reached (a known outcome must not run again). */
  const settle = async (id: string, step: (job: FluidJob, token: string) => Promise<unknown>, delayMs = 100): Promise<void> => {
    const entry = claimed.get(id);
    if (!entry) return;
    try {
      await step(entry.job, entry.token);
      claimed.delete(id);
      cancelled.delete(id);
    } catch (error) {
      // The lock is gone (the claim expired and another daemon took the run): nothing left to do here.
      if (closed || /lock|not in the active state|Missing/i.test((error as Error).message)) {
        claimed.delete(id);
        cancelled.delete(id);
        return;
      }
      const timer = setTimeout(() => {
        pendingAcks.delete(timer);
        void settle(id, step, Math.min(delayMs * 2, 5000));
      }, delayMs);
      pendingAcks.add(timer);
    }
  };

  const jobState = async (id: string): Promise<string | undefined> => {
    const job = await queue.getJob(jobIdOf(id));
    return job ? await job.getState() : undefined;
  };

  /** How many fetches the next wave of a claim sends at once (see `claimRuns`). */
  let waveSize = 1;
  /** When an ack's fetch of the next run (prefetch) last found none; 0 since an enqueue or a claim. */
  let emptyAckAt = 0;
  /** Acks under way (see `claimRuns`). */
  const acks = new Set<Promise<void>>();
  /** Fetches up to `o.max` ready jobs (see `Broker.claim`). */
  const claimRuns = async (o: ClaimOptions): Promise<QueuedRun[]> => {
    // The consumer claims as soon as a run ends, before that run's ack is through: the ack fetches
    // the next ready run in its own round trip (prefetch), so wait for it rather than race it with
    // a fetch of our own (a round trip for nothing, and on PostgreSQL two queries).
    // Only while the queue looks drained (the last fetch found nothing): with runs ready, both
    // fetches find one, and waiting would only hold the claim for the slowest ack. At most
    // ACK_WAIT_MS: an ack held up (a backend that went away) must not hold up claims.
    if (acks.size > 0 && due !== "ready") {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...acks]), new Promise((resolve) => (timer = setTimeout(resolve, ACK_WAIT_MS)))]);
      clearTimeout(timer);
    }
    const runs: QueuedRun[] = [];
    let skipped = 0;
    const take = ({ job, token }: { job: FluidJob; token: string }): void => {
      if (o.skipTasks?.has(job.name)) {
        // One queue for every task: a run of a disabled or full task goes back for a while.
        skipped++;
        void job.moveToDelayed(Date.now() + skipDelayMs, token).catch(() => {});
        return;
      }
      claimed.set(runIdOf(job.id!), { job, token });
      // A job another BullMQ producer added is not in the pending index yet: while it runs, it is.
      if (!(job.opts as { fluid?: unknown }).fluid) pending.claimed(job.name, job.id!);
      runs.push(toRun(job));
    };
    while (runs.length < o.max && prefetched.length > 0) take(prefetched.shift()!);
    // An ack just now looked for the next ready run and found none: the claim that follows a run's
    // end would only repeat that look. Skipped once; the next poll looks again.
    if (Date.now() - emptyAckAt < RECENT_EMPTY_MS) {
      emptyAckAt = 0;
      return runs;
    }
    while (runs.length < o.max && !closed) {
      // The fetches of a wave run at once (one round trip each, pipelined), not one after another.
      // A wave is as large as what the last ones found: an idle daemon's poll is one fetch, not
      // one per free slot (50 scripts or queries every 100 ms per daemon for nothing).
      const wave = Math.min(o.max - runs.length, waveSize);
      let next: number | undefined;
      const fetched = await Promise.all(Array.from({ length: wave }, async () => {
        const token = `${o.owner}:${randomUUID()}`;
        const job = (await worker.getNextJob(token, { block: false })) as FluidJob | undefined;
        // A fetch that found nothing ready says when the next delayed job is due (0: none).
        if (!job) next = blockUntil() || undefined;
        return job ? { job, token } : undefined;
      }));
      due = fetched.every(Boolean) ? "ready" : next;
      const found = fetched.filter(Boolean).length;
      waveSize = found === wave ? Math.min(waveSize * 2, MAX_WAVE) : Math.max(1, found);
      let empty = false;
      for (const entry of fetched) {
        if (!entry) {
          empty = true;
          continue;
        }
        take(entry);
      }
      if (empty || skipped >= MAX_SKIPPED_PER_CLAIM) break;
    }
    // The next due time learnt after putting runs back is likely theirs: waking exactly then, this
    // daemon would race the daemons that serve them for them and put them back again. Poll at the
    // usual interval instead (the cost of routing by skipping: docs/fleet.md, Routing).
    if (skipped > 0 && typeof due === "number") due = undefined;
    // Fetched at once, so not quite in queue order: put them back in it (priority, then due, then queued).
    runs.sort((a, b) => PRIORITY[a.priority] - PRIORITY[b.priority] || a.runAfter - b.runAfter || a.queuedAt - b.queuedAt);
    return runs;
  };

  return {
    kind: "bullmq",
    recordsRuns: false,
    async enqueue(run: QueuedRun, record?: RunRecord): Promise<boolean> {
      open();
      const attempts = Math.max(1, options.maxAttempts?.(run.task) ?? record?.maxAttempts ?? 1);
      const nonce = randomUUID();
      const fluid: FluidJobFields = {
        trigger: run.trigger, queuedAt: run.queuedAt, nonce,
        ...(run.fromRunId ? { fromRunId: run.fromRunId } : {}),
        ...(run.rootRunId ? { rootRunId: run.rootRunId } : {}),
        ...(run.scheduledAt !== undefined ? { scheduledAt: run.scheduledAt } : {}),
      };
      const opts: JobsOptions & { fluid: FluidJobFields } = {
        jobId: jobIdOf(run.id), attempts, delay: Math.max(0, run.runAfter - Date.now()), fluid,
        removeOnComplete: { age: keepSeconds }, removeOnFail: { age: keepSeconds },
        ...(PRIORITY[run.priority] > 0 ? { priority: PRIORITY[run.priority] } : {}),
        ...(attempts > 1 ? { backoff: { type: "fluid" } } : {}),
      };
      // Indexed first (on Redis the index's command goes out before the add's, on the same
      // connection: no round trip of its own): a fire's overlap check must not miss a run being added.
      await Promise.all([pending.adding(run.task, opts.jobId!), queue.add(run.task, run.params, opts)]);
      pending.added(run.task, opts.jobId!);
      // BullMQ returns the existing job for a taken id without saying so: ours carries our nonce.
      const stored = await queue.getJob(jobIdOf(run.id));
      const added = !stored || (stored.opts as { fluid?: FluidJobFields }).fluid?.nonce === nonce;
      if (added) {
        emptyAckAt = 0;
        due = "unknown";
        listeners.notify();
      }
      return added;
    },
    async claim(o: ClaimOptions): Promise<QueuedRun[]> {
      open();
      // Backing off after failed claims: none is tried before `retryAt` (the consumer polls every 100 ms).
      if (downSince !== undefined && Date.now() < retryAt) return [];
      try {
        const runs = await claimRuns(o);
        failedClaims = 0;
        retryAt = 0;
        markUp();
        return runs;
      } catch (error) {
        // A claim that fails is the backend going away (PostgreSQL; Redis commands wait instead).
        failedClaims++;
        retryAt = Date.now() + Math.min(CLAIM_BACKOFF_MS * 2 ** failedClaims, MAX_CLAIM_BACKOFF_MS);
        markDown((error as Error).message);
        throw error;
      }
    },
    async ack(id: string, outcome?: AckOutcome): Promise<void> {
      open();
      const acking = settle(id, async (job, token) => {
        const fetchNext = prefetch && !closed;
        // The real outcome, for BullMQ's tools: a run that did not succeed ends *failed* (its error as
        // failedReason; unrecoverable, so BullMQ does not retry it: fluid's retries are already done).
        const next = (outcome && outcome.state !== "success"
          ? await job.moveToFailed(failedError(outcome), token, fetchNext)
          : await job.moveToCompleted(completedValue(outcome), token, fetchNext)) as unknown[] | undefined;
        pending.finished(job.name, job.id!);
        if (fetchNext && !(Array.isArray(next) && next[0])) {
          emptyAckAt = Date.now();
          // Nothing ready any more: the next delayed run's time when the fetch says it, else ask.
          const until = Array.isArray(next) ? Number(next[3]) : 0;
          if (due === "ready") due = until > 0 ? until : "unknown";
        }
        if (Array.isArray(next) && next[0]) {
          const fetched = (await (worker as unknown as { nextJobFromJobData(data: unknown, id: unknown, token: string): Promise<FluidJob | undefined> })
            .nextJobFromJobData(next[0], next[1], token));
          if (fetched) {
            prefetched.push({ job: fetched, token });
            due = "ready";
          }
        }
      });
      acks.add(acking);
      try {
        await acking;
      } finally {
        acks.delete(acking);
      }
    },
    async retry(id: string, attempt: number, runAfter: number): Promise<boolean> {
      open();
      const entry = claimed.get(id);
      if (!entry) return false;
      if (cancelled.has(id)) {
        await settle(id, async (job, token) => {
          await job.moveToFailed(failedError({ state: "cancelled", error: { message: "cancelled by request" } }), token, false);
          pending.finished(job.name, job.id!);
        });
        return false;
      }
      const { job } = entry;
      const next = attempt > attemptOf(job) && (job.opts.attempts ?? 1) > job.attemptsMade + 1;
      if (next) {
        // A retry: BullMQ counts the attempt (attemptsMade) and delays the job by our backoff.
        retryDelays.set(id, Math.max(0, runAfter - Date.now()));
        await settle(id, (j, token) => j.moveToFailed(new Error(`attempt ${attempt - 1} failed; fluid's run record has the error`), token, false));
        retryDelays.delete(id);
      } else {
        // The same attempt again (shutdown, a task at its limit): back to the queue, uncounted.
        await settle(id, (j, token) => j.moveToDelayed(Math.max(runAfter, Date.now()), token));
      }
      due = "unknown";
      emptyAckAt = 0;
      listeners.notify();
      return true;
    },
    async cancel(id: string): Promise<"removed" | "flagged" | "unknown"> {
      open();
      if (claimed.has(id)) {
        cancelled.add(id);
        return "flagged";
      }
      const at = prefetched.findIndex((p) => runIdOf(p.job.id!) === id);
      if (at >= 0) {
        // Fetched by an ack but not started: finish it unrun and delete it.
        const [{ job, token }] = prefetched.splice(at, 1) as [{ job: FluidJob; token: string }];
        await job.moveToCompleted(null, token, false);
        await job.remove();
        pending.finished(job.name, job.id!);
        return "removed";
      }
      const job = await queue.getJob(jobIdOf(id));
      if (!job) return "unknown";
      const state = await job.getState();
      if (state === "active") {
        // Running on some daemon: tell every daemon; the one that claimed it stops it.
        producer ??= connection.producer();
        await producer.publishEvent({ eventName: CANCEL_EVENT, runId: id });
        return "flagged";
      }
      if (!PENDING.has(state)) return "unknown";
      try {
        await job.remove();
        pending.finished(job.name, job.id!);
        return "removed";
      } catch (error) {
        // Claimed by a daemon in between: it is active now.
        if ((await jobState(id)) === "active") {
          producer ??= connection.producer();
          await producer.publishEvent({ eventName: CANCEL_EVENT, runId: id });
          return "flagged";
        }
        throw error;
      }
    },
    async cancelRequested(): Promise<string[]> {
      open();
      return [...cancelled].filter((id) => claimed.has(id));
    },
    async recover(): Promise<QueuedRun[]> {
      open();
      // BullMQ's stall check gives back the runs of a daemon that died, once their lock expired.
      return [];
    },
    async nextDue(): Promise<number | undefined> {
      open();
      if (due === "ready") return Date.now();
      if (due !== "unknown") return due;
      const counts = await queue.getJobCounts("wait", "prioritized", "delayed");
      if ((counts.wait ?? 0) + (counts.prioritized ?? 0) > 0) return Date.now();
      if ((counts.delayed ?? 0) === 0) return undefined;
      // The last fetch that found nothing ready learnt when the next delayed job is due (its score):
      // a retried job's own fields do not say it (its `delay` counts from when it failed).
      if (blockUntil() > 0) return blockUntil();
      const [first] = await queue.getDelayed(0, 0);
      return first ? first.timestamp + (first.delay ?? 0) : undefined;
    },
    async hasPending(task: string, except?: string): Promise<boolean> {
      open();
      // One look in the pending index (one queue holds every task: listing it grew with the queue).
      return pending.hasPending(task, except === undefined ? undefined : jobIdOf(except));
    },
    async has(id: string): Promise<boolean> {
      open();
      if (claimed.has(id)) return true;
      const state = await jobState(id);
      return state !== undefined && PENDING.has(state);
    },
    async counts(): Promise<BrokerCounts> {
      open();
      const c = await queue.getJobCounts("wait", "prioritized", "delayed", "active");
      return { ready: (c.wait ?? 0) + (c.prioritized ?? 0), delayed: c.delayed ?? 0, claimed: c.active ?? 0 };
    },
    onEnqueue: (listener) => listeners.add(listener),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      clearInterval(renew);
      listeners.clear();
      for (const timer of pendingAcks) clearTimeout(timer);
      pendingAcks.clear();
      // Prefetched runs never started here: back to the queue for any daemon.
      await Promise.allSettled(prefetched.splice(0).map(({ job, token }) => job.moveToWait(token)));
      await Promise.allSettled([worker.close(), queue.close(), events?.close(), producer?.close()]);
      await connection.close();
    },
  };
}
