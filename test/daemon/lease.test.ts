import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { ensureLeaseTable } from "../../src/persistence/lease.js";
import { pidNamespace, processStart } from "../../src/persistence/pid-alive.js";
import { useServe, type Served } from "../helpers/serve.js";
import { CONFIG, fluid, tempProject } from "../helpers/cli.js";

// The lease on the store, through real `fluid serve` processes: who may take it, and what a
// daemon does when it loses it or its store file.

const TASKS = `
import { task } from "fluid-tasks";
import { z } from "zod";
export const nap = task({ params: z.object({ ms: z.number().default(50) }), timeout: "1m" }, async (ctx) => {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ctx.params.ms);
    ctx.signal.addEventListener("abort", () => { clearTimeout(t); reject(ctx.signal.reason); }, { once: true });
  });
  return "rested";
});
`;

/** A pid above Linux's pid_max limit (2^22): never alive. */
const DEAD_PID = 99_999_999;


const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function project(): { dir: string; store: string } {
  const p = tempProject({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
  cleanups.push(p.cleanup);
  return { dir: p.dir, store: join(p.dir, ".fluid", "fluid.db") };
}

const serve = useServe();
/** Starts `fluid serve --log-format json` in `dir` (heartbeat every 200 ms) and collects its JSON lines. */
const startServe = (dir: string, env: Record<string, string> = {}): Served =>
  serve(dir, { args: ["--grace", "5s"], env: { FLUID_LEASE_HEARTBEAT_MS: "200", ...env } });

/** Runs `fn` on a connection of its own to the store file, as another process would. */
function sql<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path);
  try {
    db.pragma("busy_timeout = 5000");
    return fn(db);
  } finally {
    db.close();
  }
}

interface SeedLease {
  owner?: string;
  host?: string;
  pid?: number;
  pidNs?: string | null;
  start?: { bootTime: number; startTicks: number } | null;
  heartbeatAt?: number;
}

