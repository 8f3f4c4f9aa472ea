import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, onTestFinished } from "vitest";
import { useTempProjects } from "../helpers/cli.js";
import { useServe } from "../helpers/serve.js";
import { BACKENDS, ownTarget, plainQueue, useOwnNamespace } from "./backends.js";
import type { BackendTarget } from "../../src/fleet/backend-url.js";

/** Tasks that record when each run started and ended (ms) in the file SPANS, and hold HOLD_MS (default 300). */
const TASKS = `import { appendFileSync } from "node:fs";
import { task } from "fluid-tasks";
import { z } from "zod";
const params = z.object({ ms: z.number().optional() });
const hold = (ctx) => new Promise((r) => setTimeout(r, Number(ctx.params.ms ?? process.env.HOLD_MS ?? 300)));
const spans = async (ctx) => {
  const start = Date.now();
  await hold(ctx);
  appendFileSync(process.env.SPANS, ctx.id + " " + start + " " + Date.now() + " " + process.pid + "\\n");
};
export const one = task({ maxConcurrency: 1, params }, async (ctx) => spans(ctx));
export const gate = task({ maxConcurrency: 1, onLimit: "drop", params }, async (ctx) => spans(ctx));
`;

function config(url: string, t: BackendTarget, stallMs?: number): string {
  const prefix = t.kind === "redis" ? t.prefix : t.schema;
  return `import { defineConfig } from "fluid-tasks";
export default defineConfig({ tasks: ["./tasks/*.ts"], concurrency: 1, backend: { url: ${JSON.stringify(url)}, prefix: ${JSON.stringify(prefix)}${stallMs ? `, stallMs: ${stallMs}` : ""} } });
`;
}

/** The recorded runs: id, start, end, pid. */
function spansOf(file: string): Array<{ id: string; start: number; end: number; pid: number }> {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {} // no run has ended yet: no spans
  return text.trim().split("\n").filter(Boolean).map((l) => {
    const [id, start, end, pid] = l.split(" ");
    return { id: id!, start: Number(start), end: Number(end), pid: Number(pid) };
  });
}

