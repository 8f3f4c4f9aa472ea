import { hostname } from "node:os";
import type Database from "better-sqlite3";
import { ExitCode, FluidError } from "../core/errors.js";
import { isPidAlive, pidNamespace, processStart, sameStart, type ProcessStart } from "./pid-alive.js";

/**
 * The daemon lease: one row in the store file saying which `fluid serve` serves it. Taken and
 * renewed in write transactions, so two daemons can never both hold it (a file plus a pid
 * check can: read, check, remove and create are four steps). The table belongs to no schema
 * version: it is created here, before migrations run, so a daemon holds the store before it
 * migrates it, whatever version wrote the file.
 */
export const LEASE_TABLE = "fluid_lease";

const CREATE = `CREATE TABLE IF NOT EXISTS ${LEASE_TABLE} (
  name         TEXT    PRIMARY KEY, -- 'daemon': one lease per store
  owner        TEXT    NOT NULL,    -- random token of the holder; claimed queue rows carry it
  host         TEXT    NOT NULL,
  pid          INTEGER NOT NULL,
  pid_ns       TEXT,                -- the holder's pid namespace (Linux), e.g. pid:[4026531836]
  boot_time    INTEGER,             -- with start_ticks: when the holder process started (Linux)
  start_ticks  INTEGER,
  acquired_at  INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL
)`;

/** This daemon's lease on the store was taken by another daemon, or removed (exit 1). */
export class LeaseLostError extends FluidError {
  constructor(message: string, hint: string) {
    super("FLUID_LEASE_LOST", message, ExitCode.failure, { hint });
  }
}

/** Who holds (or held) a store's lease. */
export interface LeaseHolder {
  /** Random token; claimed queue rows carry it as `claimed_by`. */
  owner: string;
  host: string;
  pid: number;
  /** Pid namespace of the holder, when known (Linux). */
  pidNamespace?: string;
  /** When the holder process started, when known (Linux): tells a reused pid apart. */
  start?: ProcessStart;
  /** Epoch ms. */
  acquiredAt: number;
  /** Epoch ms of the last renewal. */
  heartbeatAt: number;
}

/** What the lease rules need to know about this machine; a parameter so tests can vary it. */
export interface LeaseProbe {
  host: string;
  pidNamespace: string | undefined;
  isAlive(pid: number): boolean;
  startOf(pid: number): ProcessStart | undefined;
}

/** This machine, as the lease rules see it. */
export function localProbe(): LeaseProbe {
  return { host: hostname(), pidNamespace: pidNamespace(), isAlive: isPidAlive, startOf: processStart };
}

/** Whether a lease still binds, and why (for messages). */
export interface LeaseVerdict {
  stale: boolean;
  /** Why it is stale, or why it binds, in words. */
  why: string;
  /** For a lease that binds only by its heartbeat: ms until it goes stale. */
  staleInMs?: number;
}

/**
 * Decides whether `holder`'s lease is stale, seen from `probe` at `now`:
 * - same host (and pid namespace, where both are known): stale at once when its pid is dead,
 *   or alive but started at another time (the pid was reused: pid 1 of a restarted container
 *   sharing the namespace, an unrelated process). A live holder binds however old its heartbeat.
 * - another host, another pid namespace: its pid means nothing here; stale only when its
 *   heartbeat is older than `staleMs` (compared with this clock).
 */
export function leaseVerdict(holder: LeaseHolder, now: number, staleMs: number, probe: LeaseProbe): LeaseVerdict {
  const otherNamespace = holder.pidNamespace !== undefined && probe.pidNamespace !== undefined && holder.pidNamespace !== probe.pidNamespace;
  if (holder.host === probe.host && !otherNamespace) {
    if (!probe.isAlive(holder.pid)) return { stale: true, why: `pid ${holder.pid} is gone` };
    const start = holder.start === undefined ? undefined : probe.startOf(holder.pid);
    if (holder.start !== undefined && start !== undefined && !sameStart(holder.start, start)) {
      return { stale: true, why: `pid ${holder.pid} is now another process` };
    }
    return { stale: false, why: `pid ${holder.pid} is alive` };
  }
  const age = now - holder.heartbeatAt;
  if (age > staleMs) return { stale: true, why: `its heartbeat is ${Math.round(age / 1000)}s old` };
  return { stale: false, why: "its heartbeat is recent", staleInMs: staleMs - Math.max(0, age) };
}

/** Creates the lease table when missing (no schema version involved). Call in a write transaction or alone. */
export function ensureLeaseTable(db: Database.Database): void {
  db.exec(CREATE);
}

