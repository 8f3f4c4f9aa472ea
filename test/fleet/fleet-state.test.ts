import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect } from "vitest";
import { BackendError } from "../../src/fleet/backend-error.js";
import { parseBackendUrl } from "../../src/fleet/backend-url.js";
import { openFleetState } from "../../src/fleet/open-fleet-state.js";
import { BACKENDS, useOwnNamespace } from "./backends.js";

describe.each(BACKENDS)("fleet state on $name", ({ name, url, up }) => {
  const { test, target } = useOwnNamespace({ name, url, up });

  test("task states and last fires are shared by every process; a last fire never goes back", async () => {
    const [a, b] = await Promise.all([openFleetState(target()), openFleetState(target())]);
    try {
      expect(await a.taskStates()).toEqual(new Map());
      await a.setTaskEnabled("tick", false, "db migration");
      await a.setTaskEnabled("hello", false);
      await a.setTaskEnabled("hello", true);
      const states = await b.taskStates();
      expect(states.get("tick")).toMatchObject({ enabled: false, reason: "db migration" });
      expect(states.get("hello")).toMatchObject({ enabled: true });
      expect(states.get("hello")!.reason).toBeUndefined();
      expect(states.get("tick")!.changedAt).toBeGreaterThan(Date.now() - 60_000);
      await a.setLastFire("tick", 2000);
      await b.setLastFire("tick", 1000); // an earlier slot written late by a slower daemon
      await b.setLastFire("other", 5);
      expect(await a.lastFires()).toEqual(new Map([["tick", 2000], ["other", 5]]));
      // A last fire alone is no enabled state.
      expect([...(await a.taskStates()).keys()].sort()).toEqual(["hello", "tick"]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("last fires written in batches by several processes at once keep the latest of each task", async () => {
    const [a, b] = await Promise.all([openFleetState(target()), openFleetState(target())]);
    try {
      await a.setLastFires(new Map());
      const tasks = Array.from({ length: 50 }, (_, i) => `t${i}`);
      // Two daemons, overlapping batches in opposite orders, at once (PostgreSQL: no deadlock).
      await Promise.all([
        a.setLastFires(new Map(tasks.map((t, i) => [t, 1000 + i]))),
        b.setLastFires(new Map([...tasks].reverse().map((t) => [t, 1500]))),
        a.setLastFires(new Map([["t0", 3000]])),
      ]);
      await b.setLastFires(new Map([["t0", 2000], ["new", 7]])); // older for t0: kept as it was
      const fires = await b.lastFires();
      expect(fires.get("t0")).toBe(3000);
      expect(fires.get("new")).toBe(7);
      for (let i = 1; i < 50; i++) expect(fires.get(`t${i}`)).toBe(Math.max(1000 + i, 1500));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("slots: at most `limit` runs hold one at once across processes, taken atomically", async () => {
    const [a, b] = await Promise.all([openFleetState(target()), openFleetState(target())]);
    try {
      const ids = Array.from({ length: 20 }, (_, i) => `run${i}`);
      const got = await Promise.all(ids.map((id, i) => (i % 2 ? a : b).acquireSlot("busy", id, 3)));
      expect(got.filter(Boolean)).toHaveLength(3);
      const holders = ids.filter((_, i) => got[i]);
      expect((await a.slotHolders("busy")).sort()).toEqual([...holders].sort());
      // Taking a slot the run holds again is a renewal, not a second slot.
      expect(await a.acquireSlot("busy", holders[0]!, 3)).toBe(true);
      expect(await b.acquireSlot("busy", "late", 3)).toBe(false);
      await a.releaseSlot("busy", holders[0]!);
      expect(await b.acquireSlot("busy", "late", 3)).toBe(true);
      // Another task's slots are its own.
      expect(await a.acquireSlot("calm", "x", 1)).toBe(true);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test("a slot whose holder stopped renewing it (a process that died) is free after its lease; a live holder's is renewed", async () => {
    const dead = await openFleetState(target(), { leaseMs: 1000 });
    const live = await openFleetState(target(), { leaseMs: 1000 });
    const other = await openFleetState(target(), { leaseMs: 1000 });
    try {
      expect(await dead.acquireSlot("one", "gone", 1)).toBe(true);
      expect(await live.acquireSlot("two", "alive", 1)).toBe(true);
      await dead.close(); // stops renewing, as a SIGKILLed daemon does
      expect(await other.acquireSlot("one", "next", 1)).toBe(false);
      await sleep(1500);
      expect(await other.acquireSlot("one", "next", 1)).toBe(true);
      // Renewed every third of the lease: still held after more than a lease.
      expect(await other.acquireSlot("two", "next", 1)).toBe(false);
      expect(await other.slotHolders("two")).toEqual(["alive"]);
    } finally {
      await Promise.all([live.close(), other.close(), dead.close()]);
    }
  });

  test("an unreachable backend is a BackendError at once", async () => {
    const bad = parseBackendUrl(name === "redis" ? "redis://127.0.0.1:1/0" : "postgres://postgres@127.0.0.1:1/test");
    await expect(openFleetState(bad)).rejects.toThrow(BackendError);
    await expect(openFleetState(bad)).rejects.toThrow(/cannot reach the (Redis|PostgreSQL) backend/);
  });
});
