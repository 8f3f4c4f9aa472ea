import type { RunDetails, RunRecord } from "../core/run-record.js";
import { FINAL_STATES, type LogLine } from "../core/types.js";
import type { BackendTarget } from "../fleet/backend-url.js";
import { STATE_RANK } from "../persistence/state-order.js";
import { assembleLogs, unknownRun, type HistoryBackend, type HistoryBatch, type LogRow, type LogTrim } from "./history-backend.js";
import { capLine } from "./log-cap.js";
import type { RunReader } from "./run-reader.js";

/**
 * The run history of a fleet, in its backend (docs/fleet.md "Run history"): every daemon writes
 * its attempts and log lines there, and `fluid history` / `show` / `logs` / `cancel` /
 * `queue --wait` read it from any machine. Writes are buffered and sent in batches (one round
 * trip per batch, one batch in flight at a time); a backend that cannot be reached keeps them
 * buffered (bounded) and retried with backoff.
 */
export interface FleetHistory extends RunReader {
  /** Records an attempt; a record never goes backwards (`STATE_RANK`), as in the SQLite store. Buffered. */
  writeAttempt(record: RunRecord): void;
  /** Appends log lines of an attempt (the first and the last `logCap / 2` lines are kept, the rest counted). Buffered. */
  appendLogs(id: string, attempt: number, lines: LogLine[]): void;
  /** Sends what is buffered now; rejects (keeping the rows) when the backend cannot take them. */
  flush(): Promise<void>;
  /**
   * Applies the retention (`retention`: days, runs per task) to the whole fleet's history now,
   * one small step per round trip; resolves with how many runs went. Never a queued or running run.
   */
  prune(now?: number): Promise<{ deleted: number }>;
  /**
   * Applies the retention in the background, for a daemon: a check `delayMs` after the call, then
   * every `everyMs`; a check that takes the fleet's turn (at most one daemon per `everyMs`, decided
   * in the backend) prunes, one step at a time. Returns the function that stops it (a step under
   * way ends, no later one starts; `close` stops it too).
   */
  startPruning(o?: HistoryPruningOptions): () => void;
  /** Sends what is buffered (waiting at most `closeWaitMs`; what cannot be sent is reported), then closes the connection. Idempotent. */
  close(): Promise<void>;
}

/** Options of `FleetHistory.startPruning`. */
export interface HistoryPruningOptions {
  /** Wait before the first check, ms. Default 60000 (the daemon has started). */
  delayMs?: number;
  /** Time between checks, and the length of a turn, ms. Default an hour. */
  everyMs?: number;
  /** Told of each prune that deleted runs (how many, how long it took). */
  onPruned?: (deleted: number, ms: number) => void;
}

/** Options of `openFleetHistory`. */
export interface FleetHistoryOptions {
  /** Most log lines kept per attempt (the config's `store.logCap`). Default 1000. */
  logCap?: number;
  /** Days a run is kept after it ended (the config's `store.retention.days`). Default 30; `Infinity` keeps all. */
  retentionDays?: number;
  /** Most runs kept per task, newest first (the config's `store.retention.perTask`). Default 1000; `Infinity` keeps all. */
  retentionPerTask?: number;
  /** Told what the history could not do (an outage, rows dropped); one line each. Default: stderr. */
  onError?: (message: string) => void;
  /** Most rows (attempts + log lines) kept buffered while the backend is away; beyond it the oldest log lines are dropped, then records. Default 100000. */
  maxBufferedRows?: number;
  /** How long `close` waits for the last rows to land, ms. Default 5000. */
  closeWaitMs?: number;
  /**
   * For a command that only reads (or writes a record or two): fail at once when the backend
   * cannot be reached instead of waiting for it to come back. Default false (a daemon waits).
   */
  failFast?: boolean;
}

/** Per attempt: lines seen so far, and the bytes of the tail lines kept (to count what the cap drops). */
interface CapState {
  lines: number;
  tail: number[];
  dropped: number;
  droppedBytes: number;
}

