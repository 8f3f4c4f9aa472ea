import { describe, expect, it } from "vitest";
import {
  afterRun, crashedDuring, dispatch, placeNow, reap, reload, replacement, steal, whenReady,
  type Decision, type PoolConfig, type PoolView, type WaitingRun,
} from "../../src/executor/dispatch.js";
import { newWorkerState, transition, type WorkerPhase, type WorkerState } from "../../src/executor/worker-state.js";
import type { WorkerSpec } from "../../src/executor/worker.js";

// The pool's decisions without a process: workers are states, runs in line are plain objects.
// A worker is written "<name>:<key> <phase> [load=N] [runs=N] [rssMb=N] [idle=T] [stale] [succeeded] [drain=R] [new]";
// a run in line "<name>:<key>" (key "iso" = a single-use worker) or "<name>:<key>-><worker>" when it waits for that worker.

const spec = (key: string): WorkerSpec => ({ key, env: {}, maxMemoryMb: undefined, isolate: key.startsWith("iso") });

const CONFIG: PoolConfig = { size: 2, prefetch: 1, maxRuns: 100_000, successorAt: 90_000, maxRssBytes: 512 * 1048576, idleTimeoutMs: 60_000 };

let ids = 0;
/** A worker state in the given phase, reached through `transition` as the pool would. */
function worker(text: string): WorkerState {
  const [head, phase, ...rest] = text.split(" ");
  const [name, key] = head!.split(":");
  const opts = Object.fromEntries(rest.map((r) => r.split("=") as [string, string | undefined]));
  const w = newWorkerState(spec(key!), ++ids);
  Object.defineProperty(w, "name", { value: name, enumerable: false });
  const load = Number(opts.load ?? (phase === "busy" || phase === "draining" || phase === "killing" ? 1 : 0));
  const runs = Number(opts.runs ?? 0);
  const rss = Number(opts.rssMb ?? 50) * 1048576;
  const idle = Number(opts.idle ?? 0);
  if ("stale" in opts) transition(w, { type: "stale" });
  if ("succeeded" in opts) transition(w, { type: "succeeded" });
  if ("new" in opts) return w; // never ready: starting
  if (phase === "starting") return w;
  transition(w, { type: "ready", rss, now: idle });
  // Count the runs it has done, then give it its load.
  for (let i = 0; i < runs; i++) {
    transition(w, { type: "claim" });
    transition(w, { type: "run-left", counted: true, rss });
    transition(w, { type: "idle", now: idle });
  }
  for (let i = 0; i < load; i++) transition(w, { type: "claim" });
  const to = phase as WorkerPhase;
  if (to === "draining") transition(w, { type: "drain", reason: (opts.drain as "runs" | "memory" | "reload" | undefined) ?? "runs" });
  else if (to === "killing") transition(w, { type: "kill" });
  else if (to === "lost") transition(w, { type: "lost" });
  else if (to === "stopping") transition(w, { type: "stop" });
  expect(w.phase).toBe(to);
  return w;
}

interface Run extends WaitingRun {
  name: string;
  spawned: WorkerState | undefined;
}

function setup(workers: string[], queue: string[] = [], config: Partial<PoolConfig> = {}, closed = false) {
  const ws = workers.map(worker);
  const byName = new Map(ws.map((w) => [(w as unknown as { name: string }).name, w]));
  const runs: Run[] = queue.map((text) => {
    const [name, rest] = text.split(":");
    const [key, waitsFor] = rest!.split("->");
    return { name: name!, spec: spec(key!), spawned: waitsFor ? byName.get(waitsFor) : undefined };
  });
  const view: PoolView<Run> = { config: { ...CONFIG, ...config }, workers: ws, queue: runs, closed };
  return { view, w: (name: string) => byName.get(name)! };
}

const nameOf = (w: WorkerState): string => (w as unknown as { name: string }).name;

/** Decisions as short strings: "assign r1 a", "spawn r1 k1", "stop a room", ... */
function show(decisions: Decision<Run>[]): string[] {
  return decisions.map((d) => {
    switch (d.type) {
      case "assign":
      case "wait":
        return `${d.type} ${d.run.name} ${nameOf(d.worker)}`;
      case "spawn":
        return d.run ? `spawn ${d.run.name} ${d.spec.key}` : `spawn ${d.why} ${d.spec.key}`;
      case "successor":
        return `successor ${nameOf(d.worker)}`;
      case "stop":
        return `stop ${nameOf(d.worker)} ${d.why}${d.recycled ? ` recycled:${d.recycled}` : ""}`;
      case "drain":
        return `drain ${nameOf(d.worker)} ${d.reason}`;
      case "idle":
        return `idle ${nameOf(d.worker)}`;
      case "steal":
        return `steal ${nameOf(d.from)}`;
      case "stale":
        return `stale ${nameOf(d.worker)}`;
    }
  });
}

