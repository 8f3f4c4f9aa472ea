import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { Queue, createPostgresBackend } from "bullmq";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, it } from "vitest";
import { parseBackendUrl, type BackendTarget } from "../../src/fleet/backend-url.js";
import { checkBackend } from "../../src/fleet/check-backend.js";
import { QUEUE_NAME } from "../../src/fleet/connection.js";

/** The servers this machine kind runs for fleet tests. */
export const REDIS_URL = "redis://127.0.0.1:6379/0";
export const POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";

/** True when something listens on 127.0.0.1:`port`. */
export async function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.setTimeout(1000);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });
}

/** Each backend with whether its server is up (a test skips a backend only when it is not). */
export const BACKENDS = [
  { name: "redis", url: REDIS_URL, up: await reachable(6379) },
  { name: "postgres", url: POSTGRES_URL, up: await reachable(5432) },
] as const;

/** Whether this machine has a `redis-server` binary (for the tests that start their own). */
export const HAS_REDIS_SERVER = spawnSync("redis-server", ["--version"]).status === 0;

let serial = 0;
/** A target with a namespace (key prefix / schema) of its own, and the function that deletes it. */
export function ownTarget(url: string): { target: BackendTarget; drop: () => Promise<void> } {
  const prefix = `fluid_test_${process.pid}_${Date.now().toString(36)}_${serial++}`;
  const target = parseBackendUrl(url, { prefix });
  return { target, drop: () => dropNamespace(target) };
}

/** Deletes every key under a Redis prefix, or a PostgreSQL schema. */
export async function dropNamespace(target: BackendTarget): Promise<void> {
  if (target.kind === "redis") {
    const redis = new Redis({ host: target.host, port: target.port, db: target.db });
    try {
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${target.prefix}:*`, "COUNT", 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== "0");
    } finally {
      redis.disconnect();
    }
  } else {
    const client = new pg.Client({ connectionString: target.connectionString });
    await client.connect();
    try {
      await client.query("SET client_min_messages = warning");
      await client.query(`DROP SCHEMA IF EXISTS "${target.schema}" CASCADE`);
    } finally {
      await client.end();
    }
  }
}

/** A plain BullMQ Queue on fluid's queue in `target`, as any BullMQ tool opens it. */
export function plainQueue(target: BackendTarget, name = QUEUE_NAME): { queue: Queue; close: () => Promise<void> } {
  if (target.kind === "redis") {
    const redis = new Redis({ host: target.host, port: target.port, db: target.db, maxRetriesPerRequest: null });
    const queue = new Queue(name, { connection: redis, prefix: target.prefix });
    return { queue, close: async () => (await queue.close(), redis.disconnect()) };
  }
  const queue = new Queue(name, { connection: { connectionString: target.connectionString, schema: target.schema, max: 2 } }, createPostgresBackend) as unknown as Queue;
  return { queue, close: () => queue.close() };
}

/** A free TCP port on 127.0.0.1 (for a redis-server of a test's own). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a redis-server of the test's own on `port` (append-only file in `dir`, so a restart
 * keeps the queue; `extra` arguments come last and win); resolves once it accepts connections.
 */
export async function startRedisServer(port: number, dir: string, extra: string[] = []): Promise<ChildProcess> {
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--save", "", ...extra], { stdio: ["ignore", "pipe", "ignore"] });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`redis-server exited ${code}`)));
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.includes("Ready to accept connections")) resolve();
    });
  });
  child.removeAllListeners("exit");
  return child;
}

/** Stops a child with SIGTERM (redis-server writes its append-only file) and waits for it. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

/** A TCP proxy on 127.0.0.1:`port` to 127.0.0.1:`target`: `stop` cuts every connection and stops listening (the server "goes away"), `start` listens again on the same port. */
export function tcpProxy(port: number, target: number): { start: () => Promise<void>; stop: () => Promise<void> } {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  return {
    start: () => new Promise((resolve, reject) => {
      server = createServer((client) => {
        const upstream = createConnection({ host: "127.0.0.1", port: target });
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on("error", () => (client.destroy(), upstream.destroy()));
          s.on("close", () => (sockets.delete(s), client.destroy(), upstream.destroy()));
        }
        client.pipe(upstream).pipe(client);
      });
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    }),
    stop: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (!server) return resolve();
      server.close(() => resolve());
      server = undefined;
    }),
  };
}

/**
 * Gives the calling describe block a prefix / schema of its own on a backend (checked before,
 * dropped after), and the `test` to declare its tests with: skipped, with the reason as a test
 * of its own, when the backend is not reachable.
 */
export function useOwnNamespace(backend: { name: string; url: string; up: boolean }): { test: typeof it; target: () => BackendTarget } {
  let namespace: ReturnType<typeof ownTarget> | undefined;
  beforeAll(async () => {
    if (!backend.up) return;
    namespace = ownTarget(backend.url);
    await checkBackend(namespace.target);
  });
  afterAll(async () => namespace?.drop());
  if (!backend.up) it.skip(`${backend.name} is not reachable on 127.0.0.1: start it to run these tests`, () => {});
  return {
    test: backend.up ? it : (it.skip as typeof it),
    target: () => {
      if (!namespace) throw new Error("the backend namespace is made in beforeAll: use target() inside a test");
      return namespace.target;
    },
  };
}
