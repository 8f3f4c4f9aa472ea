import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { useChildren } from "../helpers/children.js";
import { CONFIG, ROOT, fluid, tempProject } from "../helpers/cli.js";
import { useServe, type Served } from "../helpers/serve.js";
import { readTable } from "../store/temp-store.js";

// A full disk under the real `fluid serve`: the store lives on a small tmpfs that the test fills
// while runs are going, then frees. Needs root for mount(8); skipped otherwise.

const TASKS = `
import { appendFileSync } from "node:fs";
import { task } from "fluid-tasks";
import { z } from "zod";
export const work = task({ params: z.object({ ms: z.number(), out: z.string() }) }, async (ctx) => {
  appendFileSync(ctx.params.out, ctx.id + "\\n");
  await new Promise((r) => setTimeout(r, ctx.params.ms));
  return 1;
});
`;

const src = (path: string): string => JSON.stringify(pathToFileURL(join(ROOT, "src", path)).href);
const PRODUCER = `
import ${src("index.ts")}; // publishes the API the task modules import
import { loadProject } from ${src("config/load.ts")};
import { connect, enqueue } from ${src("daemon/client.ts")};
const [dir, count, ms, out] = process.argv.slice(2);
const project = await loadProject({ cwd: dir, env: { FLUID_STORE: process.env.FLUID_STORE } });
const conn = await connect(project);
for (let i = 0; i < Number(count); i++) await enqueue(conn, project.registry.get("work"), { ms: Number(ms), out });
await conn.close();
`;

/** Mounts a tmpfs of `size` at a new directory; undefined when this machine does not let us (not root). */
function mountTmpfs(size: string): { dir: string; unmount: () => void } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "fluid-full-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "ignore" });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  return {
    dir,
    unmount: () => {
      execFileSync("umount", ["-l", dir], { stdio: "ignore" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes zeros to `file` until the file system is full. */
function fill(file: string): void {
  try {
    execFileSync("dd", ["if=/dev/zero", `of=${file}`, "bs=16k"], { stdio: "ignore" });
  } catch {
    // dd ends with "No space left on device": that is the point.
  }
}

const { cleanups } = useChildren();

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const serve = useServe();
const startServe = (dir: string, env: Record<string, string>): Served => serve(dir, { env });

const tmpfs = mountTmpfs("4m");
if (tmpfs) tmpfs.unmount();

describe("a full disk under fluid serve (real processes, tmpfs)", () => {
  it.skipIf(!tmpfs)("keeps acks and records until space returns, never crashes, says so once, and runs nothing twice", async () => {
    const mnt = mountTmpfs("4m")!;
    cleanups.push(mnt.unmount);
    const p = tempProject({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    cleanups.push(p.cleanup);
    mkdirSync(join(mnt.dir, "store"));
    const env = { FLUID_STORE: join(mnt.dir, "store", "fluid.db") };
    const out = join(p.dir, "executions.txt");
    const executions = (): string[] => (existsSync(out) ? readFileSync(out, "utf8").split("\n").filter(Boolean) : []);

    const serve = startServe(p.dir, env);
    await until(() => serve.stderr().includes('"event":"started"'), "the daemon to start", 30_000);
    writeFileSync(join(p.dir, "producer.mts"), PRODUCER);
    const produced = await execa("node", ["--import", "tsx", join(p.dir, "producer.mts"), p.dir, "10", "2500", out], { cwd: ROOT, reject: false, env });
    expect(produced.exitCode, produced.stderr).toBe(0);
    await until(() => executions().length === 10, "the 10 runs to start");

    // Fill the disk while they run: their records and acks cannot be written when they end.
    await new Promise((r) => setTimeout(r, 1200));
    fill(join(mnt.dir, "filler"));
    const fullAt = Date.now();
    await until(() => (serve.stderr().match(/"event":"run-end"/g) ?? []).length === 10, "the 10 runs to end", 15_000);

    // An enqueue while full fails whole: an error, nothing queued.
    const refused = await fluid(["queue", "work", "--ms", "1", "--out", out], { cwd: p.dir, env });
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toMatch(/disk is full/);
    await new Promise((r) => setTimeout(r, Math.max(0, fullAt + 3500 - Date.now())));
    expect(serve.child.exitCode).toBeNull(); // still serving
    const complaints = serve.stderr().split("\n").filter((line) => /SQLITE_FULL|disk is full|crashed/.test(line));
    expect(complaints.length, complaints.join("\n")).toBeLessThanOrEqual(4); // one line per outage and writer, not dozens a second
    expect(serve.stderr()).not.toMatch(/crashed the consumer/);

    // Space returns: the kept acks and records land.
    rmSync(join(mnt.dir, "filler"));
    const db = env.FLUID_STORE;
    await until(() => {
      const queue = readTable(db, "SELECT count(*) AS n FROM queue") as Array<{ n: number }>;
      const ok = readTable(db, "SELECT count(*) AS n FROM runs WHERE state = 'success'") as Array<{ n: number }>;
      return queue[0]!.n === 0 && ok[0]!.n === 10;
    }, "the acks and records to land");
    expect(serve.stderr()).toMatch(/the run store is written again after/);
    serve.child.kill("SIGTERM");
    await serve.child;

    // A restart finds nothing to run again.
    const again = startServe(p.dir, env);
    await until(() => again.stderr().includes('"event":"started"'), "the second daemon to start", 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    again.child.kill("SIGTERM");
    await again.child;
    expect(executions()).toHaveLength(10);
    expect(new Set(executions()).size).toBe(10);
    expect(readTable(db, "SELECT count(*) AS n FROM runs")).toEqual([{ n: 10 }]);
  }, 120_000);
});
