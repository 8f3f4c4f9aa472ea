import { afterEach, describe, expect, it } from "vitest";
import { useServe, type Served } from "../helpers/serve.js";
import { CONFIG, fluid, tempProject } from "../helpers/cli.js";

// The real `fluid serve` in a child process, driven by signals and by other `fluid` processes.

const TASKS = `
import { task } from "fluid-tasks";
import { z } from "zod";
const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener("abort", () => { clearTimeout(t); reject(signal.reason); }, { once: true });
});
export const nap = task({ params: z.object({ ms: z.number().default(100), label: z.string().default("") }), timeout: "1m" }, async (ctx) => {
  ctx.log.info("napping " + ctx.params.ms);
  await sleep(ctx.params.ms, ctx.signal);
  return ctx.params.label || "rested";
});
export const boom = task({}, async () => { throw new Error("boom"); });
`;


const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function project(): string {
  const p = tempProject({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
  cleanups.push(p.cleanup);
  return p.dir;
}

const serve = useServe();
/** Starts `fluid serve --log-format json` in `dir` and collects its JSON lines (stderr). */
const startServe = (dir: string, args: string[] = []): Served => serve(dir, { args });

describe("fluid serve (real process)", () => {
  it("starts with a summary, runs queued work, and exits 0 on SIGTERM after a clean drain", async () => {
    const dir = project();
    const s = startServe(dir);
    const started = await s.waitFor((l) => l.event === "started");
    expect(started).toMatchObject({ summary: { broker: "sqlite", concurrency: 10, tasks: 2 } });
    const q = await fluid(["queue", "nap", "--ms", "50", "--label", "hello", "--wait"], { cwd: dir });
    expect(q.exitCode).toBe(0);
    expect(q.stdout.trim()).toBe("hello");
    await s.waitFor((l) => l.event === "run-end" && l.state === "success");
    s.child.kill("SIGTERM");
    const result = await s.child;
    expect(result.exitCode).toBe(0);
    expect(s.lines.find((l) => l.event === "stopped")).toMatchObject({ finished: 0, interrupted: 0 });
  });

  it("fluid queue --wait exits like fluid run: 1 for a failure", async () => {
    const dir = project();
    const s = startServe(dir);
    await s.waitFor((l) => l.event === "started");
    const q = await fluid(["queue", "boom", "--wait"], { cwd: dir });
    expect(q.exitCode).toBe(1);
    expect(q.stderr).toMatch(/boom .* failure/);
    const bad = await fluid(["queue", "nap", "--ms", "soon"], { cwd: dir });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--ms/);
  });

  it("picks up a run queued by another process and cancels a running one from a third", async () => {
    const dir = project();
    const s = startServe(dir);
    await s.waitFor((l) => l.event === "started");
    const queued = await fluid(["queue", "nap", "--ms", "30000"], { cwd: dir });
    expect(queued.exitCode).toBe(0);
    const id = queued.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{20}$/);
    await s.waitFor((l) => l.event === "run-start" && l.id === id);
    const c = await fluid(["cancel", id.slice(0, 8)], { cwd: dir });
    expect(c.exitCode).toBe(0);
    expect(c.stderr).toMatch(/cancelled/);
    await s.waitFor((l) => l.event === "run-end" && l.id === id && l.state === "cancelled");
    const again = await fluid(["cancel", id], { cwd: dir });
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/ended cancelled/);
  });

  it("after SIGKILL mid-run, the next start marks the run interrupted and runs it again", async () => {
    const dir = project();
    const first = startServe(dir);
    await first.waitFor((l) => l.event === "started");
    const id = (await fluid(["queue", "nap", "--ms", "1500", "--label", "survivor"], { cwd: dir })).stdout.trim();
    await first.waitFor((l) => l.event === "run-start" && l.id === id);
    // The daemon commits its records once per event-loop turn: kill it once the running
    // attempt is in the store (a kill in that same turn leaves only the queue claim to recover).
    for (let i = 0; i < 100; i++) {
      const show = await fluid(["show", id, "--json"], { cwd: dir });
      if (show.exitCode === 0 && (JSON.parse(show.stdout) as { run: { state: string } }).run.state !== "queued") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    first.child.kill("SIGKILL");
    await first.child;
    const second = startServe(dir);
    await second.waitFor((l) => l.event === "recovered");
    expect(second.lines.find((l) => l.event === "recovered")).toMatchObject({ runs: 1, interrupted: 1 });
    await second.waitFor((l) => l.event === "run-end" && l.id === id && l.state === "success", 15_000);
    const show = JSON.parse((await fluid(["show", id, "--json"], { cwd: dir })).stdout);
    expect(show.run).toMatchObject({ state: "success", result: "survivor" });
    second.child.kill("SIGTERM");
    expect((await second.child).exitCode).toBe(0);
  });

  it("a run queued while no daemon runs says so, waits in the queue, and runs when one starts", async () => {
    const dir = project();
    const q = await fluid(["queue", "nap", "--ms", "10", "--label", "patient"], { cwd: dir });
    expect(q.exitCode).toBe(0);
    expect(q.stderr).toMatch(/no fluid serve is running for .*fluid\.db: the run waits in the queue until one starts/);
    const id = q.stdout.trim();
    const s = startServe(dir);
    await s.waitFor((l) => l.event === "run-end" && l.id === id && l.state === "success");
    const withDaemon = await fluid(["queue", "nap", "--ms", "10"], { cwd: dir });
    expect(withDaemon.stderr).not.toMatch(/no fluid serve is running/);
  });

  it("a second daemon on the same store is refused with exit 2", async () => {
    const dir = project();
    const s = startServe(dir);
    await s.waitFor((l) => l.event === "started");
    const other = await fluid(["serve", "--log-format", "json"], { cwd: dir });
    expect(other.exitCode).toBe(2);
    expect(other.stderr).toMatch(/another fluid serve \(pid \d+ on host .+, heartbeat \d+s ago\) serves the store/);
    expect(other.stderr).toMatch(/hint: stop it \(kill \d+\)/);
    expect(other.stderr).not.toMatch(/\n\s+at /);
  });

  it("SIGTERM with a run past the grace interrupts it and re-queues it; a second signal exits at once", async () => {
    const dir = project();
    const s = startServe(dir, ["--grace", "300ms"]);
    await s.waitFor((l) => l.event === "started");
    const id = (await fluid(["queue", "nap", "--ms", "20000"], { cwd: dir })).stdout.trim();
    await s.waitFor((l) => l.event === "run-start" && l.id === id);
    s.child.kill("SIGTERM");
    expect((await s.child).exitCode).toBe(0);
    expect(s.lines.find((l) => l.event === "stopped")).toMatchObject({ interrupted: 1 });
    const hist = JSON.parse((await fluid(["history", "--json"], { cwd: dir })).stdout);
    expect(hist[0]).toMatchObject({ id, state: "interrupted" });
  });
});

