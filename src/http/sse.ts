import type { ServerResponse } from "node:http";

/** Headers of an event stream (no compression, no caching, no proxy buffering). */
export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  connection: "keep-alive",
  "x-accel-buffering": "no",
};

/** One message of an event stream: `event: <type>` and one line of JSON. */
export function sseMessage(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Options of `SseHub`. */
export interface SseHubOptions {
  /**
   * Messages are gathered for this long and written to every client as one chunk, so a burst
   * of runs costs one write per client, not one per message, ms.
   * @default 100
   */
  batchMs?: number;
  /**
   * A comment line is sent this often so proxies and browsers keep an idle stream open, ms.
   * @default 15000
   */
  keepAliveMs?: number;
  /**
   * Most messages written per batch; beyond it the rest of the batch is replaced by one
   * `overflow` message (`{ dropped }`: re-fetch what you show), so a flood of runs costs the
   * daemon a bounded amount per client.
   * @default 50
   */
  maxPerBatch?: number;
}

/**
 * The open event streams of GET /api/events. A message is serialised once and written to
 * every client in one batched chunk; with no client, `publish` costs a Set size check. An idle
 * client costs nothing but the keep-alive comment.
 */
export class SseHub {
  private readonly clients = new Set<ServerResponse>();
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private dropped = 0;
  private readonly batchMs: number;
  private readonly keepAliveMs: number;
  private readonly maxPerBatch: number;

  constructor(options: SseHubOptions = {}) {
    this.batchMs = options.batchMs ?? 100;
    this.keepAliveMs = options.keepAliveMs ?? 15_000;
    this.maxPerBatch = options.maxPerBatch ?? 50;
  }

  /** Open streams. */
  get size(): number {
    return this.clients.size;
  }

  /** Takes over a response: writes the stream's headers and `first`, and keeps it until the client goes. */
  add(res: ServerResponse, first: string): void {
    res.writeHead(200, SSE_HEADERS);
    res.write(first);
    this.clients.add(res);
    res.on("close", () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stopKeepAlive();
    });
    this.keepAlive ??= setInterval(() => this.writeAll(": ping\n\n"), this.keepAliveMs).unref();
  }

  /** Sends a message to every open stream (within `batchMs`). */
  publish(type: string, data: unknown): void {
    if (this.clients.size === 0) return;
    if (this.pending.length < this.maxPerBatch) this.pending.push(sseMessage(type, data));
    else this.dropped++;
    this.timer ??= setTimeout(() => this.flush(), this.batchMs).unref();
  }

  /** Writes what is pending now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.dropped) this.pending.push(sseMessage("overflow", { dropped: this.dropped }));
    this.dropped = 0;
    if (this.pending.length === 0) return;
    // Encoded once, the same bytes for every client.
    const chunk = Buffer.from(this.pending.join(""));
    this.pending = [];
    this.writeAll(chunk);
  }

  /** Ends every stream and stops the timers. */
  close(): void {
    this.flush();
    this.stopKeepAlive();
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private writeAll(chunk: string | Buffer): void {
    for (const res of this.clients) {
      // A client that does not read is dropped rather than buffered without end.
      if (res.writableLength > 1 << 20) res.destroy();
      else res.write(chunk);
    }
  }

  private stopKeepAlive(): void {
    clearInterval(this.keepAlive);
    this.keepAlive = undefined;
  }
}