describe("dispatch: runs in line get workers", () => {
  const cases: Array<{ name: string; workers: string[]; queue: string[]; config?: Partial<PoolConfig>; closed?: boolean; want: string[] }> = [
    { name: "nothing waits", workers: ["a:k idle"], queue: [], want: [] },
    { name: "a closed pool hands out nothing", workers: ["a:k idle"], queue: ["r1:k"], closed: true, want: [] },
    { name: "an idle worker of the run's kind", workers: ["a:k idle"], queue: ["r1:k"], want: ["assign r1 a"] },
    { name: "the idle worker that waited longest", workers: ["a:k idle idle=20", "b:k idle idle=10"], queue: ["r1:k"], want: ["assign r1 b"] },
    { name: "each idle worker to one run, in order", workers: ["a:k idle", "b:k idle"], queue: ["r1:k", "r2:k", "r3:k"], config: { prefetch: 0 }, want: ["assign r1 a", "assign r2 b"] },
    { name: "not a stale idle worker", workers: ["a:k idle stale"], queue: ["r1:k"], config: { size: 1 }, want: ["stop a room", "spawn r1 k"] },
    { name: "a new worker within size", workers: [], queue: ["r1:k"], want: ["spawn r1 k"] },
    { name: "one new worker per run, up to size", workers: [], queue: ["r1:k", "r2:k", "r3:k"], want: ["spawn r1 k", "spawn r2 k"] },
    { name: "a starting worker no run waits for", workers: ["a:k starting"], queue: ["r1:k"], want: ["wait r1 a"] },
    { name: "a run already waiting for its starting worker keeps it", workers: ["a:k starting"], queue: ["r1:k->a", "r2:k"], want: ["spawn r2 k"] },
    { name: "not a stale starting worker", workers: ["a:k starting stale"], queue: ["r1:k"], want: ["spawn r1 k"] },
    {
      name: "prefetch: full, the run goes ahead to the least loaded busy worker of its kind",
      workers: ["a:k busy load=1", "b:k busy load=2"], queue: ["r1:k"], config: { prefetch: 2 }, want: ["assign r1 a"],
    },
    {
      name: "prefetch: a worker given a run in the same pass counts it",
      workers: ["a:k idle", "b:j busy"], queue: ["r1:k", "r2:k", "r3:k"], config: { prefetch: 1 }, want: ["assign r1 a", "assign r2 a"],
    },
    { name: "prefetch 0: full and busy, the run waits", workers: ["a:k busy", "b:k busy"], queue: ["r1:k"], config: { prefetch: 0 }, want: [] },
    { name: "no room ahead in a draining or killing worker", workers: ["a:k draining", "b:k killing"], queue: ["r1:k"], want: [] },
    { name: "full: the longest-idle worker of another kind makes room", workers: ["a:j idle idle=5", "b:m idle idle=1"], queue: ["r1:k"], want: ["stop b room", "spawn r1 k"] },
    { name: "full of busy and starting workers: the whole line waits in order", workers: ["a:k busy load=2", "b:j starting"], queue: ["r1:k", "r2:j->b", "r3:m"], want: [] },
    { name: "a single-use run never takes an idle worker nor room ahead", workers: ["a:iso1 idle", "b:k busy"], queue: ["r1:iso2"], config: { size: 3 }, want: ["spawn r1 iso2"] },
    { name: "a lost worker holds its place and takes nothing", workers: ["a:k lost"], queue: ["r1:k"], config: { size: 1 }, want: [] },
    { name: "a stopping worker no longer holds a place", workers: ["a:k stopping"], queue: ["r1:k"], config: { size: 1 }, want: ["spawn r1 k"] },
    {
      name: "a run moved from a dead worker (at the head) gets the next worker first",
      workers: ["dead:k stopping", "a:k idle"], queue: ["moved:k", "r2:k"], config: { size: 2, prefetch: 0 }, want: ["assign moved a", "spawn r2 k"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { view } = setup(c.workers, c.queue, c.config, c.closed);
      expect(show(dispatch(view))).toEqual(c.want);
    });
  }
});

describe("placeNow: a new run without waiting", () => {
  const cases: Array<{ name: string; workers: string[]; queue?: string[]; key?: string; want: string | undefined }> = [
    { name: "an idle worker of its kind", workers: ["a:k idle", "b:k busy"], want: "a" },
    { name: "not when runs wait before it", workers: ["a:k idle"], queue: ["r1:j"], want: undefined },
    { name: "room ahead when the pool is full", workers: ["a:k busy", "b:k busy load=2"], want: "a" },
    { name: "not room ahead while a worker starts", workers: ["a:k busy", "b:j starting"], want: undefined },
    { name: "not room ahead within size (a new worker is better)", workers: ["a:k busy"], want: undefined },
    { name: "never for a single-use run", workers: ["a:iso idle"], key: "iso", want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { view } = setup(c.workers, c.queue ?? []);
      const got = placeNow(view, spec(c.key ?? "k"));
      expect(got && nameOf(got)).toBe(c.want);
    });
  }
});

