import { describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.js";
import { maybePrune, PRUNE_EVERY_MS } from "../../src/store/maybe-prune.js";

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
