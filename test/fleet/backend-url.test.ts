import { describe, expect, it } from "vitest";
import { parseBackendUrl } from "../../src/fleet/backend-url.js";
import { jobIdOf, runIdOf, slotRunId } from "../../src/fleet/slot-run-id.js";
import { checkRunId } from "../../src/core/run-id.js";

describe("parseBackendUrl", () => {
  it("reads a Redis URL: host, port, database, credentials, prefix", () => {
    expect(parseBackendUrl("redis://127.0.0.1:6380/2")).toEqual({
      kind: "redis", host: "127.0.0.1", port: 6380, db: 2, tls: false, prefix: "fluid", display: "redis://127.0.0.1:6380/2",
    });
    const t = parseBackendUrl("rediss://me:s3cret@cache.internal/0?prefix=billing");
    expect(t).toMatchObject({ kind: "redis", host: "cache.internal", port: 6379, db: 0, username: "me", password: "s3cret", tls: true, prefix: "billing" });
    expect(t.display).toBe("rediss://me:***@cache.internal/0?prefix=billing");
    expect(parseBackendUrl("redis://h", { prefix: "p1" })).toMatchObject({ prefix: "p1" });
  });

  it("reads a PostgreSQL URL and its schema", () => {
    expect(parseBackendUrl("postgres://postgres@127.0.0.1:5432/test")).toMatchObject({ kind: "postgres", schema: "fluid", connectionString: "postgres://postgres@127.0.0.1:5432/test" });
    const t = parseBackendUrl("postgresql://u:pw@db/jobs?schema=team_a&sslmode=require");
    expect(t).toMatchObject({ kind: "postgres", schema: "team_a", connectionString: "postgresql://u:pw@db/jobs?sslmode=require", display: "postgresql://u:***@db/jobs?schema=team_a&sslmode=require" });
  });

  it("refuses what it cannot use, with FLUID_BACKEND and a hint", () => {
    for (const [url, message] of [
      ["mysql://h/db", /unsupported backend URL/],
      ["not a url", /invalid backend URL/],
      ["redis://h/x", /invalid Redis database/],
      ["redis://h/0?prefix=a b", /invalid key prefix/],
      ["postgres://h/db?schema=1bad", /invalid schema/],
    ] as const) {
      expect(() => parseBackendUrl(url)).toThrow(message);
      try {
        parseBackendUrl(url);
      } catch (error) {
        expect(error).toMatchObject({ code: "FLUID_BACKEND", exitCode: 2 });
        expect((error as { hint?: string }).hint).toBeTruthy();
      }
    }
  });
});

describe("run ids on BullMQ", () => {
  it("a slot's run id is the same everywhere, a valid run id, and one per slot", () => {
    const at = Date.UTC(2026, 0, 1, 3, 0, 0);
    expect(slotRunId("backup", at)).toBe(slotRunId("backup", at));
    expect(slotRunId("backup", at)).not.toBe(slotRunId("backup", at + 1000));
    expect(slotRunId("backup", at)).not.toBe(slotRunId("backup2", at));
    for (const name of ["backup", "ns:job", "_private", "x".repeat(100)]) expect(checkRunId(slotRunId(name, at))).toBeTruthy();
  });

  it("job ids BullMQ refuses (integers, colons) round-trip", () => {
    for (const id of ["abc123", "12345", "a:b", "x:y:z", "0123"]) {
      const jobId = jobIdOf(id);
      expect(`${parseInt(jobId, 10)}` === jobId).toBe(false);
      expect(jobId.includes(":")).toBe(false);
      expect(runIdOf(jobId)).toBe(id);
    }
    expect(jobIdOf("abc123")).toBe("abc123");
  });
});