describe("afterRun: a worker a run has left", () => {
  const cases: Array<{ name: string; worker: string; counted?: boolean; others?: string[]; queue?: string[]; config?: Partial<PoolConfig>; closed?: boolean; want: string[] }> = [
    { name: "goes idle", worker: "a:k busy runs=3", want: ["idle a"] },
    { name: "keeps its runs sent ahead", worker: "a:k busy load=2", want: [] },
    { name: "recycled at maxRunsPerWorker, then replaced", worker: "a:k busy runs=2", config: { maxRuns: 3, successorAt: Infinity }, want: ["drain a runs", "stop a drained recycled:runs", "spawn replace k"] },
    { name: "drains at maxRunsPerWorker while runs ahead still end there", worker: "a:k busy load=2 runs=2", config: { maxRuns: 3 }, want: ["drain a runs"] },
    { name: "recycled for its memory", worker: "a:k busy rssMb=600", want: ["drain a memory", "stop a drained recycled:memory", "spawn replace k"] },
    { name: "not replaced when the pool is full", worker: "a:k busy rssMb=600", others: ["b:j busy", "c:j busy"], config: { size: 2 }, want: ["drain a memory", "stop a drained recycled:memory"] },
    { name: "not replaced when one of its kind is idle", worker: "a:k busy rssMb=600", others: ["b:k idle"], want: ["drain a memory", "stop a drained recycled:memory"] },
    { name: "not replaced when runs wait (dispatch serves them)", worker: "a:k busy rssMb=600", queue: ["r1:k"], want: ["drain a memory", "stop a drained recycled:memory"] },
    { name: "its successor starts at 90% of the runs", worker: "a:k busy runs=89", config: { maxRuns: 100, successorAt: 90 }, want: ["successor a", "idle a"] },
    { name: "one successor only", worker: "a:k busy runs=90 succeeded", config: { maxRuns: 100, successorAt: 90 }, want: ["idle a"] },
    { name: "a run that did not run to its end counts nothing", worker: "a:k busy runs=2", counted: false, config: { maxRuns: 3 }, want: ["idle a"] },
    { name: "a draining worker stops once empty (recycled for reload)", worker: "a:k draining drain=reload", want: ["stop a drained recycled:reload", "spawn replace k"] },
    { name: "a killing worker stops once empty, not reported recycled", worker: "a:k killing", counted: false, want: ["stop a drained", "spawn replace k"] },
    { name: "a single-use worker stops after its run, never replaced", worker: "a:iso busy", want: ["stop a drained"] },
    { name: "closing: stops, not reported recycled, not replaced", worker: "a:k busy rssMb=600", closed: true, want: ["stop a drained"] },
    { name: "a lost worker is left to its exit handler", worker: "a:k lost load=1", counted: false, want: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { view, w } = setup([c.worker, ...(c.others ?? [])], c.queue ?? [], c.config, c.closed);
      const a = w("a");
      transition(a, { type: "run-left", counted: c.counted ?? true, rss: a.rss });
      expect(show(afterRun(view, a, c.counted ?? true))).toEqual(c.want);
    });
  }
});

