import { callListener } from "../core/call-listener.js";
import { StoreError } from "../core/errors.js";
import { OutageReporter } from "../persistence/outage.js";
import type { LogLine } from "../core/types.js";
import type { RunRow } from "../persistence/rows.js";
import { STATE_RANK } from "../persistence/state-order.js";
import type { RunState } from "../core/types.js";

/** One buffered write: an attempt row, log lines of one attempt, or a schedule fire. */
export type BufferedWrite =
  | { kind: "attempt"; row: RunRow }
  | { kind: "logs"; id: string; attempt: number; lines: LogLine[] }
  | { kind: "fire"; task: string; at: number };

/** What a WriteBuffer needs from its store. */
export interface WriteBufferOptions {
  /** Writes the entries in one transaction; throws when it cannot (and then writes nothing). */
  write: (entries: BufferedWrite[]) => void;
  /** Turns what `write` threw into a StoreError naming the file. */
  toError: (error: unknown) => StoreError;
  /** Whether writing the same entries again later may succeed (disk full, lock) rather than never (a bad row). */
  isTransient: (error: unknown) => boolean;
  /** Receives failures of flushes nobody called explicitly. */
  onError: (error: StoreError) => void;
  /** Buffered rows that trigger a flush at once instead of on the next tick. */
  batchRows: number;
  /** Most rows kept while writes fail; beyond it the oldest are dropped and counted. */
  maxRows: number;
}

/** First and longest wait before retrying a failed background flush, in ms. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;

/**
 * Buffers writes of a store and flushes them in one transaction: on the next tick after the
 * first buffered write, at once when `batchRows` are waiting, or when `flush()` is called.
 * Rewriting an attempt that is still buffered replaces it, so `running` then `success` in the
 * same tick costs one row. A failed background flush is reported to `onError`, never thrown;
 * the rows stay buffered (up to `maxRows`, dropping the oldest log lines first) and are
 * retried with backoff until they land. An outage (disk full, I/O error, lock) is reported
 * twice: when it starts and when writes land again (OutageReporter), not on every retry.
 */
export class WriteBuffer {
  private readonly options: WriteBufferOptions;
  /** Insertion order is age order, which both the flush and dropping the oldest rely on. */
  private entries = new Map<string, BufferedWrite>();
  private rows = 0;
  private dropped = 0;
  private failures = 0;
  private immediate: NodeJS.Immediate | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly outage: OutageReporter;

  constructor(options: WriteBufferOptions) {
    this.options = options;
    this.outage = new OutageReporter((error) => this.report(error));
  }

  /** Rows waiting to be written (attempts, log lines, fires). */
  get pendingRows(): number {
    return this.rows;
  }

  /** Buffers an attempt row, replacing a buffered row of the same (id, attempt) unless that one is further along. */
  putAttempt(row: RunRow): void {
    const key = `a${row[1]}\u0000${row[0]}`;
    const entry = this.entries.get(key);
    if (entry?.kind === "attempt") {
      if (rank(row) >= rank(entry.row)) entry.row = row;
    } else {
      this.entries.set(key, { kind: "attempt", row });
      this.rows++;
    }
    this.afterPut();
  }

  /** Buffers log lines of an attempt, after those of it already buffered. */
  putLogs(id: string, attempt: number, lines: readonly LogLine[]): void {
    const key = `l${attempt}\u0000${id}`;
    const entry = this.entries.get(key);
    if (entry?.kind === "logs") {
      for (const line of lines) entry.lines.push(line);
    } else {
      this.entries.set(key, { kind: "logs", id, attempt, lines: lines.slice() });
    }
    this.rows += lines.length;
    this.afterPut();
  }

  /** Buffers the last fire of a task's schedule, replacing a buffered one. */
  putFire(task: string, at: number): void {
    const key = `f${task}`;
    const entry = this.entries.get(key);
    if (entry?.kind === "fire") {
      entry.at = at;
    } else {
      this.entries.set(key, { kind: "fire", task, at });
      this.rows++;
    }
    this.afterPut();
  }

  /**
   * Writes every buffered row now. Throws a StoreError when it cannot; transient failures keep
   * the rows for a retry, unless `final` (the store is closing), where the error says how many
   * rows are lost.
   */
  flush(final = false): void {
    this.cancelTimers();
    if (this.entries.size === 0) return;
    try {
      this.options.write([...this.entries.values()]);
    } catch (error) {
      if (!this.options.isTransient(error)) {
        this.writeOneByOne();
        return;
      }
      if (!final) throw this.failed(error);
      const base = this.options.toError(error);
      throw new StoreError(`${base.message} (${this.rows} buffered rows were not recorded)`, { cause: error, hint: base.hint });
    }
    const landed = this.rows;
    this.entries = new Map();
    this.rows = 0;
    this.recovered(landed);
  }

