import { describe, expect, it } from "vitest";
import { checkBackend } from "../../src/fleet/check-backend.js";
import { parseBackendUrl } from "../../src/fleet/backend-url.js";
import { BACKENDS, HAS_REDIS_SERVER, freePort, ownTarget, startRedisServer, stopChild } from "./backends.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [redis, postgres] = BACKENDS;


describe("checkBackend", () => {
  it.runIf(redis.up)("accepts this machine's Redis (noeviction)", async () => {
    expect(await checkBackend(parseBackendUrl(redis.url))).toMatchObject({ kind: "redis", version: expect.stringMatching(/^\d+\.\d+/) });
  });

  it.runIf(postgres.up)("accepts this machine's PostgreSQL and prepares the schema, twice at once", async () => {
    const { target, drop } = ownTarget(postgres.url);
    try {
      const [a, b] = await Promise.all([checkBackend(target), checkBackend(target)]);
      expect(a).toMatchObject({ kind: "postgres", version: expect.stringMatching(/^\d+/) });
      expect(b.version).toBe(a.version);
    } finally {
      await drop();
    }
  });

  it.runIf(HAS_REDIS_SERVER)("a Redis that may evict keys is refused, saying what to set (a redis-server of its own)", async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "fluid-evict-"));
    const server = await startRedisServer(port, dir, ["--appendonly", "no", "--maxmemory-policy", "allkeys-lru"]);
    try {
      const error = await checkBackend(parseBackendUrl(`redis://127.0.0.1:${port}/0`)).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "FLUID_BACKEND", message: expect.stringContaining("maxmemory-policy allkeys-lru") });
      expect((error as { hint: string }).hint).toContain("noeviction");
    } finally {
      await stopChild(server);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a server that is not there is a BackendError naming it", async () => {
    const port = await freePort();
    for (const url of [`redis://127.0.0.1:${port}/0`, `postgres://postgres@127.0.0.1:${port}/test`]) {
      const error = await checkBackend(parseBackendUrl(url)).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "FLUID_BACKEND", exitCode: 2, message: expect.stringMatching(/cannot reach the (Redis|PostgreSQL) backend/) });
    }
  });
});
