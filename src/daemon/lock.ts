import { mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type Database from "better-sqlite3";
import { FluidError, ExitCode } from "../core/errors.js";
import { noteOwnCommit } from "../broker/wake.js";
import { openDatabase } from "../persistence/open-database.js";
import { LeaseLostError, acquireLease, leaseVerdict, localProbe, readLease, releaseLease, renewLease, thisProcess, type LeaseHolder } from "../persistence/lease.js";
import { checkVersion } from "../persistence/schema.js";
import { errorCode, toStoreError } from "../persistence/store-error.js";
import { setWal } from "../persistence/wal.js";

export { LeaseLostError };

/** Another daemon already serves this store (exit 2). */
export class DaemonLockedError extends FluidError {
  constructor(message: string, hint: string) {
    super("FLUID_LOCKED", message, ExitCode.usage, { hint });
  }
}

/** The store file was deleted or replaced while the daemon used it (exit 1). */
export class StoreGoneError extends FluidError {
  constructor(message: string, hint: string) {
    super("FLUID_STORE_GONE", message, ExitCode.failure, { hint });
  }
}

/** Timing of the daemon lease. */
export interface LeaseTiming {
  /**
   * How often the holder renews the lease and checks the store file is still there, in ms.
   * Default 5000 (env FLUID_LEASE_HEARTBEAT_MS): each beat is a wake-up and a commit of an
   * otherwise sleeping daemon, the only periodic one without schedules (docs/daemon.md).
   */
  heartbeatMs: number;
  /** A lease of another host (or pid namespace) is stale once its heartbeat is this old, in ms. Default 20000, four beats (env FLUID_LEASE_STALE_MS). */
  staleMs: number;
}

/** The lease timing: the defaults, or FLUID_LEASE_HEARTBEAT_MS / FLUID_LEASE_STALE_MS from `env` (whole ms > 0). */
export function leaseTiming(env: NodeJS.ProcessEnv = process.env): LeaseTiming {
  const read = (name: string, fallback: number): number => {
    const value = Number(env[name]);
    return Number.isInteger(value) && value > 0 ? value : fallback;
  };
  const heartbeatMs = read("FLUID_LEASE_HEARTBEAT_MS", 5000);
  return { heartbeatMs, staleMs: read("FLUID_LEASE_STALE_MS", Math.max(20_000, heartbeatMs * 3)) };
}

/** Options of `takeDaemonLease`. */
export interface DaemonLeaseOptions extends Partial<LeaseTiming> {
  /** Called once when the lease is lost or the store file is gone; the daemon must stop. */
  onLost: (error: LeaseLostError | StoreGoneError) => void;
  /** Called when a heartbeat could not be written (disk full, lock held); it is tried again on the next beat. */
  onError?: (message: string, error: unknown) => void;
}

/** A held daemon lease. */
export interface DaemonLease {
  /** The owner token: the consumer claims queue rows under it. */
  readonly owner: string;
  /** The stale lease this one replaced, and why it was stale. */
  readonly previous: { holder: LeaseHolder; why: string } | undefined;
  /** Beats now (renew, check the store file): `onLost` is called at once if the lease or the file is gone. */
  check(): void;
  /** Stops the heartbeat and gives the lease up (if still ours). Idempotent. */
  release(): void;
}

/**
 * Takes the store's daemon lease (src/persistence/lease.ts) before anything migrates the file, then
 * renews it every `heartbeatMs`. Each beat also checks the store path still leads to the file
 * this daemon opened: when the file is deleted or replaced, or another daemon took the lease,
 * `onLost` is called once and the beat stops. Throws DaemonLockedError when a live daemon holds it.
 */
export function takeDaemonLease(storePath: string, options: DaemonLeaseOptions): DaemonLease {
  const timing = { ...leaseTiming(), ...definedTiming(options) };
  const db = openLeaseDb(storePath);
  let result;
  try {
    const probe = localProbe();
    result = acquireLease(db, thisProcess(Date.now(), probe), timing.staleMs, probe);
  } catch (error) {
    db.close();
    throw toStoreError(error, storePath, "taking the daemon lease");
  }
  if (!result.acquired) {
    db.close();
    const { holder, verdict } = result;
    const where = describe(holder);
    throw new DaemonLockedError(
      `another fluid serve (${where}) serves the store ${storePath}`,
      verdict.staleInMs !== undefined
        ? `stop it, or wait ${Math.ceil(verdict.staleInMs / 1000)}s if it is dead (a lease from another host is taken over once its heartbeat is ${timing.staleMs / 1000}s old)`
        : `stop it (kill ${holder.pid}), or give this daemon another store (store.path in the config)`,
    );
  }
  const owner = result.holder.owner;
  const identity = fileIdentity(storePath);
  let stopped = false;
  let lastErrorAt = 0;
  const stop = (): void => {
    stopped = true;
    clearInterval(timer);
  };
  const beat = (): void => {
    if (stopped) return;
    const gone = storeGone(storePath, identity);
    if (gone !== undefined) {
      stop();
      options.onLost(gone);
      return;
    }
    try {
      if (renewLease(db, owner, Date.now())) {
        // This process's watches on the store need not wake the consumer for it (src/broker/wake.ts).
        noteOwnCommit(storePath);
        return;
      }
      const now = readLease(db);
      stop();
      options.onLost(
        new LeaseLostError(
          `the lease on the store ${storePath} was taken by ${now ? `another fluid serve (${describe(now)})` : "someone who removed it"}; this daemon stops claiming runs`,
          "two daemons served one store: this one had stopped renewing its lease (event loop blocked, process paused) or the store is shared between hosts; run one daemon per store",
        ),
      );
    } catch (error) {
      // Disk full, a lock held too long: the lease stays ours until someone else takes it.
      if (Date.now() - lastErrorAt >= 30_000) {
        lastErrorAt = Date.now();
        options.onError?.(`renewing the daemon lease failed (tried again every ${timing.heartbeatMs}ms): ${(error as Error).message}`, error);
      }
    }
  };
  const timer = setInterval(beat, timing.heartbeatMs);
  timer.unref();
  return {
    owner,
    previous: result.previous,
    check: beat,
    release() {
      if (!db.open) return;
      stop();
      try {
        releaseLease(db, owner);
      } finally {
        db.close();
      }
    },
  };
}

/**
 * The daemon serving this store, when its lease binds (see `leaseVerdict`); undefined when no
 * daemon holds it, its holder is gone, or the file cannot be read.
 */
export function daemonHolding(storePath: string): { pid: string; host: string } | undefined {
  let db: Database.Database | undefined;
  try {
    db = openDatabase(storePath, { fileMustExist: true });
    db.pragma("busy_timeout = 1000");
    const holder = readLease(db);
    if (holder === undefined) return undefined;
    const timing = leaseTiming();
    if (leaseVerdict(holder, Date.now(), timing.staleMs, localProbe()).stale) return undefined;
    return { pid: String(holder.pid), host: holder.host };
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}

/** "pid 123 on host h, heartbeat 2s ago" */
function describe(holder: LeaseHolder): string {
  const age = Math.max(0, Math.round((Date.now() - holder.heartbeatAt) / 1000));
  return `pid ${holder.pid} on host ${holder.host}, heartbeat ${age}s ago`;
}

function definedTiming(o: Partial<LeaseTiming>): Partial<LeaseTiming> {
  return {
    ...(o.heartbeatMs !== undefined ? { heartbeatMs: o.heartbeatMs } : {}),
    ...(o.staleMs !== undefined ? { staleMs: o.staleMs } : {}),
  };
}

/** A connection of the lease's own, set up as the store sets its (WAL, busy_timeout). Refuses a file that is not a run store. */
function openLeaseDb(path: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    mkdirSync(dirname(path), { recursive: true });
    db = openDatabase(path);
    db.pragma("busy_timeout = 5000");
    setWal(db, 5000);
    db.pragma("synchronous = NORMAL");
    checkVersion(db, path);
    return db;
  } catch (error) {
    db?.close();
    throw toStoreError(error, path, "opening it for the daemon lease");
  }
}

interface FileIdentity {
  dev: number;
  ino: number;
}

function fileIdentity(path: string): FileIdentity | undefined {
  try {
    const s = statSync(path);
    return { dev: s.dev, ino: s.ino };
  } catch {
    return undefined;
  }
}

/** Why the store path no longer leads to the file this daemon opened, or undefined when it does. */
function storeGone(path: string, opened: FileIdentity | undefined): StoreGoneError | undefined {
  if (opened === undefined) return undefined;
  let now: FileIdentity;
  try {
    const s = statSync(path);
    now = { dev: s.dev, ino: s.ino };
  } catch (error) {
    if (errorCode(error) !== "ENOENT" && errorCode(error) !== "ENOTDIR") return undefined; // EACCES, EIO: cannot tell
    return new StoreGoneError(
      `the store ${path} was deleted while this daemon used it; runs queued or recorded since then are lost with it`,
      "stopping so that a restarted daemon serves the new store that `fluid queue` creates; do not delete .fluid/ while fluid serve runs",
    );
  }
  if (now.dev === opened.dev && now.ino === opened.ino) return undefined;
  return new StoreGoneError(
    `the store ${path} was replaced by another file while this daemon used it`,
    "stopping so that a restarted daemon serves the new file; do not delete or move the store while fluid serve runs",
  );
}
