/**
 * The HTTP API of `fluid serve` against a big history, and what it costs the daemon.
 *
 *   npx tsx bench/http.ts [rounds=5] [runs=1000000] [--throughput-only | --latency-only]
 *
 * 1. Latency. A project whose store holds `runs` recorded runs (1,000,000 by default, 50 tasks,
 *    one per 2 s over ~23 days, 2% failures; written in one transaction straight into the
 *    store's tables, which takes seconds), a daemon (`serve()`) on it and its HTTP server on a
 *    loopback port. Sequential keep-alive requests from this process (node:http), end to end,
 *    400 per route per round after 50 unmeasured: GET /api/runs?limit=50 (the first page, a
 *    page deep in the history through its cursor, one task, one state), /metrics, /api/tasks,
 *    /api/status. Reported: p50 and p99 per round, the median over rounds; targets p99 <= 20 ms
 *    for /api/runs?limit=50 and <= 50 ms for /metrics.
 * 2. Throughput cost. On a second, small project: a daemon runs 5,000 no-op runs (BENCH_HTTP_RUNS) queued at once
 *    (wall time from the first enqueue to the last run's end), in three conditions per round,
 *    in rotating order: no HTTP server; the HTTP server with no client; the HTTP server with
 *    20 idle dashboards holding GET /api/events open (in a child process that reads and drops
 *    what they receive, as browsers on other machines would). Reported, median over rounds:
 *    runs per second (wall, noisy on a shared machine) and the CPU time of the daemon's process
 *    per run (user + system, the cost the API adds, much less sensitive to other processes),
 *    each as a ratio to "no HTTP server"; target: the idle streams cost <= 5% CPU per run.
 *
 * The latency table has a peer measured in the same run: a bare node:http server answering
 * with the bytes of the same /api/runs page, the floor of serving it on this machine now.
 *
 *   npx tsx bench/http.ts [rounds=5] --fleet[=100000] [--redis-only | --postgres-only]
 *
 * 3. Fleet. The same routes on a daemon whose runs are the fleet's run history in a backend
 *    (docs/fleet.md): the history filled with `--fleet` runs (100,000 by default, same shape as
 *    above) through the history's own writer, a daemon (`serve()` with the backend) and its HTTP
 *    server; Redis and PostgreSQL on 127.0.0.1 (6379, 5432 database `test`), each in a key
 *    prefix / schema of the run's, deleted at the end.
 */
import { fork } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import "../src/index.js"; // publishes the public API the task modules import
import { daemonView } from "../src/cli/http-view.js";
import { serve, type Daemon } from "../src/daemon/serve.js";
import { startHttpServer, type HttpServer } from "../src/http/server.js";
import { openStore } from "../src/store/index.js";
import { median, percentile, printTable } from "./stats.js";


const ARGS = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const ROUNDS = Number(ARGS[0] ?? 5);
const RUNS = Number(ARGS[1] ?? 1_000_000);
const TASKS = 50;
const REQUESTS = 400;
const THROUGHPUT_RUNS = Number(process.env.BENCH_HTTP_RUNS ?? 5000);
const SSE_CLIENTS = 20;
const THROUGHPUT_ONLY = process.argv.includes("--throughput-only");
const LATENCY_ONLY = process.argv.includes("--latency-only");
const FLEET_ARG = process.argv.find((a) => a === "--fleet" || a.startsWith("--fleet="));
const FLEET_RUNS = FLEET_ARG?.includes("=") ? Number(FLEET_ARG.split("=")[1]) : 100_000;

function project(tasks: string): string {
  const dir = mkdtempSync(join(tmpdir(), "fluid-bench-http-"));
  mkdirSync(join(dir, "tasks"));
  mkdirSync(join(dir, "node_modules"));
  // The project imports fluid-tasks and zod from this checkout.
  const root = join(fileURLToPath(import.meta.url), "..", "..");
  writeFileSync(join(dir, "package.json"), '{"type":"module"}');
  for (const [name, target] of [["fluid-tasks", root], ["zod", join(root, "node_modules", "zod")]] as const) symlinkSync(target, join(dir, "node_modules", name));
  writeFileSync(join(dir, "fluid.config.ts"), `import { defineConfig } from "fluid-tasks";
export default defineConfig({ tasks: ["./tasks/*.ts"], store: { retention: { days: 3650, perTask: 10000000 } }, concurrency: 100 });\n`);
  writeFileSync(join(dir, "tasks", "t.ts"), tasks);
  return dir;
}

