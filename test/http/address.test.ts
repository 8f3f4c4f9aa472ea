import { describe, expect, it } from "vitest";
import { isLoopback, parseListen } from "../../src/http/address.js";
import { bearerToken, tokenChecker } from "../../src/http/auth.js";
import { decodeCursor, encodeCursor } from "../../src/http/run-json.js";

describe("parseListen", () => {
  it("reads [host:]port", () => {
    expect(parseListen("8080")).toEqual({ host: undefined, port: 8080 });
    expect(parseListen(":0")).toEqual({ host: undefined, port: 0 });
    expect(parseListen("0.0.0.0:80")).toEqual({ host: "0.0.0.0", port: 80 });
    expect(parseListen("[::1]:9000")).toEqual({ host: "::1", port: 9000 });
    expect(parseListen("localhost:9000")).toEqual({ host: "localhost", port: 9000 });
  });
  it("refuses anything else with the expected form", () => {
    for (const bad of ["", "http://x:80", "host", "1:2:3", "x:65536", "x:-1", "[::1]"]) {
      expect(() => parseListen(bad)).toThrow(/must be \[host:\]port/);
    }
  });
});

describe("isLoopback", () => {
  it("knows loopback addresses", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "localhost", "::ffff:127.0.0.1"]) expect(isLoopback(h)).toBe(true);
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "example.com", "128.0.0.1"]) expect(isLoopback(h)).toBe(false);
  });
});

describe("tokens and cursors", () => {
  it("compares tokens: missing, wrong (any length), ok", () => {
    const check = tokenChecker("s3cret-token");
    expect(check(undefined)).toBe("missing");
    expect(check("")).toBe("missing");
    expect(check("s3cret-toke")).toBe("wrong");
    expect(check("s3cret-token-and-more")).toBe("wrong");
    expect(check("s3cret-token")).toBe("ok");
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(bearerToken("bearer   abc ")).toBe("abc");
    expect(bearerToken("Basic abc")).toBeUndefined();
  });
  it("round-trips a cursor and refuses a forged one", () => {
    const cursor = encodeCursor({ id: "abc", attempt: 1, maxAttempts: 1, task: "t", state: "success", trigger: "cli", params: {}, queuedAt: 5, host: "h", pid: 1 });
    expect(decodeCursor(cursor)).toEqual({ at: 5, id: "abc" });
    expect(decodeCursor("nope")).toBeUndefined();
    expect(decodeCursor(Buffer.from('{"a":1}').toString("base64url"))).toBeUndefined();
  });
});
