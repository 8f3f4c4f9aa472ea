import { BackendError } from "./backend-error.js";

/** Where a fleet's BullMQ queue lives: a Redis server or a PostgreSQL database. */
export type BackendTarget =
  | {
      kind: "redis";
      host: string;
      port: number;
      /** Redis logical database (the URL's path). Default 0. */
      db: number;
      username?: string;
      password?: string;
      /** `rediss://`: connect with TLS. */
      tls: boolean;
      /** Key prefix of every key (BullMQ's `prefix`), so several projects share one server. */
      prefix: string;
      /** The URL without its password, for logs. */
      display: string;
    }
  | {
      kind: "postgres";
      /** The URL as given (node-postgres parses it). */
      connectionString: string;
      /** Schema holding BullMQ's tables, so several projects share one database. */
      schema: string;
      display: string;
    };

/** Options of `parseBackendUrl`. */
export interface BackendUrlOptions {
  /**
   * Namespace of this project on the server: the Redis key prefix, or the PostgreSQL schema.
   * Default: the URL's `prefix` (Redis) or `schema` (PostgreSQL) query parameter, else "fluid".
   */
  prefix?: string;
}

/** The default namespace (Redis key prefix, PostgreSQL schema). */
export const DEFAULT_PREFIX = "fluid";

const SCHEMA = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
const PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Parses `redis://[user:pass@]host[:port][/db][?prefix=p]`, `rediss://...`, or
 * `postgres://[user[:pass]@]host[:port]/database[?schema=s]` (also `postgresql://`). Throws a
 * BackendError for anything else.
 */
export function parseBackendUrl(url: string, options: BackendUrlOptions = {}): BackendTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new BackendError(`invalid backend URL ${JSON.stringify(redact(url))}`, { cause: error, hint: HINT });
  }
  const display = redact(url);
  if (parsed.protocol === "redis:" || parsed.protocol === "rediss:") {
    const path = parsed.pathname.replace(/^\//, "");
    const db = path === "" ? 0 : Number(path);
    if (!Number.isInteger(db) || db < 0) throw new BackendError(`invalid Redis database "${path}" in backend URL ${display}`, { hint: "the path of a redis:// URL is a database number, e.g. redis://127.0.0.1:6379/0" });
    const prefix = options.prefix ?? parsed.searchParams.get("prefix") ?? DEFAULT_PREFIX;
    if (!PREFIX.test(prefix)) throw new BackendError(`invalid key prefix "${prefix}" for backend ${display}`, { hint: "a prefix is 1-64 characters: letters, digits, _ . : -" });
    return {
      kind: "redis", host: parsed.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1", port: parsed.port ? Number(parsed.port) : 6379, db,
      ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
      ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
      tls: parsed.protocol === "rediss:", prefix, display,
    };
  }
  if (parsed.protocol === "postgres:" || parsed.protocol === "postgresql:") {
    const schema = options.prefix ?? parsed.searchParams.get("schema") ?? DEFAULT_PREFIX;
    if (!SCHEMA.test(schema)) throw new BackendError(`invalid schema "${schema}" for backend ${display}`, { hint: "a PostgreSQL schema is a letter or _ then letters, digits, _ or $ (at most 63)" });
    parsed.searchParams.delete("schema");
    return { kind: "postgres", connectionString: parsed.toString(), schema, display };
  }
  throw new BackendError(`unsupported backend URL ${display}`, { hint: HINT });
}

const HINT = 'use redis://host:port/db or postgres://user@host:port/database (e.g. "redis://127.0.0.1:6379/0")';

/** The URL with its password replaced by "***". */
function redact(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/i, "$1***@");
}