/** Writes `n` runs of TASKS tasks into the project's store, in one transaction. */
function fill(storePath: string, n: number): number {
  openStore({ path: storePath }).close(); // schema and indexes as the daemon makes them
  const db = new Database(storePath);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  const insert = db.prepare(
    `INSERT INTO runs (id, attempt, max_attempts, task, state, trigger, params, result, error, at, queued_at,
       started_at, ended_at, duration_ms, from_run_id, root_run_id, host, pid, exit_code)
     VALUES (?, 1, 1, ?, ?, 'schedule', '{}', ?, ?, ?, ?, ?, ?, ?, NULL, NULL, 'bench', 1, NULL)`,
  );
  const start = performance.now();
  const t0 = Date.now() - n * 2000;
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const at = t0 + i * 2000;
      const failed = i % 50 === 7;
      insert.run(`r${i.toString(16).padStart(12, "0")}`, `task${i % TASKS}`, failed ? "failure" : "success", failed ? null : "1",
        failed ? '{"name":"Error","message":"boom"}' : null, at, at, at + 3, at + 20, 17);
    }
  })();
  db.close();
  return (performance.now() - start) / 1000;
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** One GET, end to end, in ms; checks the status. */
function get(url: string): Promise<{ ms: number; body: string }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    request(url, { agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => (res.statusCode === 200 ? resolve({ ms: performance.now() - start, body }) : reject(new Error(`${url}: ${res.statusCode} ${body}`))));
    }).on("error", reject).end();
  });
}

/** p50 and p99 wall time of REQUESTS sequential GETs, and the CPU time of this process (server and client) per request. */
async function latency(base: string, path: string): Promise<{ p50: number; p99: number; cpu: number }> {
  for (let i = 0; i < 50; i++) await get(base + path);
  const times: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < REQUESTS; i++) times.push((await get(base + path)).ms);
  const used = process.cpuUsage(cpu);
  return { p50: percentile(times, 50), p99: percentile(times, 99), cpu: (used.user + used.system) / 1000 / REQUESTS };
}

/** The peer: a bare node:http server answering every request with the same bytes (the floor of serving such a page). */
async function bareServer(body: string): Promise<{ base: string; close: () => Promise<void> }> {
  const { createServer } = await import("node:http");
  const server = createServer((_, res) => res.writeHead(200, { "content-type": "application/json" }).end(body));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise((r) => { server.close(() => r()); server.closeAllConnections(); }) };
}

async function startDaemon(dir: string, onEnd?: () => void): Promise<Daemon> {
  const daemon = await serve({ cwd: dir, env: {}, graceMs: 1000 });
  if (onEnd) daemon.subscribe((e) => void (e.type === "run-end" && onEnd()));
  return daemon;
}

/** The routes measured, given a cursor deep in the history. */
function routesOf(cursor: string): Array<[string, string, number | undefined]> {
  return [
    ["GET /api/runs?limit=50", "/api/runs?limit=50", 20],
    ["GET /api/runs?limit=50&cursor= (10,500 runs deep)", `/api/runs?limit=50&cursor=${cursor}`, 20],
    ["GET /api/runs?limit=50&task=task7", "/api/runs?limit=50&task=task7", undefined],
    ["GET /api/runs?limit=50&state=failure", "/api/runs?limit=50&state=failure", undefined],
    ["GET /metrics", "/metrics", 50],
    ["GET /api/tasks (50 tasks)", "/api/tasks", undefined],
    ["GET /api/status", "/api/status", undefined],
  ];
}

/** A cursor 10,500 runs deep (21 pages of 500). */
async function deepCursor(base: string): Promise<string> {
  let cursor = (JSON.parse((await get(`${base}/api/runs?limit=500`)).body) as { nextCursor: string }).nextCursor;
  for (let i = 0; i < 20; i++) cursor = (JSON.parse((await get(`${base}/api/runs?limit=500&cursor=${cursor}`)).body) as { nextCursor: string }).nextCursor;
  return cursor;
}

/** Measures `routes` on `base` for ROUNDS rounds, with the bare-server peer, and prints the table. */
async function measure(base: string, routes: Array<[string, string, number | undefined]>): Promise<void> {
  const peer = await bareServer((await get(`${base}/api/runs?limit=50`)).body);
  const PEER = "peer: bare node:http, the same page's bytes";
  const results = new Map<string, { p50: number[]; p99: number[]; cpu: number[] }>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, path] of [...routes, [PEER, "", undefined] as const]) {
      const r = await latency(name === PEER ? peer.base : base, name === PEER ? "/" : path);
      const entry = results.get(name) ?? { p50: [], p99: [], cpu: [] };
      entry.p50.push(r.p50);
      entry.p99.push(r.p99);
      entry.cpu.push(r.cpu);
      results.set(name, entry);
    }
  }
  await peer.close();
  const peerP99 = median(results.get(PEER)!.p99);
  console.log(`load average while measuring: ${(await import("node:os")).loadavg().map((l) => l.toFixed(1)).join(" ")} (${(await import("node:os")).availableParallelism()} cores)\n`);
  printTable(["route", "p50 ms", "p99 ms", "p99 / peer", "CPU ms/req", "target p99", "ok"], [...routes, [PEER, "", undefined] as const].map(([name, , target]) => {
    const r = results.get(name)!;
    const p99 = median(r.p99);
    return [name, median(r.p50).toFixed(2), p99.toFixed(2), (p99 / peerP99).toFixed(2), median(r.cpu).toFixed(3), target === undefined ? "-" : `<= ${target}`, target === undefined ? "" : p99 <= target ? "yes" : "NO"];
  }));
}