/** Attempts whose log cap is tracked at once; beyond it the oldest are forgotten (their later lines count from 0 again). */
const MAX_TRACKED = 10_000;
/** How often the fleet's history is pruned (by one daemon of the fleet), ms. */
export const HISTORY_PRUNE_EVERY_MS = 3_600_000;

/**
 * Opens the run history of a fleet in `target` (Redis or PostgreSQL; on PostgreSQL its tables are
 * created in the project's schema when missing).
 */
export async function openFleetHistory(target: BackendTarget, o: FleetHistoryOptions = {}): Promise<FleetHistory> {
  const backend: HistoryBackend = target.kind === "redis"
    ? (await import("./fleet-history-redis.js")).openRedisHistory(target, { retentionMs: (o.retentionDays ?? 30) * 86_400_000, failFast: o.failFast === true })
    : await (await import("./fleet-history-pg.js")).openPgHistory(target, { failFast: o.failFast === true });
  return createFleetHistory(backend, o);
}

/** The buffering writer and the reader over a backend (exported for tests). */
export function createFleetHistory(backend: HistoryBackend, o: FleetHistoryOptions = {}): FleetHistory {
  const logCap = o.logCap ?? 1000;
  const headCap = Math.floor(logCap / 2);
  const tailCap = logCap - headCap;
  const maxRows = o.maxBufferedRows ?? 100_000;
  const report = o.onError ?? ((message: string) => void process.stderr.write(`${message}\n`));
  const retention = { days: o.retentionDays ?? 30, perTask: o.retentionPerTask ?? 1000 };
  const stoppers = new Set<() => void>();

  let attempts = new Map<string, RunRecord>();
  let logs: LogRow[] = [];
  let trims = new Map<string, LogTrim>();
  const caps = new Map<string, CapState>();
  let inFlight: Promise<void> | undefined;
  /** Rows of the batch in flight (lost too when `close` gives up on it). */
  let inFlightRows = 0;
  let scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  let failingSince: number | undefined;
  let failDelay = 100;
  let droppedRows = 0;
  let closed = false;

  const key = (id: string, attempt: number): string => `${id}\u0000${attempt}`;
  const put = (map: Map<string, RunRecord>, r: RunRecord): void => {
    const k = key(r.id, r.attempt);
    const old = map.get(k);
    if (old && STATE_RANK[old.state] > STATE_RANK[r.state]) return;
    map.set(k, r);
  };
  const rows = (): number => attempts.size + logs.length;

  /** Over the bound: the oldest log lines go first, then the oldest records; said once per outage. */
  const bound = (): void => {
    let over = rows() - maxRows;
    if (over <= 0) return;
    if (droppedRows === 0) report(`run history: more than ${maxRows} records and log lines wait for the backend ${backend.where}; dropping the oldest log lines (then records) beyond that`);
    const lines = Math.min(over, logs.length);
    logs.splice(0, lines);
    droppedRows += lines;
    over -= lines;
    for (const k of [...attempts.keys()]) {
      if (over-- <= 0) break;
      attempts.delete(k);
      droppedRows++;
    }
  };

  const schedule = (delay = 0): void => {
    if (scheduled || inFlight || closed) return;
    if (delay === 0) {
      scheduled = setImmediate(() => {
        scheduled = undefined;
        void flushNow().catch(() => {}); // reported by flushNow, retried on its timer
      });
    } else {
      scheduled = setTimeout(() => {
        scheduled = undefined;
        void flushNow().catch(() => {}); // reported by flushNow, retried on its timer
      }, delay);
      scheduled.unref();
    }
  };

  const takeBatch = (): HistoryBatch => {
    const batch: HistoryBatch = { attempts: [...attempts.values()], logs, trims: [...trims.values()] };
    attempts = new Map();
    logs = [];
    trims = new Map();
    return batch;
  };
  const giveBack = (batch: HistoryBatch): void => {
    // The failed batch is older than what came in meanwhile: put it first, then the newer rows over it.
    const merged = new Map<string, RunRecord>();
    for (const r of batch.attempts) put(merged, r);
    for (const r of attempts.values()) put(merged, r);
    attempts = merged;
    logs = [...batch.logs, ...logs];
    const t = new Map(batch.trims.map((x) => [key(x.id, x.attempt), x]));
    for (const [k, x] of trims) t.set(k, x);
    trims = t;
    bound();
  };

  /** Attempts that start while the attempt before them is still `running`: that one was interrupted (its daemon died, its claim expired). */
  const markInterrupted = async (batch: HistoryBatch): Promise<void> => {
    const starts = batch.attempts.filter((r) => r.state === "running" && r.attempt > 1 && !attempts.has(key(r.id, r.attempt - 1)) && !batch.attempts.some((b) => b.id === r.id && b.attempt === r.attempt - 1));
    if (starts.length === 0) return;
    const previous = await Promise.all(starts.map((r) => backend.attempt(r.id, r.attempt - 1)));
    const now = Date.now();
    starts.forEach((r, i) => {
      const p = previous[i];
      if (p?.state !== "running") return;
      const message = `interrupted: the process running it (pid ${p.pid} on ${p.host || "an unknown host"}) is gone`;
      const durationMs = p.startedAt === undefined ? undefined : Math.max(0, now - p.startedAt);
      batch.attempts.push({ ...p, state: "interrupted", endedAt: now, ...(durationMs !== undefined ? { durationMs } : {}), error: { name: "RunInterruptedError", code: "FLUID_INTERRUPTED", message } });
      // The new attempt says what it follows (first among its lines: it is written before them).
      batch.logs.unshift({ id: r.id, attempt: r.attempt, part: "h", line: { ts: r.startedAt ?? now, level: "warn", message: `[fluid] attempt ${p.attempt} was ${message}; its claim expired and ${r.host} pid ${r.pid} runs it again as attempt ${r.attempt}` } });
    });
  };

  const flushNow = async (): Promise<void> => {
    // One batch in flight at a time, so an attempt's log lines land in order.
    while (inFlight) await inFlight.catch(() => {}); // that flush reports its own failure
    if (rows() === 0 && trims.size === 0) return;
    const batch = takeBatch();
    inFlightRows = batch.attempts.length + batch.logs.length;
    const run = (async () => {
      try {
        await markInterrupted(batch);
        await backend.write(batch);
      } catch (error) {
        giveBack(batch);
        if (failingSince === undefined) {
          failingSince = Date.now();
          report(`run history: cannot write to the backend ${backend.where} (${(error as Error).message}); ${rows()} records and log lines kept, retrying with backoff`);
        }
        failDelay = Math.min(failDelay * 2, 5000);
        throw error;
      }
      if (failingSince !== undefined) {
        report(`run history: writes to the backend ${backend.where} land again after ${((Date.now() - failingSince) / 1000).toFixed(1)} s${droppedRows ? `; ${droppedRows} buffered rows (log lines first) were dropped over the bound of ${maxRows}` : ""}`);
        failingSince = undefined;
        droppedRows = 0;
      }
      failDelay = 100;
    })();
    inFlight = run;
    try {
      await run;
    } finally {
      inFlight = undefined;
      inFlightRows = 0;
      if (rows() > 0 || trims.size > 0) schedule(failingSince === undefined ? 0 : failDelay);
    }
  };

  return {
    where: backend.where,
    writeAttempt(record) {
      if (closed) return;
      put(attempts, record);
      if (FINAL_STATES.has(record.state) || record.state === "interrupted") caps.delete(key(record.id, record.attempt));
      bound();
      schedule();
    },
    appendLogs(id, attempt, lines) {
      if (closed || lines.length === 0) return;
      const k = key(id, attempt);
      let cap = caps.get(k);
      if (!cap) {
        if (caps.size >= MAX_TRACKED) caps.delete(caps.keys().next().value!);
        caps.set(k, (cap = { lines: 0, tail: [], dropped: 0, droppedBytes: 0 }));
      }
      for (const raw of lines) {
        const line = capLine(raw);
        if (cap.lines++ < headCap) {
          logs.push({ id, attempt, part: "h", line });
          continue;
        }
        if (tailCap === 0) {
          cap.dropped++;
          cap.droppedBytes += Buffer.byteLength(String(line.message));
        } else {
          logs.push({ id, attempt, part: "t", line });
          cap.tail.push(Buffer.byteLength(String(line.message)));
          if (cap.tail.length <= tailCap) continue;
          cap.dropped++;
          cap.droppedBytes += cap.tail.shift()!;
        }
        trims.set(k, { id, attempt, keepTail: tailCap, dropped: cap.dropped, droppedBytes: cap.droppedBytes, droppedTs: line.ts ?? Date.now() });
      }
      bound();
      schedule();
    },
    flush: flushNow,
    async prune(now = Date.now()) {
      let deleted = 0;
      for await (const n of backend.pruneSteps(retention, now)) deleted += n;
      return { deleted };
    },
    startPruning(p = {}) {
      const everyMs = p.everyMs ?? HISTORY_PRUNE_EVERY_MS;
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      const later = (ms: number): void => {
        if (stopped) return;
        timer = setTimeout(() => void check(), ms);
        timer.unref();
      };
      const check = async (): Promise<void> => {
        try {
          const now = Date.now();
          if (await backend.takePruneTurn(now, everyMs)) {
            let deleted = 0;
            for await (const n of backend.pruneSteps(retention, now)) {
              deleted += n;
              if (stopped) break; // ends the steps (their generator returns)
            }
            if (deleted > 0) p.onPruned?.(deleted, Date.now() - now);
          }
        } catch (error) {
          if (!stopped) report(`run history: pruning runs beyond the retention failed (tried again in ${Math.round(everyMs / 60_000)} min): ${(error as Error).message}`);
        }
        later(everyMs);
      };
      later(p.delayMs ?? 60_000);
      const stop = (): void => {
        stopped = true;
        clearTimeout(timer);
        stoppers.delete(stop);
      };
      stoppers.add(stop);
      return stop;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const stop of [...stoppers]) stop();
      if (scheduled) {
        clearTimeout(scheduled as NodeJS.Timeout);
        clearImmediate(scheduled as NodeJS.Immediate);
        scheduled = undefined;
      }
      const deadline = Date.now() + (o.closeWaitMs ?? 5000);
      while (rows() > 0 || trims.size > 0 || inFlight) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        let timer: NodeJS.Timeout | undefined;
        const ok = await Promise.race([
          flushNow().then(() => true, () => false),
          new Promise<false>((r) => (timer = setTimeout(() => r(false), left))),
        ]);
        clearTimeout(timer);
        if (!ok) await new Promise((r) => setTimeout(r, Math.min(failDelay, Math.max(0, deadline - Date.now()))));
      }
      const lost = rows() + inFlightRows;
      if (lost > 0) report(`run history: ${lost} records and log lines could not be written to the backend ${backend.where} before closing; they are lost (each daemon's own store still has them)`);
      await backend.close();
    },
    async getRun(idOrPrefix) {
      const id = await backend.resolve(idOrPrefix);
      const [list, logRows, children] = await Promise.all([backend.attempts(id), backend.logs(id), backend.children(id)]);
      const run = list[list.length - 1];
      if (!run) throw unknownRun(idOrPrefix, backend.where);
      const details: RunDetails = { run, attempts: list, ...assembleLogs(logRows), children };
      const [parent, root] = await Promise.all([
        run.fromRunId !== undefined ? backend.latestAttempt(run.fromRunId) : undefined,
        run.rootRunId !== undefined && run.rootRunId !== id ? backend.latestAttempt(run.rootRunId) : undefined,
      ]);
      if (parent) details.parent = parent;
      if (root) details.root = root;
      return details;
    },
    latestAttempt: (id) => backend.latestAttempt(id),
    listRuns: (query) => backend.listRuns(query),
    lastRuns: (tasks) => backend.lastRuns(tasks),
  };
}
