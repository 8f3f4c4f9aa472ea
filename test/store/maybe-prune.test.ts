import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { serve } from "../../src/daemon/serve.js";
import { openStore, type Store } from "../../src/store/index.js";
import { maybePrune, PRUNE_EVERY_MS, startPruning } from "../../src/store/maybe-prune.js";
import { CONFIG, tempProject } from "../helpers/cli.js";
import { readTable } from "./temp-store.js";

const run = (id: string, at: number) => ({
  id, attempt: 1, maxAttempts: 1, task: "t", state: "success" as const, trigger: "cli" as const, params: {},
  queuedAt: at, startedAt: at, endedAt: at, durationMs: 0, host: "h", pid: 1,
});

describe("maybePrune", () => {
  it("applies retention at most once per interval, remembered in the store", () => {
    const store = openStore({ path: ":memory:", retention: { days: 1 } });
    try {
      const now = Date.now();
      store.writeAttempt(run("old", now - 3 * 86_400_000));
      store.writeAttempt(run("new", now));
      expect(maybePrune(store, undefined, now)).toBe(1);
      store.writeAttempt(run("old2", now - 3 * 86_400_000));
      expect(maybePrune(store, undefined, now + 1000)).toBe(0); // ran a second ago: skipped
      expect(maybePrune(store, undefined, now + PRUNE_EVERY_MS + 1)).toBe(1);
      expect(store.listRuns().map((r) => r.id)).toEqual(["new"]);
    } finally {
      store.close();
    }
  });

  it("reports an error instead of throwing", () => {
    const store = openStore({ path: ":memory:" });
    store.close();
    const errors: unknown[] = [];
    expect(maybePrune(store, (e) => errors.push(e))).toBe(0);
    expect(errors).toHaveLength(1);
  });
});

describe("startPruning", () => {
  const old = Date.now() - 40 * 86_400_000;
  const seeded = (count: number): Store => {
    const store = openStore({ path: ":memory:", retention: { days: 30 } });
    for (let i = 0; i < count; i++) store.writeAttempt(run(`old-${i}`, old + i));
    store.writeAttempt(run("new", Date.now()));
    store.flush();
    return store;
  };
  const count = (store: Store): number => store.listRuns({ limit: Infinity }).length;

  it("starts after its delay and deletes one small transaction per turn, letting the event loop run in between", async () => {
    const store = seeded(2400);
    try {
      const errors: unknown[] = [];
      const stop = startPruning(store, { delayMs: 20, onError: (e) => errors.push(e) });
      expect(count(store)).toBe(2401); // nothing before the delay
      const seen = new Set<number>();
      const deadline = Date.now() + 10_000;
      while (count(store) > 1 && Date.now() < deadline) {
        seen.add(count(store));
        await new Promise((r) => setImmediate(r));
      }
      stop();
      expect(errors).toEqual([]);
      expect(store.listRuns().map((r) => r.id)).toEqual(["new"]);
      // 2,400 runs in chunks of 500: the loop saw the store between chunks.
      expect([...seen].filter((n) => n < 2401 && n > 1).length).toBeGreaterThanOrEqual(3);
    } finally {
      store.close();
    }
  });

  it("reports a failing check instead of throwing, and stops when told", async () => {
    const store = seeded(10);
    const errors: unknown[] = [];
    const stop = startPruning(store, { delayMs: 0, everyMs: 5, onError: (e) => errors.push(e) });
    store.close(); // the check finds it closed
    await new Promise((r) => setTimeout(r, 30));
    stop();
    const reported = errors.length;
    expect(reported).toBeGreaterThanOrEqual(1);
    for (const e of errors) expect((e as Error).message).toMatch(/closed/);
    await new Promise((r) => setTimeout(r, 30));
    expect(errors.length).toBe(reported); // nothing after stop()
  });
});

describe("fluid serve and retention", () => {
  it("has started before retention deletes anything, and prunes in the background after", async () => {
    const p = tempProject({ "fluid.config.ts": CONFIG, "tasks/t.ts": `import { task } from "fluid-tasks";\nexport const quick = task({}, async () => 1);\n` });
    try {
      const path = join(p.dir, ".fluid", "fluid.db");
      const store = openStore({ path });
      const old = Date.now() - 40 * 86_400_000;
      for (let i = 0; i < 1200; i++) store.writeAttempt(run(`old-${i}`, old + i));
      store.close();
      const countRuns = (): number => (readTable(path, "SELECT count(*) AS n FROM runs") as Array<{ n: number }>)[0]!.n;
      let atStart = -1;
      const daemon = await serve({ cwd: p.dir, env: {}, graceMs: 1000, onEvent: (e) => {
        if (e.type === "started") atStart = countRuns();
      } });
      try {
        expect(atStart).toBe(1200);
        const deadline = Date.now() + 15_000;
        while (countRuns() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(countRuns()).toBe(0);
      } finally {
        await daemon.stop();
      }
    } finally {
      p.cleanup();
    }
  });
});