/** Writes a lease row as an earlier daemon would have left it (the file may not exist yet). */
function seedLease(path: string, l: SeedLease): void {
  mkdirSync(join(path, ".."), { recursive: true });
  sql(path, (db) => {
    db.pragma("journal_mode = WAL");
    ensureLeaseTable(db);
    db.prepare(
      `INSERT OR REPLACE INTO fluid_lease (name, owner, host, pid, pid_ns, boot_time, start_ticks, acquired_at, heartbeat_at)
       VALUES ('daemon', ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(l.owner ?? "old-owner", l.host ?? hostname(), l.pid ?? DEAD_PID, l.pidNs ?? null, l.start?.bootTime ?? null, l.start?.startTicks ?? null, Date.now(), l.heartbeatAt ?? Date.now());
  });
}

/** Also leaves the `<store>.lock` file the lock of earlier versions wrote: it means nothing now. */
function seedOldLock(path: string, pid: number, host: string): void {
  writeFileSync(`${path}.lock`, `${pid} ${host}\n`);
}

const lease = (path: string) => sql(path, (db) => db.prepare("SELECT * FROM fluid_lease").get()) as Record<string, unknown> | undefined;

describe("the daemon lease (real processes)", () => {
  it("takes over a lease whose pid is alive but is another process (pid reuse), and gives it up on a clean stop", async () => {
    const { dir, store } = project();
    // This test process is alive, but it is not the process that wrote the lease: another start time.
    const start = processStart(process.pid)!;
    seedLease(store, { pid: process.pid, pidNs: pidNamespace() ?? null, start: { bootTime: start.bootTime, startTicks: start.startTicks - 1 } });
    seedOldLock(store, process.pid, hostname());
    const s = startServe(dir);
    await s.waitFor((l) => l.event === "started");
    expect(lease(store)).toMatchObject({ pid: s.child.pid, host: hostname() });
    expect(lease(store)!.owner).not.toBe("old-owner");
    // It serves (and has its signal handlers, set just after "started").
    expect((await fluid(["queue", "nap", "--wait"], { cwd: dir })).exitCode).toBe(0);
    s.child.kill("SIGTERM");
    expect((await s.child).exitCode).toBe(0);
    expect(lease(store)).toBeUndefined();
  });

  it("refuses a lease of another host while its heartbeat is fresh, naming the way out; takes it once stale and recovers only the dead owner's runs", async () => {
    const { dir, store } = project();
    // A store with runs: one queued run claimed by the dead daemon of a recreated container.
    expect((await fluid(["queue", "nap"], { cwd: dir })).exitCode).toBe(0);
    sql(store, (db) => db.prepare("UPDATE queue SET claimed_by = 'old-owner', claimed_at = 1").run());
    // Records left `running`: one by a live process here that started it (a `fluid run`), one by a
    // pid that is alive but started long after the attempt (reused).
    const insert = "INSERT INTO runs (id, attempt, max_attempts, task, state, trigger, at, started_at, host, pid) VALUES (?, 1, 1, 'nap', 'running', 'cli', ?, ?, ?, ?)";
    sql(store, (db) => {
      db.prepare(insert).run("live-run", Date.now(), Date.now(), hostname(), process.pid);
      db.prepare(insert).run("reused-pid-run", Date.now() - 7_200_000, Date.now() - 7_200_000, hostname(), process.pid);
    });
    seedLease(store, { host: "old-container", pid: 1 });
    seedOldLock(store, 1, "old-container");

    // A window far longer than a start takes, even on a loaded machine: the lease stays fresh.
    const env = { FLUID_LEASE_STALE_MS: "30000" };
    const refused = await fluid(["serve", "--log-format", "json"], { cwd: dir, env });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/another fluid serve \(pid 1 on host old-container, heartbeat \d+s ago\) serves the store/);
    expect(refused.stderr).toMatch(/hint: stop it, or wait \d+s if it is dead \(a lease from another host is taken over once its heartbeat is 30s old\)/);
    expect(refused.stderr).not.toMatch(/redis/i);

    sql(store, (db) => db.prepare("UPDATE fluid_lease SET heartbeat_at = ?").run(Date.now() - 31_000));
    const s = startServe(dir, env);
    await s.waitFor((l) => l.event === "recovered");
    expect(s.lines.find((l) => l.event === "recovered")).toMatchObject({ runs: 1 });
    await s.waitFor((l) => l.event === "run-end" && l.state === "success");
    const states = sql(store, (db) => db.prepare("SELECT id, state FROM runs WHERE id IN ('live-run', 'reused-pid-run') ORDER BY id").all());
    expect(states).toEqual([{ id: "live-run", state: "running" }, { id: "reused-pid-run", state: "interrupted" }]);
  });

  it("a daemon whose lease is taken away stops its runs, leaves the queue to the new holder, and exits 1", async () => {
    const { dir, store } = project();
    const s = startServe(dir);
    await s.waitFor((l) => l.event === "started");
    const q = await fluid(["queue", "nap", "--ms", "30000"], { cwd: dir });
    const id = q.stdout.trim();
    await s.waitFor((l) => l.event === "run-start" && l.id === id);
    const owner = lease(store)!.owner as string;
    expect(sql(store, (db) => db.prepare("SELECT claimed_by FROM queue WHERE id = ?").pluck().get(id))).toBe(owner);

    sql(store, (db) => db.prepare("UPDATE fluid_lease SET owner = 'thief', host = 'elsewhere', pid = 7, heartbeat_at = ?").run(Date.now()));
    const result = await s.child;
    expect(result.exitCode).toBe(1);
    expect(s.lines.find((l) => l.event === "error")).toMatchObject({
      message: expect.stringMatching(/lease on the store .* was taken by another fluid serve \(pid 7 on host elsewhere, heartbeat \d+s ago\); this daemon stops claiming runs/),
    });
    expect(String(result.stderr)).toMatch(/error: the lease on the store/);
    // Stopped at once (no grace: the run belongs to the new holder now), said once.
    expect(s.lines.find((l) => l.event === "stopping")).toMatchObject({ graceMs: 0, running: 1 });
    expect(s.lines.find((l) => l.event === "stopped")).toMatchObject({ interrupted: 1 });
    expect(s.lines.filter((l) => l.event === "error")).toHaveLength(1);
    // Fenced: the loser neither acked nor re-queued the run; it is still claimed under its old token,
    // for the new holder's recovery to give back.
    expect(sql(store, (db) => db.prepare("SELECT claimed_by FROM queue WHERE id = ?").pluck().get(id))).toBe(owner);
    expect(lease(store)).toMatchObject({ owner: "thief" });
  });

  it("a deleted store stops the daemon with an error naming the runs it took along, and exits 1", async () => {
    const { dir, store } = project();
    const s = startServe(dir);
    await s.waitFor((l) => l.event === "started");
    const ids = [];
    for (let i = 0; i < 2; i++) ids.push((await fluid(["queue", "nap", "--delay", "1h"], { cwd: dir })).stdout.trim());
    rmSync(join(dir, ".fluid"), { recursive: true, force: true });
    const result = await s.child;
    expect(result.exitCode).toBe(1);
    const errors = s.lines.filter((l) => l.event === "error").map((l) => String(l.message));
    expect(errors[0]).toMatch(/the store .*fluid\.db was deleted while this daemon used it/);
    expect(errors[1]).toContain(`held 2 queued run(s) (`);
    for (const id of ids) expect(errors[1]).toContain(id);
    expect(String(result.stderr)).toMatch(/hint: stopping so that a restarted daemon serves the new store/);

    // A run queued now lands in a new store, and says nobody serves it (until a daemon restarts).
    expect(existsSync(store)).toBe(false);
    const after = await fluid(["queue", "nap"], { cwd: dir });
    expect(after.exitCode).toBe(0);
    expect(after.stderr).toMatch(/no fluid serve is running/);
  });
});
