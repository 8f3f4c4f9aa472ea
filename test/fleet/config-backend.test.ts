import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config/load.js";

const FILE = "/project/fluid.config.ts";
const base = { tasks: ["./tasks/*.ts"] };

describe("the config's backend", () => {
  it("is none by default (embedded)", () => {
    expect(resolveConfig(base, FILE).backend).toBeUndefined();
  });

  it("takes a URL or { url, prefix }, and FLUID_BACKEND_URL over the URL", () => {
    expect(resolveConfig({ ...base, backend: "redis://h:6379/0" }, FILE).backend).toEqual({ url: "redis://h:6379/0" });
    expect(resolveConfig({ ...base, backend: { url: "postgres://u@h/db", prefix: "team_a", stallMs: 5000 } }, FILE).backend).toEqual({ url: "postgres://u@h/db", prefix: "team_a", stallMs: 5000 });
    expect(resolveConfig({ ...base, backend: { url: "redis://h", prefix: "p" } }, FILE, { FLUID_BACKEND_URL: "redis://other/1" }).backend).toEqual({ url: "redis://other/1", prefix: "p" });
    expect(resolveConfig(base, FILE, { FLUID_BACKEND_URL: "redis://other/1" }).backend).toEqual({ url: "redis://other/1" });
  });

  it("refuses a backend of the wrong shape, naming the key", () => {
    expect(() => resolveConfig({ ...base, backend: 6379 }, FILE)).toThrow(/`backend` must be a URL/);
    expect(() => resolveConfig({ ...base, backend: { url: "redis://h", prefx: "p" } }, FILE)).toThrow(/backend\.prefx/);
    expect(() => resolveConfig({ ...base, backend: { url: "" } }, FILE)).toThrow(/backend\.url must be a non-empty string/);
    expect(() => resolveConfig({ ...base, backend: { url: "redis://h", stallMs: 10 } }, FILE)).toThrow(/backend\.stallMs must be a whole number of ms >= 1000/);
  });
});
