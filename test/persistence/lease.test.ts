import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { describe, expect, it, onTestFinished } from "vitest";
import { acquireLease, ensureLeaseTable, leaseVerdict, readLease, releaseLease, renewLease, thisProcess, type LeaseHolder, type LeaseProbe } from "../../src/persistence/lease.js";
import { isStarterAlive, pidNamespace, processStart, processStartedAt } from "../../src/persistence/pid-alive.js";
import { useTempDirs } from "../broker/temp-dirs.js";
import { startGatedChild } from "../helpers/gated-child.js";

const tempDir = useTempDirs();
const src = join(import.meta.dirname, "..", "..", "src");
const leaseModule = pathToFileURL(join(src, "persistence", "lease.ts")).href;
const sqliteModule = pathToFileURL(join(src, "persistence", "open-database.ts")).href;
const tsxApi = pathToFileURL(join(src, "..", "node_modules", "tsx", "dist", "esm", "api", "index.mjs")).href;

/** A pid above Linux's pid_max limit (2^22): never alive. */
const DEAD_PID = 99_999_999;

const holder = (over: Partial<LeaseHolder> = {}): LeaseHolder => ({
  owner: "token-a", host: "h1", pid: 100, pidNamespace: "pid:[1]", start: { bootTime: 1000, startTicks: 50 }, acquiredAt: 0, heartbeatAt: 0, ...over,
});
const probe = (over: Partial<LeaseProbe> = {}): LeaseProbe => ({
  host: "h1", pidNamespace: "pid:[1]", isAlive: () => true, startOf: () => ({ bootTime: 1000, startTicks: 50 }), ...over,
});

describe("lease rules", () => {
  it("same host: a live holder binds however old its heartbeat; a dead pid or a reused pid is stale at once", () => {
    expect(leaseVerdict(holder(), 3_600_000, 10_000, probe())).toMatchObject({ stale: false });
    expect(leaseVerdict(holder(), 1, 10_000, probe({ isAlive: () => false }))).toMatchObject({ stale: true, why: "pid 100 is gone" });
    // pid reuse (pid 1 of a restarted container in the same namespace, an unrelated process)
    expect(leaseVerdict(holder(), 1, 10_000, probe({ startOf: () => ({ bootTime: 1000, startTicks: 51 }) }))).toMatchObject({ stale: true, why: "pid 100 is now another process" });
    expect(leaseVerdict(holder(), 1, 10_000, probe({ startOf: () => ({ bootTime: 9000, startTicks: 50 }) }))).toMatchObject({ stale: true });
    // btime read a second apart is the same boot
    expect(leaseVerdict(holder(), 1, 10_000, probe({ startOf: () => ({ bootTime: 1001, startTicks: 50 }) }))).toMatchObject({ stale: false });
  });

  it("another host, or another pid namespace under the same host name: stale only once the heartbeat is older than the window", () => {
    for (const p of [probe({ host: "h2" }), probe({ pidNamespace: "pid:[2]" })]) {
      // its pid means nothing here, dead or alive
      expect(leaseVerdict(holder({ heartbeatAt: 0 }), 4_000, 10_000, { ...p, isAlive: () => false })).toEqual({ stale: false, why: "its heartbeat is recent", staleInMs: 6_000 });
      expect(leaseVerdict(holder({ heartbeatAt: 0 }), 10_001, 10_000, p)).toMatchObject({ stale: true, why: "its heartbeat is 10s old" });
    }
  });

  it("reads this process's start from /proc, and tells a pid started after an attempt from the one that started it", () => {
    const start = processStart(process.pid);
    expect(start).toBeDefined();
    expect(processStart(DEAD_PID)).toBeUndefined();
    const startedAt = processStartedAt(process.pid)!;
    expect(Math.abs(startedAt - (Date.now() - process.uptime() * 1000))).toBeLessThan(3_000);
    expect(pidNamespace()).toMatch(/^pid:\[\d+\]$/);
    expect(isStarterAlive(process.pid, Date.now())).toBe(true);
    expect(isStarterAlive(process.pid, undefined)).toBe(true);
    // An attempt started an hour before this process: this process is not the one that started it.
    expect(isStarterAlive(process.pid, startedAt - 3_600_000)).toBe(false);
    expect(isStarterAlive(DEAD_PID, Date.now())).toBe(false);
  });
});

