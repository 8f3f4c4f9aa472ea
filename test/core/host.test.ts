import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { thisHost } from "../../src/core/host.js";

describe("thisHost", () => {
  it("is the machine's host name, the same string on every call", () => {
    expect(thisHost()).toBe(hostname());
    expect(thisHost()).toBe(thisHost());
  });
});
