import { existsSync } from "node:fs";
import type Database from "better-sqlite3";
import type { Project } from "../config/load.js";
import type { BrokerCounts } from "../broker/broker.js";
import { StoreError } from "../core/errors.js";
import type { RunRecord } from "../core/run-record.js";
import { leaseVerdict, localProbe, readLease, type LeaseProbe } from "../persistence/lease.js";
import { openDatabase } from "../persistence/open-database.js";
import { openProjectStore } from "../store/project-store.js";
import { leaseTiming, type LeaseTiming } from "./lock.js";
import type { BackendProbe } from "../fleet/probe-backend.js";

/** The daemon that holds (or last held) a store's lease. */
export interface LeaseHolderStatus {
  pid: number;
  host: string;
  /** Epoch ms the daemon took the lease (started serving). */
  since: number;
  /** Epoch ms of its last heartbeat. */
  heartbeatAt: number;
  heartbeatAgeMs: number;
  /** True when the heartbeat is older than three beats: a daemon whose event loop is blocked, or a stopped process. */
  heartbeatLate: boolean;
  /** True when its host and pid namespace are this process's, so its pid was checked. */
  local: boolean;
  /** True when the lease no longer binds (the daemon died without giving it up); `why` says why. */
  stale: boolean;
  why: string;
}

/** A run executing now, as its `running` record says. */
export interface RunningStatus {
  id: string;
  task: string;
  attempt: number;
  startedAt: number | null;
  host: string;
  pid: number;
}

/** The most recent run that ended in failure or timeout. */
export interface FailureStatus {
  id: string;
  task: string;
  state: string;
  attempt: number;
  /** Epoch ms it ended. */
  at: number | null;
  error: string | null;
}

/** A schedule's next fire. */
export interface NextFireStatus {
  task: string;
  schedule: string;
  /** ISO 8601 (UTC), or null when the schedule never fires again. */
  next: string | null;
  /** False when the task is disabled (`fluid disable`): it does not fire. */
  enabled: boolean;
}

/** What `fluid status` reports. */
export interface DaemonStatus {
  /** True when a daemon serves the store now: its lease binds (see docs/daemon.md, the lease). */
  serving: boolean;
  configFile: string;
  /** Absolute path of the store file; null when the config records nothing (store: false or ":memory:"). */
  store: string | null;
  /** The daemon that holds the lease, or held it and died without giving it up; null when none does. */
  daemon: LeaseHolderStatus | null;
  /** Runs in the queue (SQLite broker); null when the store has no queue yet. */
  queue: BrokerCounts | null;
  /**
   * The fleet backend, asked from here (config `backend`, FLUID_BACKEND_URL): its queue's counts,
   * or why it does not answer (within 2 s). Null without a backend. With one, the store's `queue`
   * is not the fleet's: these counts are.
   */
  backend: BackendProbe | null;
  /** Runs whose latest record is `running`. */
  running: RunningStatus[];
  lastFailure: FailureStatus | null;
  /** Next fire of each scheduled task, soonest first. */
  next: NextFireStatus[];
  /** Why some part could not be read (an older store, a store that does not exist yet). */
  notes: string[];
}

/** Options of `readDaemonStatus`. */
export interface StatusOptions {
  /** Default Date.now(). */
  now?: number;
  /** Where FLUID_LEASE_STALE_MS is read. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** This machine as the lease rules see it. Default: the real one. */
  probe?: LeaseProbe;
  /** How long the fleet backend may take to answer, ms. Default 2000. */
  backendTimeoutMs?: number;
}

/**
 * Reads, without writing anything, whether a daemon serves the project's store and what it is
 * doing: the lease (holder, since, heartbeat), queue counts, running runs, the last failure and
 * the next fires. Opens the store file read-only and never takes the lease, so it is safe to call
 * from a probe while the daemon runs.
 */
export async function readDaemonStatus(project: Project, options: StatusOptions = {}): Promise<DaemonStatus> {
  const now = options.now ?? Date.now();
  const probe = options.probe ?? localProbe();
  const status: DaemonStatus = {
    serving: false, configFile: project.configFile, store: null, daemon: null, queue: null, backend: null, running: [], lastFailure: null, next: [], notes: [],
  };
  const backend = project.config.backend ? askBackend(project.config.backend, options.backendTimeoutMs ?? 2000) : undefined;
  const config = project.config;
  let enabled = new Map<string, boolean>();
  if (config.store === false || config.store.path === ":memory:") {
    status.notes.push("the config records nothing (store: false or \":memory:\"), so no daemon can be seen");
  } else if (!existsSync(config.store.path)) {
    status.store = config.store.path;
    status.notes.push("the store does not exist yet: no daemon has served it and nothing was recorded");
  } else {
    status.store = config.store.path;
    readLeaseAndQueue(config.store.path, status, now, leaseTiming(options.env ?? process.env), probe);
    enabled = readRuns(await openReadOnly(project, status), status);
  }
  for (const task of project.registry.list()) {
    if (!task.schedule) continue;
    const next = task.schedule.next(new Date(now));
    status.next.push({ task: task.name, schedule: task.schedule.describe(), next: next ? next.toISOString() : null, enabled: enabled.get(task.name) !== false });
  }
  status.next.sort((a, b) => (a.next ?? "~").localeCompare(b.next ?? "~") || a.task.localeCompare(b.task));
  // With a fleet backend, the runs under way and the last failure are the fleet's (its run history).
  if (project.config.backend) await readFleetRuns(project, status);
  if (backend) status.backend = await backend;
  return status;
}

