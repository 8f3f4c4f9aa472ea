import { describe, expect, it } from "vitest";
import { startApi } from "./helpers.js";

// /readyz: 503 with the reason when a schedule is overdue, or the backend does not answer.

const TASKS = `
import { task, every } from "fluid-tasks";
export const hourly = task({ schedule: every("1h") }, async () => {});
export const plain = task({}, async () => {});
`;

describe("GET /readyz", () => {
  it("is 503 naming the task when a schedule is overdue past the tolerance (an injected clock two hours ahead)", async () => {
    let offset = 0;
    const api = await startApi(TASKS, { now: () => Date.now() + offset, overdueToleranceMs: 1000 });
    try {
      expect((await api.call("/readyz")).status).toBe(200);
      offset = 2 * 3_600_000; // the daemon's timer has not fired in "two hours"
      const res = await api.call("/readyz");
      expect(res.status).toBe(503);
      const body = (await res.json()) as { ready: boolean; reasons: string[]; checks: Array<{ name: string; ok: boolean }> };
      expect(body.ready).toBe(false);
      expect(body.reasons).toEqual([expect.stringMatching(/^schedule overdue: hourly \(due .*, \d+ s ago\)$/)]);
      expect(body.checks.find((c) => c.name === "store")).toMatchObject({ ok: true });
      // A disabled task is not expected to fire.
      await api.call("/api/tasks/hourly", { method: "PATCH", auth: true, json: { enabled: false } });
      expect((await api.call("/readyz")).status).toBe(200);
    } finally {
      await api.close();
    }
  });

  it("is 503 when the backend does not answer", async () => {
    const api = await startApi(TASKS, {}, {
      wrap: (view) => ({ ...view, queueCounts: () => Promise.reject(new Error("connection refused")) }),
    });
    try {
      const res = await api.call("/readyz");
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ ready: false, reasons: ["backend unreachable: connection refused"] });
      expect((await api.call("/healthz")).status).toBe(200); // alive all the same
    } finally {
      await api.close();
    }
  });

  it("is 503 when the store cannot be written", async () => {
    const api = await startApi(TASKS, {}, {
      wrap: (view) => ({
        ...view,
        store: new Proxy(view.store!, {
          get: (target, key) => (key === "flush" ? () => { throw new Error("disk I/O error"); } : Reflect.get(target, key)),
        }),
      }),
    });
    try {
      const res = await api.call("/readyz");
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ ready: false, reasons: ["store not writable: disk I/O error"] });
    } finally {
      await api.close();
    }
  });
});
