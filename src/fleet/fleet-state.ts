import type { TaskState } from "../core/run-record.js";

/**
 * What a fleet shares besides its queue (docs/fleet.md): each task's enabled state and last
 * schedule fire, and the slots of tasks with a fleet-wide limit (`maxConcurrency`, overlap).
 * Redis: a hash of task states, a hash of last fires and a sorted set of leases per limited task,
 * under `<prefix>:fluid-state:`; PostgreSQL: the tables `fluid_task_state` and `fluid_slots` (and
 * the function `fluid_acquire_slot`) in the project's schema.
 */
export interface FleetState {
  /** Enabled state of every task ever enabled or disabled on the fleet. */
  taskStates(): Promise<Map<string, TaskState>>;
  /** Enables or disables a task for every daemon of the fleet. */
  setTaskEnabled(task: string, enabled: boolean, reason?: string): Promise<void>;
  /** When each task's schedule last fired on any daemon (epoch ms: the latest slot). */
  lastFires(): Promise<Map<string, number>>;
  /** Records a fire of a task's schedule at `at`; a later fire already recorded is kept (any daemon may write first). */
  setLastFire(task: string, at: number): Promise<void>;
  /** `setLastFire` for many tasks in one round trip (a daemon batches its fires). */
  setLastFires(fires: ReadonlyMap<string, number>): Promise<void>;
  /**
   * Takes one of the `limit` slots of `task` for run `runId`, leased for `leaseMs` by the
   * backend's clock (renewed by this object while held); false when `limit` unexpired leases
   * of other runs hold them all. Atomic across daemons. Taking a slot the run holds renews it.
   */
  acquireSlot(task: string, runId: string, limit: number): Promise<boolean>;
  /** Gives a slot back (its lease would expire anyway). */
  releaseSlot(task: string, runId: string): Promise<void>;
  /** Runs holding a live lease on a slot of `task` (for tests and status). */
  slotHolders(task: string): Promise<string[]>;
  /** Stops renewing leases and closes the connection. Slots still held expire with their lease. */
  close(): Promise<void>;
}

/** Options of `openFleetState`. */
export interface FleetStateOptions {
  /**
   * How long a slot's lease lasts without renewal, ms: a daemon that died frees its slots after
   * at most this. Renewed every third of it while held. Default 30000 (the stall window).
   */
  leaseMs?: number;
  /**
   * Redis: commands wait for a reconnect instead of failing (a daemon riding out an outage).
   * Default false: an unreachable backend fails at once with a BackendError (a CLI command).
   */
  wait?: boolean;
}

/** Leases a process holds, renewed on a timer (shared by both implementations). */
export class HeldSlots {
  readonly held = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;

  constructor(leaseMs: number, renew: (held: ReadonlyMap<string, string>) => Promise<void>) {
    this.timer = setInterval(() => {
      if (this.held.size === 0) return;
      // A renewal that fails (backend away) is retried at the next tick; a lease that lapsed meanwhile is the backend's to free.
      renew(this.held).catch(() => {});
    }, Math.max(100, Math.floor(leaseMs / 3)));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.held.clear();
  }
}

/** A task state as kept in the backend (JSON in Redis, a row in PostgreSQL). */
export function taskState(enabled: boolean, reason: string | null | undefined, changedAt: number): TaskState {
  return { enabled, changedAt, ...(reason ? { reason } : {}) };
}
