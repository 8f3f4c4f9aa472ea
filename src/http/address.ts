import { isIP } from "node:net";
import { UsageError } from "../core/errors.js";

/** Where the HTTP server listens. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** The default host: the loopback interface, so nothing outside the machine reaches the API unless told. */
export const DEFAULT_HOST = "127.0.0.1";

/**
 * Reads `--http [host:]port`: "8080", ":8080", "0.0.0.0:8080", "[::1]:8080", "localhost:8080"
 * (no host: undefined, for the config's or DEFAULT_HOST). Port 0 asks the system for a free
 * port. Throws a UsageError naming `what` otherwise.
 */
export function parseListen(value: string, what = "--http"): { host: string | undefined; port: number } {
  const text = value.trim();
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`${what} must be [host:]port, e.g. 8080, 127.0.0.1:8080 or [::1]:8080; got "${value}"`);
  }
  const host = m[1] ?? m[2] ?? "";
  return { host: host === "" ? undefined : host, port };
}

/** Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost): only this machine can connect. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (h.startsWith("::ffff:")) return h.slice(7).startsWith("127.");
  return false;
}