  /** Flushes, reporting a failure to `onError` instead of throwing (an outage once, see the class). */
  flushQuietly(): void {
    try {
      this.flush();
    } catch (error) {
      const storeError = error instanceof StoreError ? error : this.options.toError(error);
      // failures > 0: a transient failure, the rows are kept; otherwise rows were refused and dropped.
      if (this.failures > 0) this.outage.failed(storeError, "records and log lines are kept in memory");
      else this.report(storeError);
    }
  }

  /** Cancels pending flushes; later writes are not scheduled. Buffered rows stay (call `flush` first). */
  stop(): void {
    this.stopped = true;
    this.cancelTimers();
  }

  private afterPut(): void {
    if (this.rows > this.options.maxRows) this.dropOldest();
    if (this.rows >= this.options.batchRows && this.failures === 0) this.flushQuietly();
    else this.schedule();
  }

  private schedule(): void {
    if (this.immediate !== undefined || this.retry !== undefined || this.stopped) return;
    if (this.failures === 0) {
      this.immediate = setImmediate(() => {
        this.immediate = undefined;
        this.flushQuietly();
      });
      return;
    }
    const delay = Math.min(RETRY_MIN_MS * 2 ** (this.failures - 1), RETRY_MAX_MS);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.flushQuietly();
    }, delay);
    // A retry alone must not keep a finished process alive; `close()` and the exit hook flush.
    this.retry.unref();
  }

  private cancelTimers(): void {
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    if (this.retry !== undefined) clearTimeout(this.retry);
    this.immediate = undefined;
    this.retry = undefined;
  }

  /** Counts a transient failure, schedules the retry, and returns the error to raise. */
  private failed(error: unknown): StoreError {
    this.failures++;
    this.schedule();
    const base = this.options.toError(error);
    const dropped = this.dropped > 0 ? `, ${this.dropped} older rows dropped` : "";
    return new StoreError(`${base.message} (${this.rows} rows kept to retry${dropped})`, { cause: error, hint: base.hint });
  }

  private recovered(landed = 0): void {
    const dropped = this.dropped;
    this.failures = 0;
    this.dropped = 0;
    this.outage.recovered(`${landed} kept rows written`);
    if (dropped > 0) {
      this.report(new StoreError(`the run store is written again, but ${dropped} rows buffered while it failed were dropped`));
    }
  }

  /**
   * After a failure a retry cannot cure (a row SQLite refuses), writes entries one at a time so
   * one bad row loses only itself; throws once at the end saying how many were dropped.
   */
  private writeOneByOne(): void {
    let bad = 0;
    let firstBad: unknown;
    for (const [key, entry] of this.entries) {
      try {
        this.options.write([entry]);
      } catch (error) {
        if (this.options.isTransient(error)) throw this.failed(error);
        bad += rowsOf(entry);
        firstBad ??= error;
      }
      this.entries.delete(key);
      this.rows -= rowsOf(entry);
    }
    this.recovered();
    if (bad > 0) {
      const base = this.options.toError(firstBad);
      throw new StoreError(`${base.message} (${bad} rows could not be recorded and were dropped)`, { cause: firstBad, hint: base.hint });
    }
  }

  /**
   * Drops the oldest rows beyond `maxRows`: log lines first (the first lines of the oldest
   * attempts), then whole entries, so a long outage loses output before it loses outcomes.
   */
  private dropOldest(): void {
    for (const logsOnly of [true, false]) {
      let excess = this.rows - this.options.maxRows;
      for (const [key, entry] of this.entries) {
        if (excess <= 0) return;
        if (logsOnly && entry.kind !== "logs") continue;
        if (entry.kind === "logs" && entry.lines.length > excess) {
          entry.lines.splice(0, excess);
          this.rows -= excess;
          this.dropped += excess;
          return;
        }
        const n = rowsOf(entry);
        this.entries.delete(key);
        this.rows -= n;
        this.dropped += n;
        excess -= n;
      }
    }
  }

  /** Tells `onError` (whose throw must not break the store or escape a timer). */
  private report(error: unknown): void {
    callListener(this.options.onError, error instanceof StoreError ? error : this.options.toError(error));
  }
}

function rowsOf(entry: BufferedWrite): number {
  return entry.kind === "logs" ? entry.lines.length : 1;
}

/** STATE_RANK of a row's state; an unknown state ranks as final, as in SQL. */
function rank(row: RunRow): number {
  return STATE_RANK[row[4] as RunState] ?? 2;
}
