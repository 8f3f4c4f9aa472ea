import { StoreError } from "../core/errors.js";

/**
 * Rate-limits the reports of a store that cannot be written (disk full, I/O error, a lock held
 * too long): one report when an outage starts, failures during it only counted, and one
 * summary when a write lands again. Without it a consumer polling every few milliseconds
 * printed the same error dozens of times a second.
 */
export class OutageReporter {
  private readonly report: (error: StoreError) => void;
  private since: number | undefined;
  private failures = 0;

  /** `report` receives the two lines of an outage; one that throws is ignored. */
  constructor(report: (error: StoreError) => void) {
    this.report = report;
  }

  /** Whether writes are failing now. */
  get active(): boolean {
    return this.since !== undefined;
  }

  /** A write failed with a transient error: reports it when it starts an outage, else counts it. */
  failed(error: StoreError, kept: string): void {
    this.failures++;
    if (this.since !== undefined) return;
    this.since = Date.now();
    this.send(new StoreError(`${error.message} (${kept}; retrying with backoff, further failures are counted, not printed)`, { cause: error, ...(error.hint ? { hint: error.hint } : {}) }));
  }

  /** A write landed: ends an outage with a summary of it. */
  recovered(landed: string): void {
    if (this.since === undefined) return;
    const seconds = ((Date.now() - this.since) / 1000).toFixed(1);
    const failures = this.failures;
    this.since = undefined;
    this.failures = 0;
    this.send(new StoreError(`the run store is written again after ${seconds}s (${failures} failed attempts; ${landed})`));
  }

  private send(error: StoreError): void {
    try {
      this.report(error);
    } catch {
      // A throwing reporter must not break a write path or escape a timer.
    }
  }
}

/** The default reporter of stores and brokers: one line on stderr. */
export function printStoreError(error: StoreError): void {
  process.stderr.write(`fluid-tasks: ${error.message}${error.hint ? ` (${error.hint})` : ""}\n`);
}
