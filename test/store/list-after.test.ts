import { describe, expect, it } from "vitest";
import { makeRecord, useTempStores } from "./temp-store.js";

describe("Store.listRuns after (keyset pagination) and lastRun", () => {
  const { open } = useTempStores();

  it("walks every run once, newest first, through runs that share a time", () => {
    const store = open();
    // 12 runs, three at each of four instants; one of them retried (its latest attempt counts).
    for (let i = 0; i < 12; i++) store.writeAttempt(makeRecord({ id: `run${String(i).padStart(2, "0")}`, queuedAt: 1000 + Math.floor(i / 3) * 10, state: "success" }));
    store.writeAttempt(makeRecord({ id: "run04", attempt: 2, queuedAt: 1010, state: "failure" }));
    const seen: string[] = [];
    let after: { at: number; id: string } | undefined;
    for (;;) {
      const page = store.listRuns({ limit: 5, ...(after ? { after } : {}) });
      seen.push(...page.map((r) => r.id));
      if (page.length < 5) break;
      const last = page[page.length - 1]!;
      after = { at: last.queuedAt!, id: last.id };
    }
    expect(seen).toEqual(store.listRuns({ limit: Infinity }).map((r) => r.id));
    expect(seen).toHaveLength(12);
    expect(seen.slice(0, 3)).toEqual(["run11", "run10", "run09"]);
    expect(store.listRuns({ limit: 2, after: { at: 1010, id: "run04" } }).map((r) => r.id)).toEqual(["run03", "run02"]);
  });

  it("lastRun is the latest running or finished attempt of one task", () => {
    const store = open();
    store.writeAttempt(makeRecord({ id: "a", task: "t", queuedAt: 1, state: "success" }));
    store.writeAttempt(makeRecord({ id: "b", task: "t", queuedAt: 2, state: "failure" }));
    store.writeAttempt(makeRecord({ id: "c", task: "t", queuedAt: 3, state: "queued" }));
    expect(store.lastRun("t")).toMatchObject({ id: "b", state: "failure" });
    expect(store.lastRun("other")).toBeUndefined();
  });
});