describe("lease in the store", () => {
  it("is taken when free or stale, refused while it binds, renewed and released only by its owner", () => {
    const db = new Database(join(tempDir(), "s.db"));
    try {
      const a = thisProcess(1_000);
      expect(acquireLease(db, a, 10_000)).toEqual({ acquired: true, holder: a });
      expect(readLease(db)).toEqual(a);
      const b = thisProcess(2_000);
      expect(acquireLease(db, b, 10_000)).toMatchObject({ acquired: false, holder: a, verdict: { stale: false } });
      expect(renewLease(db, a.owner, 3_000)).toBe(true);
      expect(readLease(db)!.heartbeatAt).toBe(3_000);
      // a lease whose pid is gone is taken over, and the taker learns whose it was
      db.prepare("UPDATE fluid_lease SET pid = ?").run(DEAD_PID);
      expect(acquireLease(db, b, 10_000)).toMatchObject({ acquired: true, previous: { holder: { owner: a.owner, pid: DEAD_PID }, why: `pid ${DEAD_PID} is gone` } });
      expect(renewLease(db, a.owner, 4_000)).toBe(false);
      expect(releaseLease(db, a.owner)).toBe(false);
      expect(releaseLease(db, b.owner)).toBe(true);
      expect(readLease(db)).toBeUndefined();
    } finally {
      db.close();
    }
  });

  it("1,000 races for a stale lease between 3 connections each: exactly one winner each time", async () => {
    // tmpfs where there is one: the races make 3,000 small files
    const dir = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "fluid-lease-race-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const FILES = 1000;
    // Half the files hold a lease of a dead pid on this host, half one of another host whose heartbeat stopped long ago.
    const seed = (path: string, host: string, pid: number): void => {
      const db = new Database(path);
      db.pragma("journal_mode = WAL");
      ensureLeaseTable(db);
      db.prepare("INSERT INTO fluid_lease (name, owner, host, pid, acquired_at, heartbeat_at) VALUES ('daemon', 'dead-owner', ?, ?, 0, 0)").run(host, pid);
      db.close(); // checkpoints: the copies are complete files
    };
    seed(join(dir, "local.db"), hostname(), DEAD_PID);
    seed(join(dir, "remote.db"), "gone-host", 4242);
    for (let i = 0; i < FILES; i++) copyFileSync(join(dir, i % 2 === 0 ? "local.db" : "remote.db"), join(dir, `r${i}.db`));

    // A racer process runs 2 groups of 3 threads, each thread with its own connection; group g
    // takes files g, g+2, ... and its threads meet at a barrier before each file.
    const thread = join(dir, "thread.mts");
    writeFileSync(thread, `
import { workerData, parentPort } from "node:worker_threads";
import { openDatabase } from ${JSON.stringify(sqliteModule)};
import { acquireLease, thisProcess } from ${JSON.stringify(leaseModule)};
const { dir, files, group, groups, shared, size, index } = workerData;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const b = new Int32Array(shared);
const barrier = () => {
  const gen = Atomics.load(b, 1);
  if (Atomics.add(b, 0, 1) === size - 1) {
    Atomics.store(b, 0, 0);
    Atomics.add(b, 1, 1);
    Atomics.notify(b, 1);
  } else {
    while (Atomics.load(b, 1) === gen) Atomics.wait(b, 1, gen, 1000);
  }
};
const won = [];
const spans = [];
for (let i = group; i < files; i += groups) {
  const db = openDatabase(dir + "/r" + i + ".db");
  db.pragma("busy_timeout = 5000");
  db.pragma("synchronous = NORMAL"); // as the daemon sets it
  db.prepare("SELECT count(*) FROM fluid_lease").get(); // the schema is read now, not in the race
  const me = thisProcess();
  // One thread in turn holds the write lock for 2 ms while the others call acquireLease and
  // wait for it, so every attempt is under way at once when the lock is let go.
  const gate = (i - group) / groups % size === index;
  barrier();
  if (gate) db.exec("BEGIN IMMEDIATE");
  barrier();
  if (gate) {
    Atomics.wait(sleeper, 0, 0, 2);
    db.exec("COMMIT");
  }
  const start = performance.timeOrigin + performance.now();
  if (acquireLease(db, me, 10000).acquired) won.push([i, me.owner]);
  spans.push([i, start, performance.timeOrigin + performance.now()]);
  db.close();
}
parentPort.postMessage({ won, spans });
`);
    // Worker threads do not inherit tsx's loader on Node 20: a plain entry registers it first.
    const threadEntry = join(dir, "thread.mjs");
    writeFileSync(threadEntry, `import { register } from ${JSON.stringify(tsxApi)};\nregister();\nawait import(${JSON.stringify(pathToFileURL(thread).href)});\n`);
    const script = join(dir, "racer.mts");
    writeFileSync(script, `
import { Worker } from "node:worker_threads";
import { readdirSync, writeFileSync } from "node:fs";
const [dir, files, racers] = process.argv.slice(2);
process.stdout.write("ready\\n");
await new Promise((resolve) => process.stdin.once("data", resolve));
const results = await Promise.all([0, 1].flatMap((group) => {
  const shared = new SharedArrayBuffer(8);
  return [0, 1, 2].map((index) => new Promise((resolve, reject) => {
    const w = new Worker(${JSON.stringify(threadEntry)}, { workerData: { dir, files: Number(files), group, groups: 2, shared, size: 3, index } });
    w.once("message", resolve);
    w.once("error", reject);
  }));
}));
process.stdout.write(JSON.stringify({ won: results.flatMap((r) => r.won), spans: results.flatMap((r) => r.spans) }) + "\\n");
// Stay alive until every racer is done: a winner that exits leaves a stale lease, rightly taken by a later racer.
writeFileSync(dir + "/done." + process.pid, "");
const sleeper = new Int32Array(new SharedArrayBuffer(4));
while (readdirSync(dir).filter((f) => f.startsWith("done.")).length < Number(racers)) Atomics.wait(sleeper, 0, 0, 10);
`);
    const racers = Array.from({ length: 1 }, () => startGatedChild(script, [dir, String(FILES), "1"]));
    await Promise.all(racers.map((r) => r.ready));
    for (const r of racers) r.go();
    const results = await Promise.all(racers.map((r) => r.done));
    const winners = new Map<number, string[]>();
    const spans = new Map<number, Array<[number, number]>>();
    for (const r of results) {
      expect(r, r.stderr).toMatchObject({ code: 0, stderr: "" });
      const out = JSON.parse(r.stdout.split("\n").filter(Boolean).pop()!) as { won: Array<[number, string]>; spans: Array<[number, number, number]> };
      for (const [i, owner] of out.won) winners.set(i, [...(winners.get(i) ?? []), owner]);
      for (const [i, start, end] of out.spans) spans.set(i, [...(spans.get(i) ?? []), [start, end]]);
    }
    // The test proves something only if the attempts on a file overlapped in time: count those races
    // (an attempt waiting for the lock overlaps every other; the gate's own may come after).
    const raced = [...spans.values()].filter((attempts) =>
      attempts.some(([start, end], a) => attempts.some(([start2], b) => a !== b && start2 >= start && start2 <= end)),
    ).length;
    expect(raced).toBeGreaterThan(FILES * 0.9);
    const doubles = [...winners].filter(([, owners]) => owners.length !== 1);
    expect(doubles).toEqual([]);
    expect(winners.size).toBe(FILES);
    // The lease each file holds is its one winner's.
    for (const i of [0, 1, 499, 998, 999]) {
      const db = new Database(join(dir, `r${i}.db`), { readonly: true });
      expect(readLease(db)!.owner).toBe(winners.get(i)![0]);
      db.close();
    }
  }, 60_000);
});