/** Part 3: the same routes on a daemon that reads the fleet's run history (Redis, PostgreSQL). */
async function fleet(big: string): Promise<void> {
  const { parseBackendUrl } = await import("../src/fleet/backend-url.js");
  const { openFleetHistory } = await import("../src/store/fleet-history.js");
  const backends = [
    { name: "Redis", url: "redis://127.0.0.1:6379/0", skip: process.argv.includes("--postgres-only") },
    { name: "PostgreSQL", url: "postgres://postgres@127.0.0.1:5432/test", skip: process.argv.includes("--redis-only") },
  ];
  for (const b of backends.filter((x) => !x.skip)) {
    const ns = `fluid_bench_http_${process.pid}`;
    const url = `${b.url}?${b.name === "Redis" ? "prefix" : "schema"}=${ns}`;
    const target = parseBackendUrl(url);
    console.log(`\nfleet: ${b.name}, ${FLEET_RUNS.toLocaleString("en")} runs in the fleet's run history, ${ROUNDS} rounds\n`);
    try {
      const history = await openFleetHistory(target, { retentionDays: 3650, retentionPerTask: 10_000_000 });
      const start = performance.now();
      const t0 = Date.now() - FLEET_RUNS * 2000;
      for (let i = 0; i < FLEET_RUNS; i++) {
        const at = t0 + i * 2000;
        const failed = i % 50 === 7;
        history.writeAttempt({
          id: `r${i.toString(16).padStart(12, "0")}`, attempt: 1, maxAttempts: 1, task: `task${i % TASKS}`, state: failed ? "failure" : "success", trigger: "schedule",
          params: {}, ...(failed ? { error: { name: "Error", message: "boom" } } : { result: 1 }), queuedAt: at, startedAt: at + 3, endedAt: at + 20, durationMs: 17, host: "bench", pid: 1,
        });
        if (i % 5000 === 4999) await history.flush();
      }
      await history.flush();
      await history.close();
      console.log(`filled the run history: ${FLEET_RUNS.toLocaleString("en")} runs in ${((performance.now() - start) / 1000).toFixed(1)} s`);
      const daemon = await serve({ cwd: big, env: {}, graceMs: 1000, backend: url });
      const server = await startHttpServer(daemonView(daemon), { host: "127.0.0.1", port: 0 });
      const base = server.url.replace(/\/$/, "");
      try {
        await measure(base, routesOf(await deepCursor(base)));
      } finally {
        await server.close();
        await daemon.stop("bench done");
      }
    } finally {
      await dropNamespace(target);
    }
  }
}

/** Deletes the run's key prefix (Redis) or schema (PostgreSQL). */
async function dropNamespace(target: import("../src/fleet/backend-url.js").BackendTarget): Promise<void> {
  if (target.kind === "redis") {
    const { Redis } = await import("ioredis");
    const redis = new Redis({ host: target.host, port: target.port, db: target.db });
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${target.prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== "0");
    redis.disconnect();
  } else {
    const pg = (await import("pg")).default;
    const client = new pg.Client({ connectionString: target.connectionString });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${target.schema}" CASCADE`);
    await client.end();
  }
}

