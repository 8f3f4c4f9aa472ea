import type { SharedLimit } from "../consumer/consumer.js";
import type { TaskState } from "../core/run-record.js";
import { parseBackendUrl } from "../fleet/backend-url.js";
import { openFleetState } from "../fleet/open-fleet-state.js";

/** How often a daemon reads the fleet's task states (enable / disable from any machine), ms. */
export const FLEET_STATE_POLL_MS = 1000;
/** Reading the states fails this long before it is reported, ms. */
const POLL_FAILURE_GRACE_MS = 5000;
/** A run that found its task at the fleet's limit is tried again this much later, ms. */
export const SHARED_LIMIT_RETRY_MS = 250;
/** A daemon's schedule fires are written to the backend in one batch this often, ms. */
export const FIRE_BATCH_MS = 200;

/** A daemon's view of the task state its fleet shares (docs/fleet.md): states, last fires, limits. */
export interface FleetTaskState {
  /** Enabled state of each task as last read from the backend (at most FLEET_STATE_POLL_MS old, or this daemon's own change). */
  states(): ReadonlyMap<string, TaskState>;
  /** Enables or disables a task for the whole fleet; this daemon sees it at once, the others within a poll. */
  setEnabled(task: string, enabled: boolean, reason?: string): Promise<void>;
  /** Last fire per task in the backend when the daemon started (catch-up plans from it). */
  readonly lastFires: ReadonlyMap<string, number>;
  /** Records a fire in the backend, in the background (a failure is reported, not thrown). */
  recordFire(task: string, at: number): void;
  /** The fleet-wide slots of limited tasks, for the consumer. */
  readonly sharedLimit: SharedLimit;
  /** Stops polling and closes the connection; slots still held expire with their lease. */
  close(): Promise<void>;
}

/** Opens the fleet's task state on `backend` and starts polling it. Throws a BackendError when it cannot be reached. */
export async function openFleetTaskState(
  backend: { url: string; prefix?: string; stallMs?: number },
  onError: (message: string, error: unknown) => void,
): Promise<FleetTaskState> {
  const target = parseBackendUrl(backend.url, backend.prefix !== undefined ? { prefix: backend.prefix } : {});
  // A slot's lease is the stall window: a daemon that died frees its slots when its runs go back to the queue.
  const state = await openFleetState(target, { leaseMs: backend.stallMs ?? 30_000, wait: true });
  let states: ReadonlyMap<string, TaskState>;
  let lastFires: ReadonlyMap<string, number>;
  try {
    [states, lastFires] = await Promise.all([state.taskStates(), state.lastFires()]);
  } catch (error) {
    await state.close();
    throw error;
  }
  /** Bumped by a change of this daemon's own: a poll that began before it must not undo it. */
  let version = 0;
  let polling = false;
  let failing = false;
  let failingSince: number | undefined;
  let closing = false;
  /** Writes of last fires under way (close waits for them briefly). */
  const writes = new Set<Promise<void>>();
  /** Fires not written yet (task -> latest slot), and the timer that writes them. */
  let fires = new Map<string, number>();
  let flushTimer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    flushTimer = undefined;
    if (fires.size === 0) return;
    const batch = fires;
    fires = new Map();
    const write = state.setLastFires(batch).catch((error: unknown) => {
      if (!closing) onError(`recording the fires of ${[...batch.keys()].slice(0, 3).join(", ")}${batch.size > 3 ? ` and ${batch.size - 3} more` : ""} in the backend failed: ${(error as Error).message}`, error);
    }).finally(() => writes.delete(write));
    writes.add(write);
  };
  const poll = setInterval(() => {
    if (polling) return;
    polling = true;
    const seen = version;
    state.taskStates().then((next) => {
      if (seen === version) states = next;
      failing = false;
      failingSince = undefined;
    }, (error: unknown) => {
      // Said once, and only when it lasts: a backend that went away is the broker's down / up lines.
      failingSince ??= Date.now();
      if (!failing && Date.now() - failingSince >= POLL_FAILURE_GRACE_MS) {
        failing = true;
        onError(`reading the fleet's task states failed for ${Math.round((Date.now() - failingSince) / 1000)} s (the daemon keeps the states it read last): ${(error as Error).message}`, error);
      }
    }).finally(() => (polling = false));
  }, FLEET_STATE_POLL_MS);
  poll.unref();
  return {
    states: () => states,
    async setEnabled(task, enabled, reason) {
      await state.setTaskEnabled(task, enabled, reason);
      version++;
      states = new Map(states).set(task, { enabled, ...(reason ? { reason } : {}), changedAt: Date.now() });
    },
    lastFires,
    recordFire(task, at) {
      // Batched: one write per FIRE_BATCH_MS for every fire in it, not a round trip per fire (at 100
      // fires a second they queued behind each other for the pool and held up the shared limits' slots).
      if ((fires.get(task) ?? -Infinity) < at) fires.set(task, at);
      flushTimer ??= setTimeout(flush, FIRE_BATCH_MS);
    },
    sharedLimit: {
      acquire: (task, runId, limit) => state.acquireSlot(task, runId, limit),
      release: (task, runId) => {
        // Not given back (backend away): the lease expires within the stall window.
        state.releaseSlot(task, runId).catch(() => {});
      },
      retryMs: SHARED_LIMIT_RETRY_MS,
    },
    async close() {
      clearInterval(poll);
      clearTimeout(flushTimer);
      flush();
      // The last fires under way land first (not waiting long: the backend may be away).
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(writes), new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
      clearTimeout(timer);
      closing = true;
      await state.close();
    },
  };
}
