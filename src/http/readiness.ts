import { accessSync, constants } from "node:fs";
import { dirname } from "node:path";
import type { ReadyJson } from "./schemas.js";
import type { DaemonView } from "./view.js";

/** Options of `checkReadiness`. */
export interface ReadinessOptions {
  /** The clock, epoch ms. */
  now: number;
  /**
   * A scheduled task whose next fire is this far behind the clock is overdue, ms.
   * @default 60000
   */
  overdueToleranceMs: number;
  /**
   * How long the backend may take to answer, ms.
   * @default 2000
   */
  backendTimeoutMs: number;
}

/**
 * Is the daemon ready: no enabled schedule overdue past the tolerance (a fire due since the
 * last fire, or since the daemon started, has not gone out), the store writable (file and
 * directory, and a flush of what is buffered succeeds), the backend (the broker's queue)
 * answering. Each failed check adds a reason.
 */
export async function checkReadiness(view: DaemonView, o: ReadinessOptions): Promise<ReadyJson> {
  const checks: ReadyJson["checks"] = [];
  const reasons: string[] = [];
  const fail = (name: "schedules" | "store" | "backend", detail: string): void => {
    checks.push({ name, ok: false, detail });
    reasons.push(detail);
  };

  const overdue: string[] = [];
  const states = view.taskStates();
  const fires = view.lastFires();
  for (const task of view.tasks()) {
    if (!task.schedule || states.get(task.name)?.enabled === false) continue;
    // Fires missed while the daemon was down are catch-up's business, not an overdue schedule.
    const since = Math.max(fires.get(task.name) ?? 0, view.facts.startedAt);
    const due = task.schedule.next(new Date(since));
    if (due && o.now - due.getTime() > o.overdueToleranceMs) {
      overdue.push(`${task.name} (due ${due.toISOString()}, ${Math.round((o.now - due.getTime()) / 1000)} s ago)`);
    }
  }
  if (overdue.length) fail("schedules", `schedule overdue: ${overdue.slice(0, 10).join(", ")}${overdue.length > 10 ? ` and ${overdue.length - 10} more` : ""}`);
  else checks.push({ name: "schedules", ok: true });

  const store = view.store;
  if (store && store.path !== ":memory:") {
    try {
      accessSync(store.path, constants.W_OK);
      accessSync(dirname(store.path), constants.W_OK);
      store.flush();
      checks.push({ name: "store", ok: true });
    } catch (error) {
      fail("store", `store not writable: ${(error as Error).message.split("\n")[0]}`);
    }
  } else {
    checks.push({ name: "store", ok: true, detail: store ? "in memory" : "no store (store: false)" });
  }

  const backend = view.backend?.();
  if (backend?.state === "down") {
    // The broker already knows: no need to wait for a command that would wait for the reconnect.
    fail("backend", `backend down since ${new Date(backend.since).toISOString()}: ${backend.message ?? backend.url}`);
  } else {
    await checkQueue(view, o.backendTimeoutMs, checks, fail);
  }
  return reasons.length ? { ready: false, reasons, checks } : { ready: true, checks };
}

/** The backend check: the broker's queue answers within `timeoutMs`. */
async function checkQueue(view: DaemonView, timeoutMs: number, checks: ReadyJson["checks"], fail: (name: "backend", detail: string) => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      view.queueCounts(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
    ]);
    checks.push({ name: "backend", ok: true });
  } catch (error) {
    fail("backend", `backend unreachable: ${(error as Error).message.split("\n")[0]}`);
  } finally {
    clearTimeout(timer);
  }
}