async function main(): Promise<void> {
  if (FLEET_ARG) {
    const big = project(Array.from({ length: TASKS }, (_, i) => `import { task } from "fluid-tasks";\nexport const task${i} = task({ name: "task${i}" }, async () => 1);`).join("\n").replace(/\nimport \{ task \} from "fluid-tasks";/g, ""));
    try {
      return await fleet(big);
    } finally {
      rmSync(big, { recursive: true, force: true });
    }
  }
  console.log(`fluid-tasks HTTP API bench: ${RUNS.toLocaleString("en")} runs in the store, ${ROUNDS} rounds, Node ${process.version}\n`);
  const big = project(Array.from({ length: TASKS }, (_, i) => `import { task } from "fluid-tasks";\nexport const task${i} = task({ name: "task${i}" }, async () => 1);`).join("\n").replace(/\nimport \{ task \} from "fluid-tasks";/g, ""));
  const small = project(`import { task } from "fluid-tasks";\nexport const noop = task({}, async () => {});\n`);
  try {
    if (THROUGHPUT_ONLY) return await throughput(small);
    const seconds = fill(join(big, ".fluid", "fluid.db"), RUNS);
    console.log(`filled the store: ${RUNS.toLocaleString("en")} runs in ${seconds.toFixed(1)} s`);
    const t0 = performance.now();
    const daemon = await startDaemon(big);
    const t1 = performance.now();
    const server = await startHttpServer(daemonView(daemon), { host: "127.0.0.1", port: 0 });
    console.log(`daemon start ${(t1 - t0).toFixed(0)} ms, HTTP server start (metrics seeded from the store) ${(performance.now() - t1).toFixed(0)} ms\n`);
    const base = server.url.replace(/\/$/, "");
    // The daemon's first retention pass starts a second after it: not part of what is measured.
    await new Promise((r) => setTimeout(r, 3000));
    await measure(base, routesOf(await deepCursor(base)));
    await server.close();
    await daemon.stop("bench done");
    if (!LATENCY_ONLY) await throughput(small);
  } finally {
    rmSync(big, { recursive: true, force: true });
    rmSync(small, { recursive: true, force: true });
  }
}

/** Part 2: the daemon's cost per run with and without the API and idle event streams. */
async function throughput(small: string): Promise<void> {
  {
    console.log(`\nthroughput: ${THROUGHPUT_RUNS.toLocaleString("en")} no-op runs queued at once (median of ${ROUNDS} rounds)\n`);
    let ended = 0;
    const d2 = await startDaemon(small, () => ended++);
    const conditions = ["no HTTP server", "HTTP server, no client", `HTTP server, ${SSE_CLIENTS} idle SSE streams`] as const;
    const rates = new Map<string, number[]>(conditions.map((c) => [c, []]));
    const cpus = new Map<string, number[]>(conditions.map((c) => [c, []]));
    const once = async (condition: (typeof conditions)[number]): Promise<{ rate: number; cpuUs: number }> => {
      let server: HttpServer | undefined;
      let child: ReturnType<typeof fork> | undefined;
      if (condition !== "no HTTP server") server = await startHttpServer(daemonView(d2), { host: "127.0.0.1", port: 0 });
      if (condition.includes("SSE")) {
        child = fork(fileURLToPath(import.meta.url), ["--sse-clients", `${server!.url}api/events`, String(SSE_CLIENTS)], { execArgv: ["--import", "tsx"] });
        await new Promise((r) => child!.once("message", r));
      }
      await new Promise((r) => setTimeout(r, 200));
      ended = 0;
      const cpu = process.cpuUsage();
      const start = performance.now();
      // Queued 100 at a time (each enqueue is a committed transaction; concurrent ones share commits).
      for (let i = 0; i < THROUGHPUT_RUNS; i += 100) await Promise.all(Array.from({ length: 100 }, () => d2.queue("noop")));
      while (ended < THROUGHPUT_RUNS) await new Promise((r) => setTimeout(r, 1));
      const rate = THROUGHPUT_RUNS / ((performance.now() - start) / 1000);
      const used = process.cpuUsage(cpu);
      child?.kill();
      await server?.close();
      return { rate, cpuUs: (used.user + used.system) / THROUGHPUT_RUNS };
    };
    await once("no HTTP server"); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < conditions.length; k++) {
        const c = conditions[(round + k) % conditions.length]!;
        const r = await once(c);
        rates.get(c)!.push(r.rate);
        cpus.get(c)!.push(r.cpuUs);
      }
    }
    const baseRate = median(rates.get(conditions[0])!);
    const baseCpu = median(cpus.get(conditions[0])!);
    printTable(["condition", "runs/s (wall)", "vs no HTTP", "CPU µs/run (daemon)", "CPU vs no HTTP", "target"], conditions.map((c) => {
      const r = median(rates.get(c)!);
      const cpu = median(cpus.get(c)!);
      return [c, r.toFixed(0), (r / baseRate).toFixed(3), cpu.toFixed(0), (cpu / baseCpu).toFixed(3), c.includes("SSE") ? (cpu / baseCpu <= 1.05 ? "<= 1.05 yes" : "<= 1.05 NO") : ""];
    }));
    await d2.stop("bench done");
  }
}

// The SSE client child: holds N streams open and drops what arrives.
if (process.argv[2] === "--sse-clients") {
  const [url, n] = [process.argv[3]!, Number(process.argv[4])];
  let open = 0;
  for (let i = 0; i < n; i++) {
    request(url, (res) => {
      res.on("data", () => {});
      if (++open === n) process.send!("ready");
    }).end();
  }
} else {
  await main();
}
