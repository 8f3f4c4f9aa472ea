import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { checkBackend } from "../../src/fleet/check-backend.js";
import { parseBackendUrl } from "../../src/fleet/backend-url.js";
import { BACKENDS, HAS_REDIS_SERVER, ownTarget } from "./backends.js";

const [redis, postgres] = BACKENDS;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

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
    const server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxmemory-policy", "allkeys-lru"], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      await new Promise<void>((resolve, reject) => {
        let out = "";
        server.once("error", reject);
        server.once("exit", (code) => reject(new Error(`redis-server exited ${code}`)));
        server.stdout!.on("data", (c: Buffer) => {
          out += c.toString();
          if (out.includes("Ready to accept connections")) resolve();
        });
      });
      const error = await checkBackend(parseBackendUrl(`redis://127.0.0.1:${port}/0`)).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "FLUID_BACKEND", message: expect.stringContaining("maxmemory-policy allkeys-lru") });
      expect((error as { hint: string }).hint).toContain("noeviction");
    } finally {
      const exited = new Promise((r) => server.once("exit", r));
      server.kill("SIGKILL");
      await exited;
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
