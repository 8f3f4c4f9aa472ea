import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fluid } from "../helpers/cli.js";

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length > 0) rmSync(dirs.pop()!, { recursive: true, force: true });
});

describe("the fleet's packages in dist/cli/vendor.js (real processes)", () => {
  it("are not loaded by fluid run, and load when a command uses a fleet backend", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "fluid-vendor-"));
    dirs.push(cacheDir);
    const env = { FLUID_CODE_CACHE: cacheDir };
    const cached = (prefix: string): boolean => readdirSync(cacheDir).some((name) => name.startsWith(prefix));

    const run = await fluid(["run", "say_hi", "--name", "bob", "--no-record"], { env });
    expect(run.exitCode).toBe(0);
    expect(cached("bundle.js-")).toBe(true); // the CLI went through this cache directory
    expect(cached("vendor.js-")).toBe(false);

    // Nothing listens on port 1: the probe loads ioredis, fails fast and says so.
    const status = await fluid(["status"], { env: { ...env, FLUID_BACKEND_URL: "redis://127.0.0.1:1/0" } });
    expect(status.stdout).toMatch(/backend\s+redis:\/\/127\.0\.0\.1:1\/0 unreachable/);
    expect(cached("vendor.js-")).toBe(true);
  });
});