describe("fluid next", () => {
  it("prints the next fires with their UTC offset and marks DST changes", async () => {
    const p = tempProject({
      "fluid.config.ts": CONFIG,
      "tasks/t.ts": `import { task, cron } from "fluid-tasks";\nexport const daily = task({ schedule: cron("30 2 * * *", { tz: "America/New_York" }) }, async () => 1);\nexport const plain = task({}, async () => 1);\n`,
    });
    cleanups.push(p.cleanup);
    const r = await fluid(["next", "daily", "-n", "400", "--json"], { cwd: p.dir });
    expect(r.exitCode).toBe(0);
    const times = JSON.parse(r.stdout) as string[];
    expect(times).toHaveLength(400);
    expect(times.every((t) => /T0[23]:[03]0:00-0[45]:00$/.test(t))).toBe(true);
    // The spring-forward day: 02:30 does not exist, the fire runs at the change, 03:00 EDT.
    expect(times.filter((t) => t.includes("T03:00:00-04:00"))).toHaveLength(1);
    const table = await fluid(["next", "daily", "-n", "400"], { cwd: p.dir });
    expect(table.stdout).toMatch(/DST starts \(clocks forward\)/);
    expect(table.stdout).toMatch(/DST ends \(clocks back\)/);
    const none = await fluid(["next", "plain"], { cwd: p.dir });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toMatch(/task "plain" has no schedule/);
  });
});
