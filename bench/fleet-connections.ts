/**
 * How many TCP connections one daemon opens to a fleet backend, for the queue mapping decided in
 * docs/fleet.md: one BullMQ queue per task (a Queue + a manual Worker per task) against one
 * queue for every task (job name = task name), with and without a shared connection.
 *
 *   npx tsx bench/fleet-connections.ts [tasks=100]
 *
 * Needs Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (database `test`). Counts this
 * process's established sockets to each port (`ss`), after every Worker fetched once.
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { Queue, Worker, createPostgresBackend, runMigrations } from "bullmq";

const TASKS = Number(process.argv[2] ?? 100);
const REDIS = { host: "127.0.0.1", port: 6379 };
const PG_URL = "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA = `fluid_conn_${process.pid}`;

/** This process's established TCP connections to `port`. */
function sockets(port: number): number {
  const out = execFileSync("ss", ["-Htnp", "state", "established", `( dport = :${port} )`], { encoding: "utf8" });
  return out.split("\n").filter((line) => line.includes(`pid=${process.pid},`)).length;
}

type Closable = { close(): Promise<void> };

/** Opens `queues` queues, each with a Queue and a manual Worker that fetches once; returns the socket count. */
async function measure(backend: "redis" | "postgres", queues: number, shared: boolean): Promise<number> {
  const port = backend === "redis" ? 6379 : 5432;
  const opened: Closable[] = [];
  const prefix = `fluid-conn-${process.pid}`;
  let sharedRedis: Redis | undefined;
  let pool: pg.Pool | undefined;
  if (shared && backend === "redis") sharedRedis = new Redis({ ...REDIS, maxRetriesPerRequest: null });
  if (shared && backend === "postgres") pool = new pg.Pool({ connectionString: PG_URL, max: 4, options: `-c search_path=${SCHEMA}` });
  try {
    for (let i = 0; i < queues; i++) {
      const name = `q${i}`;
      if (backend === "redis") {
        const connection = sharedRedis ?? REDIS;
        const queue = new Queue(name, { connection, prefix });
        const worker = new Worker(name, null, { connection, prefix, autorun: false });
        opened.push(queue, worker);
        await queue.waitUntilReady();
        await worker.getNextJob(randomUUID(), { block: false });
      } else {
        const connection = pool ?? { connectionString: PG_URL, schema: SCHEMA };
        const queue = new Queue(name, { connection }, createPostgresBackend);
        const worker = new Worker(name, null, { connection, autorun: false }, createPostgresBackend);
        opened.push(queue, worker);
        await queue.waitUntilReady();
        await queue.add("t", {});
        await worker.getNextJob(randomUUID(), { block: false });
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    return sockets(port);
  } finally {
    for (const c of opened.reverse()) await c.close().catch(() => {});
    sharedRedis?.disconnect();
    await pool?.end();
  }
}

async function main(): Promise<void> {
  const setup = new pg.Client({ connectionString: PG_URL });
  await setup.connect();
  await runMigrations(setup as never, SCHEMA);
  const rows: Array<[string, string, number]> = [];
  try {
    for (const backend of ["redis", "postgres"] as const) {
      for (const [label, queues, shared] of [
        [`${TASKS} queues (one per task), own connections`, TASKS, false],
        [`${TASKS} queues (one per task), one shared connection/pool`, TASKS, true],
        ["10 queues (one per task), own connections", 10, false],
        ["1 queue (job name = task name), own connections", 1, false],
        ["1 queue (job name = task name), one shared connection/pool", 1, true],
      ] as const) {
        try {
          // A layout that cannot open (PostgreSQL's max_connections, a pool too small for its LISTEN clients) hangs: give up after 60 s.
          let timer: NodeJS.Timeout | undefined;
          const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("did not open within 60 s")), 60_000)));
          rows.push([backend, label, await Promise.race([measure(backend, queues, shared), limit]).finally(() => clearTimeout(timer))]);
          console.error(`${backend} ${label}: ${rows.at(-1)![2]}`);
        } catch (error) {
          rows.push([backend, `${label}: FAILED ${(error as Error).message.split("\n")[0]}`, NaN]);
        }
      }
    }
  } finally {
    await setup.query("SET client_min_messages = warning");
    await setup.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await setup.end();
    const r = new Redis(REDIS);
    const keys = await r.keys(`fluid-conn-${process.pid}:*`);
    if (keys.length) await r.del(...keys);
    r.disconnect();
  }
  console.log("| backend | layout | TCP connections of the process |\n| --- | --- | --- |");
  for (const [backend, label, n] of rows) console.log(`| ${backend} | ${label} | ${n} |`);
}

await main();
// A layout that hung keeps its half-open pool: leave without waiting for it.
process.exit(0);