describe("the other decisions", () => {
  it("replacement: a worker of the kind lost, unless full, runs wait, one is idle or starting, single use, or closed", () => {
    expect(replacement(setup([]).view, spec("k"))).toEqual({ type: "spawn", spec: spec("k"), why: "replace" });
    expect(replacement(setup(["a:j busy", "b:j busy"]).view, spec("k"))).toBeUndefined();
    expect(replacement(setup([], ["r:k"]).view, spec("k"))).toBeUndefined();
    expect(replacement(setup(["a:k starting"]).view, spec("k"))).toBeUndefined();
    expect(replacement(setup(["a:k idle"]).view, spec("k"))).toBeUndefined();
    expect(replacement(setup([]).view, spec("iso"))).toBeUndefined();
    expect(replacement(setup([], [], {}, true).view, spec("k"))).toBeUndefined();
  });

  it("steal: an idle worker takes over a run waiting in a busy one of its kind, only when nothing waits in line", () => {
    const waiting = (n: number) => (w: WorkerState) => (nameOf(w) === "b" ? n : 0);
    const { view, w } = setup(["a:k idle", "b:k busy load=2", "c:j busy load=2"]);
    expect(show([steal(view, w("a"), waiting(1))!])).toEqual(["steal b"]);
    expect(steal(view, w("a"), waiting(0))).toBeUndefined();
    expect(steal(setup(["a:k idle", "b:k busy load=2"], ["r:j"]).view, w("a"), waiting(1))).toBeUndefined();
  });

  it("whenReady: idle; a stale one stops; a single-use one goes to its run, or stops without one", () => {
    const s = setup(["a:k idle", "b:k idle stale", "c:iso idle", "d:iso idle"], ["r1:iso->c"]);
    expect(show(whenReady(s.view, s.w("a")))).toEqual(["idle a"]);
    expect(show(whenReady(s.view, s.w("b")))).toEqual(["stop b stale"]);
    expect(show(whenReady(s.view, s.w("c")))).toEqual(["assign r1 c"]);
    expect(show(whenReady(s.view, s.w("d")))).toEqual(["stop d orphan"]);
    const closed = setup(["a:k idle"], [], {}, true);
    expect(show(whenReady(closed.view, closed.w("a")))).toEqual(["stop a stale"]);
  });

  it("reload: every worker is stale; idle ones are recycled now, busy ones drain, others finish as they are", () => {
    const { view } = setup(["a:k idle", "b:k busy", "c:k starting", "d:k draining", "e:k stopping"]);
    expect(show(reload(view))).toEqual(["stale a", "stop a stale recycled:reload", "stale b", "drain b reload", "stale c", "stale d"]);
  });

  it("reap: idle workers past idleTimeoutMs stop; the next one due says when to look again", () => {
    const { view } = setup(["a:k idle idle=1000", "b:k idle idle=5000", "c:k busy idle=0"], [], { idleTimeoutMs: 2000 });
    expect(show(reap(view, 3000).stop)).toEqual(["stop a reaped"]);
    expect(reap(view, 3000).next).toBe(7000);
    expect(reap(view, 999).stop).toEqual([]);
    expect(reap(setup(["a:k idle"], [], { idleTimeoutMs: 0 }).view, 1e12)).toEqual({ stop: [], next: undefined });
  });

  it("crashedDuring: start before it was ready, run while it held one, idle otherwise", () => {
    expect(crashedDuring(worker("a:k starting"))).toBe("start");
    expect(crashedDuring(worker("a:k busy"))).toBe("run");
    expect(crashedDuring(worker("a:k idle"))).toBe("idle");
  });
});

describe("transition: the worker state machine", () => {
  const legal: Array<[string, Parameters<typeof transition>[1], WorkerPhase]> = [
    ["a:k starting", { type: "ready", rss: 1, now: 5 }, "idle"],
    ["a:k idle", { type: "claim" }, "busy"],
    ["a:k busy", { type: "claim" }, "busy"],
    ["a:k idle", { type: "drain", reason: "reload" }, "draining"],
    ["a:k busy", { type: "kill" }, "killing"],
    ["a:k draining", { type: "kill" }, "killing"],
    ["a:k busy", { type: "lost" }, "lost"],
    ["a:k starting", { type: "lost" }, "lost"],
    ["a:k lost", { type: "kill" }, "lost"],
    ["a:k stopping", { type: "ready", rss: 1, now: 5 }, "stopping"],
    ["a:k lost", { type: "stop" }, "stopping"],
    ["a:k stopping", { type: "gone" }, "exited"],
  ];
  for (const [from, event, to] of legal) {
    it(`${from.split(" ")[1]} + ${event.type} -> ${to}`, () => {
      const w = worker(from);
      transition(w, event);
      expect(w.phase).toBe(to);
    });
  }

  const illegal: Array<[string, Parameters<typeof transition>[1]]> = [
    ["a:k starting", { type: "claim" }],
    ["a:k draining", { type: "claim" }],
    ["a:k killing", { type: "claim" }],
    ["a:k lost", { type: "claim" }],
    ["a:k busy", { type: "idle", now: 1 }], // it still holds a run
    ["a:k idle", { type: "run-left", counted: true, rss: 1 }], // no run to leave
    ["a:k starting", { type: "kill" }],
  ];
  for (const [from, event] of illegal) {
    it(`refuses ${event.type} while ${from.split(" ")[1]}`, () => {
      expect(() => transition(worker(from), event)).toThrow(/is not allowed while/);
    });
  }

  it("counts load and runs: claim adds one, a counted run-left moves it to runs", () => {
    const w = worker("a:k idle");
    transition(w, { type: "claim" });
    transition(w, { type: "claim" });
    transition(w, { type: "run-left", counted: true, rss: 7 });
    expect(w).toMatchObject({ phase: "busy", load: 1, runs: 1, rss: 7 });
    transition(w, { type: "run-left", counted: false, rss: 8 });
    transition(w, { type: "idle", now: 42 });
    expect(w).toMatchObject({ phase: "idle", load: 0, runs: 1, idleSince: 42 });
  });
});
