import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openSqliteBroker } from "../../src/broker/sqlite.js";
import { waitForRun } from "../../src/daemon/client.js";
import { ExitCode, type FluidError } from "../../src/core/errors.js";
import { openStore, type RunRecord } from "../../src/store/index.js";
import { CONFIG, fluid, useTempProjects } from "../helpers/cli.js";
import { useTempStores } from "../store/temp-store.js";

const { tempDir } = useTempStores();
const project = useTempProjects();

const record = (id: string, state: RunRecord["state"]): RunRecord => ({
  id, attempt: 1, maxAttempts: 1, task: "t", state, trigger: "queue", params: {}, queuedAt: 1, host: "h", pid: 1,
});

/** A store and broker on one new file; closed by the caller. */
function open() {
  const path = join(tempDir(), "runs.db");
  return { store: openStore({ path }), broker: openSqliteBroker({ path }) };
}

async function failure(promise: Promise<unknown>): Promise<FluidError> {
  try {
    await promise;
  } catch (error) {
    return error as FluidError;
  }
  throw new Error("expected a rejection");
}

describe("waitForRun", () => {
  it("gives up after its timeout with its own code and exit code, not a usage error", async () => {
    const conn = open();
    try {
      conn.store.writeAttempt(record("r1", "running"));
      const error = await failure(waitForRun(conn, "r1", { timeoutMs: 100, pollMs: 10 }));
      expect(error).toMatchObject({ name: "WaitTimeoutError", code: "FLUID_WAIT_TIMEOUT", exitCode: ExitCode.waitTimeout });
      expect(error.exitCode).toBe(124);
      expect(error.message).toMatch(/run r1 has not ended after 100ms \(state running\); it goes on/);
      expect(error.hint).toMatch(/fluid show/);
    } finally {
      await conn.broker.close();
      conn.store.close();
    }
  });

  it("says at once that a run id is unknown instead of polling for it", async () => {
    const conn = open();
    try {
      const started = Date.now();
      const error = await failure(waitForRun(conn, "nope", { timeoutMs: 5000 }));
      expect(error).toMatchObject({ code: "FLUID_STORE" });
      expect(error.message).toMatch(/no run with id "nope" in .*runs\.db: it is neither recorded nor queued/);
      expect(error.hint).toMatch(/fluid history/);
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      await conn.broker.close();
      conn.store.close();
    }
  });

  it("surfaces an error of the store instead of polling a broken store forever", async () => {
    const conn = open();
    await conn.broker.close();
    conn.store.writeAttempt(record("r1", "running"));
    conn.store.close();
    const store = openStore({ path: conn.store.path });
    try {
      // The broker is closed: every look fails, and a retry cannot cure that.
      const error = await failure(waitForRun({ store, broker: conn.broker }, "r1", { timeoutMs: 5000 }));
      expect(error.name).toBe("BrokerClosedError");
    } finally {
      store.close();
    }
    // The store is closed: a StoreError no retry cures, surfaced at once.
    const broker = openSqliteBroker({ path: conn.store.path });
    try {
      const closed = await failure(waitForRun({ store, broker }, "r1", { timeoutMs: 5000 }));
      expect(closed).toMatchObject({ code: "FLUID_STORE" });
      expect(closed.message).toMatch(/is closed/);
    } finally {
      await broker.close();
    }
  });

  it("returns a run that has ended for good", async () => {
    const conn = open();
    try {
      conn.store.writeAttempt(record("r1", "success"));
      expect((await waitForRun(conn, "r1", { timeoutMs: 1000 })).state).toBe("success");
    } finally {
      await conn.broker.close();
      conn.store.close();
    }
  });
});

describe("fluid queue --wait --timeout (real process)", () => {
  it("exits 124 when the run has not ended in time, saying the run goes on", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": `import { task } from "fluid-tasks";\nexport const quick = task({}, async () => 1);\n` });
    const r = await fluid(["queue", "quick", "--wait", "--timeout", "300ms"], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(124);
    expect(r.stderr).toMatch(/has not ended after 300ms \(state queued\); it goes on/);
  });
});
