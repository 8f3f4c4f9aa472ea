import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { CONFIG, fluid, useTempProjects } from "../helpers/cli.js";
import { useServe } from "../helpers/serve.js";
import { openDatabase } from "../../src/persistence/open-database.js";
import { readLease } from "../../src/persistence/lease.js";

// `fluid status` against a real `fluid serve`: exit 0 with the daemon's pid and host while it
// serves, 3 once it stopped; the queue, running runs, last failure and next fires; read-only.

const TASKS = `
import { task, every } from "fluid-tasks";
import { z } from "zod";
export const nap = task({ params: z.object({ ms: z.number() }), timeout: "1m" }, async (ctx) => {
  await new Promise<void>((resolve) => { const t = setTimeout(resolve, ctx.params.ms); ctx.signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }); });
});
export const boom = task({}, async () => { throw new Error("the disk is full"); });
export const hourly = task({ schedule: every("1h") }, async () => {});
`;

const project = useTempProjects();
const serve = useServe();
type Status = {
  serving: boolean; daemon: { pid: number; host: string; since: number; heartbeatAgeMs: number; stale: boolean } | null;
  queue: { ready: number; delayed: number; claimed: number } | null; running: Array<{ task: string; id: string }>;
  lastFailure: { task: string; id: string; state: string; error: string } | null; next: Array<{ task: string; next: string }>; notes: string[];
};
const statusOf = async (dir: string): Promise<{ exitCode: number; status: Status }> => {
  const r = await fluid(["status", "--json"], { cwd: dir });
  return { exitCode: r.exitCode, status: JSON.parse(r.stdout) as Status };
};

describe("fluid status", () => {
  it("exit 0 with pid, host, queue, running runs, last failure and next fires while a daemon serves; exit 3 after it stopped", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const s = serve(dir, { args: ["--concurrency", "1", "--grace", "100ms"] });
    await s.started();
    const pid = s.child.pid!;

    const failed = await fluid(["queue", "boom", "--wait"], { cwd: dir });
    expect(failed.exitCode).toBe(1);
    const failedId = failed.stderr.match(/boom ([0-9a-z]{8})/)?.[1];
    const running = (await fluid(["queue", "nap", "--ms", "20000"], { cwd: dir })).stdout.trim();
    await s.waitFor((l) => l.event === "run-start" && l.id === running);
    await fluid(["queue", "nap", "--ms", "1"], { cwd: dir }); // waits: concurrency 1
    await fluid(["queue", "nap", "--ms", "1", "--delay", "1h"], { cwd: dir });

    const { exitCode, status } = await statusOf(dir);
    expect(exitCode).toBe(0);
    expect(status.serving).toBe(true);
    expect(status.daemon).toMatchObject({ pid, host: hostname(), stale: false });
    expect(status.daemon!.since).toBeLessThanOrEqual(Date.now());
    expect(status.queue).toEqual({ ready: 1, delayed: 1, claimed: 1 });
    expect(status.running.map((r) => [r.task, r.id])).toEqual([["nap", running]]);
    expect(status.lastFailure).toMatchObject({ task: "boom", state: "failure", error: "the disk is full" });
    if (failedId) expect(status.lastFailure!.id.startsWith(failedId)).toBe(true);
    expect(status.next.map((n) => n.task)).toEqual(["hourly"]);

    const human = await fluid(["status"], { cwd: dir });
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^serving +pid ${pid} on ${hostname()}, since `, "m"));
    expect(human.stdout).toMatch(/^queue +1 ready, 1 delayed, 1 claimed$/m);
    expect(human.stdout).toMatch(/^running +nap /m);
    expect(human.stdout).toMatch(/^last failure +boom .* failure/m);
    expect(human.stdout).toContain("the disk is full");
    expect(human.stdout).toMatch(/^next +hourly /m);

    process.kill(pid, "SIGTERM"); // the running nap is interrupted after --grace
    expect((await s.child).exitCode).toBe(0);
    const after = await fluid(["status"], { cwd: dir });
    expect(after.exitCode).toBe(3);
    expect(after.stdout).toMatch(/^not serving +no daemon holds the store's lease/m);
  });

  it("a daemon killed with SIGKILL: exit 3, names it, and leaves its lease alone (read-only, never takes it)", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const s = serve(dir);
    await s.started();
    const pid = s.child.pid!;
    s.child.kill("SIGKILL");
    await s.child;
    const store = join(dir, ".fluid", "fluid.db");
    const before = readFileSync(store);

    const r = await fluid(["status"], { cwd: dir });
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toContain(`the last daemon, pid ${pid} on ${hostname()}`);
    expect(r.stdout).toContain(`pid ${pid} is gone`);
    const { status } = await statusOf(dir);
    expect(status).toMatchObject({ serving: false, daemon: { pid, stale: true } });

    // The file is unchanged and the lease still names the dead daemon.
    expect(readFileSync(store).equals(before)).toBe(true);
    const db = openDatabase(store, { readonly: true });
    try {
      expect(readLease(db)?.pid).toBe(pid);
    } finally {
      db.close();
    }
  });

  it("a project whose store does not exist yet: exit 3, with the next fires and a note", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const { exitCode, status } = await statusOf(dir);
    expect(exitCode).toBe(3);
    expect(status).toMatchObject({ serving: false, daemon: null, queue: null, running: [], lastFailure: null });
    expect(status.next.map((n) => n.task)).toEqual(["hourly"]);
    expect(status.notes.join()).toMatch(/does not exist yet/);
  });
});
