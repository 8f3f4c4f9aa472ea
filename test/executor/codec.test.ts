import { describe, expect, it } from "vitest";
import { decodeValue, encodeValue } from "../../src/executor/codec.js";

const roundTrip = (v: unknown): unknown => decodeValue(encodeValue(v));

describe("codec", () => {
  it("sends plain JSON as is, with a plain marker", () => {
    const v = { a: 1, b: ["x", null, true], c: { d: "e" } };
    expect(encodeValue(v)).toBe(`P${JSON.stringify(v)}`);
    expect(roundTrip(v)).toEqual(v);
    expect(encodeValue(undefined)).toBeUndefined();
    expect(roundTrip(undefined)).toBeUndefined();
  });

  it("keeps Date, BigInt, Map, Set, bytes, errors and non-finite numbers, nested", () => {
    const err = Object.assign(new TypeError("bad"), { code: "E_BAD" });
    const v = {
      when: new Date(1234), invalid: new Date(Number.NaN), big: -(2n ** 80n),
      map: new Map<unknown, unknown>([["k", new Date(1)], [2, new Set([3n])]]),
      bytes: new Uint8Array([1, 2, 255]), nums: [Number.NaN, Infinity, -Infinity, -1.5], holes: [undefined, 1], err,
    };
    const back = roundTrip(v) as typeof v;
    expect(encodeValue(v)!.startsWith("T")).toBe(true);
    expect(back.when).toEqual(new Date(1234));
    expect(Number.isNaN(back.invalid.getTime())).toBe(true);
    expect(back.big).toBe(-(2n ** 80n));
    expect(back.map).toEqual(new Map<unknown, unknown>([["k", new Date(1)], [2, new Set([3n])]]));
    expect([...back.bytes]).toEqual([1, 2, 255]);
    expect(back.nums).toEqual([Number.NaN, Infinity, -Infinity, -1.5]);
    expect(back.holes).toEqual([undefined, 1]);
    expect(back.err).toBeInstanceOf(Error);
    expect(back.err).toMatchObject({ name: "TypeError", message: "bad", code: "E_BAD" });
  });

  it("drops undefined object fields as JSON does", () => {
    expect(roundTrip({ a: undefined, b: 1 })).toEqual({ b: 1 });
  });

  it("refuses functions, symbols and cycles with a message naming the key", () => {
    expect(() => encodeValue({ fn: () => 1 })).toThrow(/function \(at "fn"\) cannot be sent/);
    expect(() => encodeValue({ s: Symbol("x") })).toThrow(/symbol/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => encodeValue(cycle)).toThrow(/circular/i);
  });
});