/** The lease row, or undefined when nobody holds (or ever held) the store. */
export function readLease(db: Database.Database): LeaseHolder | undefined {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").pluck().get(LEASE_TABLE);
  if (exists === undefined) return undefined;
  const row = db.prepare(`SELECT * FROM ${LEASE_TABLE} WHERE name = 'daemon'`).get() as LeaseRow | undefined;
  return row === undefined ? undefined : fromRow(row);
}

/** The outcome of `acquireLease`. */
export type Acquired =
  | { acquired: true; holder: LeaseHolder; previous?: { holder: LeaseHolder; why: string } }
  | { acquired: false; holder: LeaseHolder; verdict: LeaseVerdict };

/**
 * Takes the store's lease for `me` if it is free or stale, in one IMMEDIATE transaction (the
 * read and the write cannot interleave with another process's), and says who held it before.
 */
export function acquireLease(db: Database.Database, me: LeaseHolder, staleMs: number, probe: LeaseProbe = localProbe()): Acquired {
  return db.transaction((): Acquired => {
    ensureLeaseTable(db);
    const current = readLease(db);
    let previous: { holder: LeaseHolder; why: string } | undefined;
    if (current !== undefined) {
      const verdict = leaseVerdict(current, me.acquiredAt, staleMs, probe);
      if (!verdict.stale) return { acquired: false, holder: current, verdict };
      previous = { holder: current, why: verdict.why };
    }
    db.prepare(
      `INSERT OR REPLACE INTO ${LEASE_TABLE} (name, owner, host, pid, pid_ns, boot_time, start_ticks, acquired_at, heartbeat_at)
       VALUES ('daemon', @owner, @host, @pid, @pid_ns, @boot_time, @start_ticks, @acquired_at, @heartbeat_at)`,
    ).run(toRow(me));
    return previous ? { acquired: true, holder: me, previous } : { acquired: true, holder: me };
  }).immediate();
}

/** Renews `owner`'s lease (heartbeat); false when the lease is no longer theirs. */
export function renewLease(db: Database.Database, owner: string, now: number): boolean {
  return db.prepare(`UPDATE ${LEASE_TABLE} SET heartbeat_at = ? WHERE name = 'daemon' AND owner = ?`).run(now, owner).changes === 1;
}

/** Gives up `owner`'s lease (clean shutdown); false when it was not theirs any more. */
export function releaseLease(db: Database.Database, owner: string): boolean {
  return db.prepare(`DELETE FROM ${LEASE_TABLE} WHERE name = 'daemon' AND owner = ?`).run(owner).changes === 1;
}

/** This process as a lease holder with a new random owner token, as of `now`. */
export function thisProcess(now = Date.now(), probe: LeaseProbe = localProbe()): LeaseHolder {
  const start = probe.startOf(process.pid);
  return {
    owner: newOwnerToken(), host: probe.host, pid: process.pid, acquiredAt: now, heartbeatAt: now,
    ...(probe.pidNamespace !== undefined ? { pidNamespace: probe.pidNamespace } : {}),
    ...(start !== undefined ? { start } : {}),
  };
}

/**
 * 128 random bits from Math.random (V8 seeds it per process from the operating system; loading
 * `crypto` would cost every start), with the pid and time so two processes can never collide
 * even on a poor seed.
 */
function newOwnerToken(): string {
  let token = "";
  while (token.length < 32) token += Math.floor(Math.random() * 0x1_0000_0000).toString(16).padStart(8, "0");
  return `${token}-${process.pid.toString(36)}-${Date.now().toString(36)}`;
}

interface LeaseRow {
  owner: string;
  host: string;
  pid: number;
  pid_ns: string | null;
  boot_time: number | null;
  start_ticks: number | null;
  acquired_at: number;
  heartbeat_at: number;
}

function fromRow(row: LeaseRow): LeaseHolder {
  return {
    owner: row.owner, host: row.host, pid: row.pid, acquiredAt: row.acquired_at, heartbeatAt: row.heartbeat_at,
    ...(row.pid_ns !== null ? { pidNamespace: row.pid_ns } : {}),
    ...(row.boot_time !== null && row.start_ticks !== null ? { start: { bootTime: row.boot_time, startTicks: row.start_ticks } } : {}),
  };
}

function toRow(h: LeaseHolder): LeaseRow {
  return {
    owner: h.owner, host: h.host, pid: h.pid, pid_ns: h.pidNamespace ?? null,
    boot_time: h.start?.bootTime ?? null, start_ticks: h.start?.startTicks ?? null,
    acquired_at: h.acquiredAt, heartbeat_at: h.heartbeatAt,
  };
}
