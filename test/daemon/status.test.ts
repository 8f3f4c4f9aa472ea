import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { openDatabase } from "../../src/persistence/open-database.js";
import { acquireLease, type LeaseHolder, type LeaseProbe } from "../../src/persistence/lease.js";
import { resolveConfig, type Project } from "../../src/config/load.js";
import { Registry } from "../../src/config/registry.js";
import { readDaemonStatus } from "../../src/daemon/status.js";
import { useTempStores } from "../store/temp-store.js";

// readDaemonStatus without processes: a lease written by another host is judged by its heartbeat.

const { tempDir, open } = useTempStores();

const here: LeaseProbe = { host: "here", pidNamespace: "pid:[1]", isAlive: () => true, startOf: () => undefined };
const holder = (at: number): LeaseHolder => ({ owner: "o", host: "elsewhere", pid: 42, acquiredAt: at - 60_000, heartbeatAt: at });

function projectWith(store: string): Project {
  const config = resolveConfig({ tasks: ["./t/*.ts"], store: { path: store } }, join(store, "..", "fluid.config.ts"));
  return { configFile: "/p/fluid.config.ts", root: "/p", config, registry: new Registry() };
}

describe("readDaemonStatus", () => {
  it("another host's lease serves while its heartbeat is fresh, and is stale once older than FLUID_LEASE_STALE_MS", async () => {
    const dir = tempDir();
    const path = join(dir, "fluid.db");
    open({ path }).close();
    const now = Date.now();
    const db = openDatabase(path);
    acquireLease(db, holder(now - 3000), 20_000, here);
    db.close();
    const fresh = await readDaemonStatus(projectWith(path), { now, probe: here, env: {} });
    expect(fresh).toMatchObject({ serving: true, daemon: { pid: 42, host: "elsewhere", local: false, stale: false, heartbeatAgeMs: 3000, heartbeatLate: false } });
    const later = await readDaemonStatus(projectWith(path), { now: now + 30_000, probe: here, env: {} });
    expect(later).toMatchObject({ serving: false, daemon: { stale: true, heartbeatLate: true } });
    expect(later.daemon!.why).toMatch(/heartbeat is 33s old/);
    const wider = await readDaemonStatus(projectWith(path), { now: now + 30_000, probe: here, env: { FLUID_LEASE_STALE_MS: "60000" } });
    expect(wider.serving).toBe(true);
  });

  it("recording off: not serving, with a note", async () => {
    const project = projectWith(":memory:");
    const status = await readDaemonStatus(project, { env: {} });
    expect(status).toMatchObject({ serving: false, store: null, daemon: null });
    expect(status.notes.join()).toMatch(/records nothing/);
  });
});
