import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { createAdaptorServer } from "@hono/node-server";
import { UsageError } from "../core/errors.js";
import { packageRoot } from "../package-root.js";
import { isLoopback, type ListenAddress } from "./address.js";
import type { ApiParts } from "./api-context.js";
import { createApp } from "./app.js";
import { Metrics } from "./metrics.js";
import { SseHub } from "./sse.js";
import { dashboardDir } from "./static-assets.js";
import type { DaemonView, ViewEvent } from "./view.js";
import { useZod } from "./zod.js";

/** Options of `startHttpServer`. */
export interface HttpServerOptions extends ListenAddress {
  /**
   * Bearer token of the API (config `http.token`, or FLUID_TOKEN). Mutating requests need it;
   * without one the API is read-only. Required when `host` is not a loopback address.
   * @default undefined
   */
  token?: string | undefined;
  /**
   * Largest request body, bytes.
   * @default 1048576 (1 MiB)
   */
  bodyLimit?: number;
  /**
   * /readyz says not ready when an enabled schedule's fire is this far overdue, ms.
   * @default 60000
   */
  overdueToleranceMs?: number;
  /** The clock (epoch ms), for tests. Default Date.now. */
  now?: () => number;
  /** The dashboard's files. Default: found beside the package (see `dashboardDir`). */
  dashboardDir?: string;
  /**
   * How long live events are gathered before they are written to the event streams, ms.
   * @default 200
   */
  sseBatchMs?: number;
  /** Receives errors the API answered with a 500 (for the daemon's log). */
  onError?: (error: unknown) => void;
  /** The zod the project's tasks were built with (see `useZod`). Default: the task layer's. */
  zod?: typeof import("zod");
}

/** A listening HTTP server. */
export interface HttpServer {
  /** The address it listens on, e.g. "http://127.0.0.1:8080/" (with the real port when 0 was asked). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Whether every route (not only the mutating ones) needs the token: the address is not loopback. */
  readonly tokenForAll: boolean;
  /** Whether a token is set (without one the API is read-only). */
  readonly hasToken: boolean;
  /** Ends event streams and open connections and stops listening. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves the daemon's API, metrics, health and dashboard over HTTP. Refuses (a UsageError) a
 * non-loopback address without a token, and an address it cannot listen on.
 */
export async function startHttpServer(view: DaemonView, options: HttpServerOptions): Promise<HttpServer> {
  const tokenForAll = !isLoopback(options.host);
  if (tokenForAll && !options.token) {
    throw new UsageError(`the HTTP API would listen on ${options.host}, beyond this machine, without a token`, {
      hint: "set FLUID_TOKEN (or http.token in fluid.config.ts), or listen on 127.0.0.1",
    });
  }
  if (options.zod) useZod(options.zod);
  const now = options.now ?? Date.now;
  const metrics = new Metrics(view, { now });
  const hub = new SseHub({ batchMs: options.sseBatchMs ?? 200 });
  const parts: ApiParts = {
    view, metrics, hub, now, logListeners: new Map(), overdueToleranceMs: options.overdueToleranceMs ?? 60_000,
    version: safeVersion(), host: options.host,
  };
  const unsubscribe = view.subscribe((event) => dispatch(parts, event));
  const app = createApp(parts, {
    token: options.token, tokenForAll, dashboardDir: options.dashboardDir ?? dashboardDir(),
    ...(options.bodyLimit !== undefined ? { bodyLimit: options.bodyLimit } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
  });
  // Node's own Request/Response stay in place (the default would swap the process's globals,
  // which task code running inline shares).
  const server = createAdaptorServer({ fetch: app.fetch, overrideGlobalObjects: false }) as Server;
  server.keepAliveTimeout = 5000;
  server.requestTimeout = 30_000; // a slow client cannot hold a request forever (streams are responses, not requests)
  server.headersTimeout = 10_000;
  const cleanup = (): void => {
    unsubscribe();
    hub.close();
    metrics.close();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    cleanup();
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${options.host}:${options.port}`;
    throw new UsageError(
      code === "EADDRINUSE" ? `cannot listen on ${where}: the port is in use` : code === "EACCES" ? `cannot listen on ${where}: permission denied` : `cannot listen on ${where}: ${(error as Error).message}`,
      { hint: "pick another port with --http [host:]port (0 takes a free one)", cause: error },
    );
  }
  const address = server.address() as AddressInfo;
  const hostText = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${hostText}:${address.port}/`,
    host: address.address,
    port: address.port,
    tokenForAll,
    hasToken: Boolean(options.token),
    close() {
      closing ??= new Promise<void>((resolve) => {
        cleanup();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Feeds one daemon event to the metrics, the event streams and the log streams. */
function dispatch(parts: ApiParts, event: ViewEvent): void {
  switch (event.type) {
    case "log": {
      const listeners = parts.logListeners.get(event.line.runId);
      if (listeners) {
        const { ts, level, message, attempt } = event.line;
        for (const l of listeners) l({ type: "log", data: { ts, level, message, attempt } });
      }
      return;
    }
    case "run-start":
      if (parts.hub.size === 0) return; // nothing to build: the common case costs a size check
      parts.hub.publish("run-start", { id: event.run.id, task: event.run.task, attempt: event.run.attempt, trigger: event.run.trigger, at: parts.now() });
      return;
    case "run-end": {
      parts.metrics.observe(event);
      if (parts.hub.size > 0) parts.hub.publish("run-end", {
        id: event.run.id, task: event.run.task, attempt: event.run.attempt, state: event.state, durationMs: event.durationMs, at: parts.now(),
        ...(event.error ? { error: { name: event.error.name, message: event.error.message } } : {}),
        ...(event.retryInMs !== undefined ? { retryInMs: event.retryInMs } : {}),
      });
      if (event.retryInMs === undefined) {
        const listeners = parts.logListeners.get(event.run.id);
        if (listeners) for (const l of [...listeners]) l({ type: "end", data: null });
      }
      return;
    }
    case "fire":
      if (parts.hub.size === 0) return;
      parts.hub.publish("run-queued", { id: event.runId, task: event.fire.task, trigger: "schedule", at: parts.now() });
      return;
    case "queued":
      if (parts.hub.size === 0) return;
      parts.hub.publish("run-queued", { id: event.runId, task: event.task, trigger: "queue", at: parts.now() });
      return;
    case "fire-skipped":
      parts.metrics.observe(event);
      parts.hub.publish("fire-skipped", { task: event.fire.task, scheduledAt: event.fire.scheduledAt, reason: event.reason, skipped: event.skipped });
      return;
  }
}

function safeVersion(): string {
  try {
    return packageRoot().version;
  } catch {
    return "0.0.0";
  }
}