/** Running runs and the last failure from the fleet's run history (every daemon's); a backend that does not answer is a note. */
async function readFleetRuns(project: Project, status: DaemonStatus): Promise<void> {
  let history: Awaited<ReturnType<typeof import("../store/project-history.js").openProjectHistory>>;
  try {
    const { openProjectHistory } = await import("../store/project-history.js");
    history = await openProjectHistory(project.config, { failFast: true, onError: () => {} });
  } catch (error) {
    status.notes.push(`cannot read the fleet's run history: ${(error as Error).message.split("\n")[0]}`);
    return;
  }
  if (!history) return;
  try {
    const [running, failures, timeouts] = await Promise.all([
      history.listRuns({ state: "running", limit: 100 }), history.listRuns({ state: "failure", limit: 1 }), history.listRuns({ state: "timeout", limit: 1 }),
    ]);
    status.running = running.map(runningStatus);
    status.lastFailure = lastFailureOf([...failures, ...timeouts]);
  } catch (error) {
    status.notes.push(`cannot read the fleet's run history: ${(error as Error).message.split("\n")[0]}`);
  } finally {
    await history.close();
  }
}

function runningStatus(r: RunRecord): RunningStatus {
  return { id: r.id, task: r.task, attempt: r.attempt, startedAt: r.startedAt ?? null, host: r.host, pid: r.pid };
}

function lastFailureOf(failed: RunRecord[]): FailureStatus | null {
  const last = failed.sort((a, b) => endOf(b) - endOf(a))[0];
  return last ? { id: last.id, task: last.task, state: last.state, attempt: last.attempt, at: last.endedAt ?? null, error: last.error ? last.error.message : null } : null;
}

/** The backend's queue counts, or why it cannot be asked (a URL that does not parse is said, not thrown: status still answers). */
async function askBackend(backend: { url: string; prefix?: string }, timeoutMs: number): Promise<BackendProbe> {
  try {
    const { parseBackendUrl } = await import("../fleet/backend-url.js");
    const target = parseBackendUrl(backend.url, backend.prefix !== undefined ? { prefix: backend.prefix } : {});
    return await (await import("../fleet/probe-backend.js")).probeBackend(target, timeoutMs);
  } catch (error) {
    return { url: backend.url.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/i, "$1***@"), reachable: false, error: (error as Error).message.split("\n")[0]! };
  }
}

/** The lease row and queue counts, on a read-only connection of its own. */
function readLeaseAndQueue(path: string, status: DaemonStatus, now: number, timing: LeaseTiming, probe: LeaseProbe): void {
  let db: Database.Database | undefined;
  try {
    db = openDatabase(path, { readonly: true, fileMustExist: true });
    db.pragma("busy_timeout = 1000");
    const holder = readLease(db);
    if (holder) {
      const verdict = leaseVerdict(holder, now, timing.staleMs, probe);
      const otherNamespace = holder.pidNamespace !== undefined && probe.pidNamespace !== undefined && holder.pidNamespace !== probe.pidNamespace;
      status.daemon = {
        pid: holder.pid, host: holder.host, since: holder.acquiredAt, heartbeatAt: holder.heartbeatAt,
        heartbeatAgeMs: Math.max(0, now - holder.heartbeatAt), heartbeatLate: now - holder.heartbeatAt > 3 * timing.heartbeatMs, local: holder.host === probe.host && !otherNamespace,
        stale: verdict.stale, why: verdict.why,
      };
      status.serving = !verdict.stale;
    }
    const hasQueue = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'queue'").pluck().get() !== undefined;
    if (hasQueue) {
      // One statement, so the three counts come from one snapshot (as the broker's `counts`).
      const c = db.prepare(
        `SELECT (SELECT count(*) FROM queue WHERE claimed_by IS NULL AND run_after <= ?) AS ready,
                (SELECT count(*) FROM queue WHERE claimed_by IS NULL) AS unclaimed,
                (SELECT count(*) FROM queue WHERE claimed_by IS NOT NULL) AS claimed`,
      ).get(now) as { ready: number; unclaimed: number; claimed: number };
      status.queue = { ready: c.ready, delayed: c.unclaimed - c.ready, claimed: c.claimed };
    }
  } catch (error) {
    status.notes.push(`cannot read the lease and the queue of ${path}: ${(error as Error).message}`);
  } finally {
    db?.close();
  }
}

async function openReadOnly(project: Project, status: DaemonStatus) {
  try {
    return await openProjectStore(project.config, { readonly: true });
  } catch (error) {
    // An older store is upgraded by the daemon when it starts; status never writes.
    status.notes.push(error instanceof StoreError ? error.message : `cannot read the store: ${(error as Error).message}`);
    return undefined;
  }
}

/** Running runs and the last failure into `status`; returns the tasks' enabled states. */
function readRuns(store: Awaited<ReturnType<typeof openReadOnly>>, status: DaemonStatus): Map<string, boolean> {
  if (!store) return new Map();
  try {
    status.running = store.listRuns({ state: "running", limit: 100 }).map(runningStatus);
    status.lastFailure = lastFailureOf([...store.listRuns({ state: "failure", limit: 1 }), ...store.listRuns({ state: "timeout", limit: 1 })]);
    return new Map([...store.taskStates()].map(([task, s]) => [task, s.enabled]));
  } finally {
    store.close();
  }
}

function endOf(r: RunRecord): number {
  return r.endedAt ?? r.startedAt ?? r.queuedAt ?? 0;
}