/** Waits until `check` holds, polling. */
async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(BACKENDS)("fleet-wide maxConcurrency on $name", ({ name, url, up }) => {
  const project = useTempProjects();
  const serve = useServe();
  const { test, target } = useOwnNamespace({ name, url, up });

  test("maxConcurrency 1 across two daemons: a run waits for the other daemon's run, never two at once, all run", async () => {
    const dir = project({ "fluid.config.ts": config(url, target()), "tasks/t.ts": TASKS });
    const spans = join(dir, "spans.txt");
    // Concurrency 1 each: while one daemon runs a run, only the other can claim the next.
    const daemons = ["a", "b"].map((n) => serve(dir, { env: { FLUID_STORE: join(dir, `${n}.db`), SPANS: spans } }));
    await Promise.all(daemons.map((d) => d.started()));
    const { queue, close } = plainQueue(target());
    onTestFinished(close);
    await queue.add("one", { ms: 1500 }, { jobId: "first" });
    const started = await Promise.any(daemons.map((d) => d.waitFor((l) => l.event === "run-start" && l.id === "first")));
    expect(started).toMatchObject({ task: "one" });
    // The busy daemon claims nothing: the idle one claims this run, and must wait for the fleet's slot.
    await queue.add("one", { ms: 50 }, { jobId: "second" });
    for (let i = 0; i < 6; i++) await queue.add("one", { ms: 100 }, { jobId: `bulk${i}` });
    await until(() => spansOf(spans).length === 8, 60_000, "8 runs of one");
    const runs = spansOf(spans).sort((x, y) => x.start - y.start);
    const first = runs.find((r) => r.id === "first")!;
    const second = runs.find((r) => r.id === "second")!;
    expect(second.start).toBeGreaterThanOrEqual(first.end);
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.start, `${runs[i]!.id} overlaps ${runs[i - 1]!.id}`).toBeGreaterThanOrEqual(runs[i - 1]!.end);
    expect(new Set(runs.map((r) => r.id)).size).toBe(8);
    // A run writes its span before it ends: its run-end line may come a moment later.
    const endLines = () => daemons.flatMap((d) => d.lines.filter((l) => l.event === "run-end"));
    await until(() => endLines().length >= 8, 10_000, "8 run-end lines");
    expect(endLines().map((l) => l.state)).toEqual(Array(8).fill("success"));
    // The fleet's slot is given back after each run.
    expect(daemons.flatMap((d) => d.lines.filter((l) => l.event === "error"))).toEqual([]);
  }, 90_000);

  test('onLimit "drop" across two daemons: a run claimed while the other daemon runs the task ends rate_limited', async () => {
    const dir = project({ "fluid.config.ts": config(url, target()), "tasks/t.ts": TASKS });
    const spans = join(dir, "spans.txt");
    const daemons = ["a", "b"].map((n) => serve(dir, { env: { FLUID_STORE: join(dir, `${n}.db`), SPANS: spans } }));
    await Promise.all(daemons.map((d) => d.started()));
    const { queue, close } = plainQueue(target());
    onTestFinished(close);
    await queue.add("gate", { ms: 3000 }, { jobId: "holder" });
    const busy = await Promise.any(daemons.map((d, i) => d.waitFor((l) => l.event === "run-start" && l.id === "holder").then(() => i)));
    const other = daemons[1 - busy]!;
    await queue.add("gate", { ms: 10 }, { jobId: "late" });
    expect(await other.waitFor((l) => l.event === "run-end" && l.id === "late")).toMatchObject({ state: "rate_limited" });
    expect(await daemons[busy]!.waitFor((l) => l.event === "run-end" && l.id === "holder")).toMatchObject({ state: "success" });
    // BullMQ holds the dropped run as failed, as for a drop on one daemon.
    const failed = await queue.getJob("late");
    expect(failed?.failedReason).toMatch(/^rate_limited: /);
    expect(spansOf(spans).map((s) => s.id)).toEqual(["holder"]);
  }, 90_000);

  test("a daemon SIGKILLed while it holds the task's slot does not block the task: the slot's lease expires with the stall window", async () => {
    // A namespace of its own: a 1.5 s stall window (BullMQ's stall check runs once per window per queue).
    const own = ownTarget(url);
    onTestFinished(() => own.drop());
    const dir = project({ "fluid.config.ts": config(url, own.target, 1500), "tasks/t.ts": TASKS });
    const spans = join(dir, "spans.txt");
    const a = serve(dir, { env: { FLUID_STORE: join(dir, "a.db"), SPANS: spans, HOLD_MS: "60000" } });
    await a.started();
    const { queue, close } = plainQueue(own.target);
    onTestFinished(close);
    await queue.add("one", {}, { jobId: "killed" });
    await a.waitFor((l) => l.event === "run-start" && l.id === "killed");
    a.child.kill("SIGKILL");
    await a.child.catch(() => {}); // killed: its exit is the point
    const b = serve(dir, { env: { FLUID_STORE: join(dir, "b.db"), SPANS: spans, HOLD_MS: "50" } });
    await b.started();
    await queue.add("one", {}, { jobId: "after" });
    expect(await b.waitFor((l) => l.event === "run-end" && l.id === "after", 20_000)).toMatchObject({ state: "success" });
    // The killed daemon's run comes back after the stall window too, and runs here.
    expect(await b.waitFor((l) => l.event === "run-end" && l.id === "killed", 20_000)).toMatchObject({ state: "success" });
    const runs = spansOf(spans).sort((x, y) => x.start - y.start);
    expect(runs.map((r) => r.id).sort()).toEqual(["after", "killed"]);
    expect(runs[1]!.start).toBeGreaterThanOrEqual(runs[0]!.end);
  }, 90_000);
});
