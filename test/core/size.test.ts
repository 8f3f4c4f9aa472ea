import { describe, expect, it } from "vitest";
import { megabytes } from "../../src/core/size.js";

describe("megabytes: the one size grammar (task maxMemory, pool.maxWorkerMemory)", () => {
  it("reads numbers as MB and sizes with a unit in any case", () => {
    expect([megabytes(256), megabytes("512MB"), megabytes("512 mb"), megabytes("2GB"), megabytes("1.5g"), megabytes("2048k")]).toEqual([256, 512, 512, 2048, 1536, 2]);
  });

  it("refuses what is not a size", () => {
    for (const bad of ["", "lots", "512 MiB", "-5", "5 tb"]) expect(megabytes(bad)).toBeUndefined();
    expect(megabytes(-5)).toBeUndefined();
    expect(megabytes(Number.NaN)).toBeUndefined();
  });
});
