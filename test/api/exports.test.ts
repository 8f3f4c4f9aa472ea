import { describe, expect, it } from "vitest";
import * as api from "../../src/index.js";

/**
 * The public entry exports what README.md and docs/ document (docs/api.md lists it), and no
 * internals. Adding a runtime export is a decision: document it, then add it here.
 */
const PUBLIC_EXPORTS = [
  // tasks, schedules, config
  "task", "command", "secret", "every", "crontab", "cron", "atStart", "defineConfig",
  // the library: load, run, serve, and the daemon's client
  "loadProject", "runTask", "serve", "queueAndWait", "connect", "enqueue", "waitForRun", "cancel",
  // errors, recognised by code
  "ExitCode", "FluidError", "isFluidError", "UsageError", "ConfigError", "TaskDefinitionError", "ScheduleError",
  "UnknownTaskError", "ParamsError", "TaskTimeoutError", "TaskAbortedError", "RunInterruptedError", "RunCancelledError",
  "WaitTimeoutError", "StoreError", "ExecError",
];

describe("the public entry", () => {
  it("exports exactly the documented API", () => {
    expect(Object.keys(api).sort()).toEqual([...PUBLIC_EXPORTS].sort());
  });

  it("exports no internals", () => {
    for (const name of ["formatDuration", "parseDuration", "withDefaultTimezone", "toErrorInfo", "nextRuns", "fireTimes", "isTask", "describeParams"]) {
      expect(api, name).not.toHaveProperty(name);
    }
  });

  it("every error class carries a stable FLUID_ code and an exit code", () => {
    const errors = Object.values(api as Record<string, unknown>).filter((v) =>
      typeof v === "function" && (v as { prototype?: unknown }).prototype instanceof api.FluidError);
    expect(errors.length).toBe(13);
    expect(new api.UsageError("x")).toMatchObject({ code: "FLUID_USAGE", exitCode: api.ExitCode.usage });
    expect(api.isFluidError(new api.StoreError("x"))).toBe(true);
  });
});
