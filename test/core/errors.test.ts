import { describe, expect, it } from "vitest";
import { fromErrorInfo, isFluidError, TaskTimeoutError, toErrorInfo, UsageError } from "../../src/core/errors.js";
import { decodeValue, encodeValue } from "../../src/executor/codec.js";

// One encoding of an error wherever it leaves the process: records, --json, IPC, returned values.

describe("toErrorInfo / fromErrorInfo", () => {
  it("keeps name, message, code, hint, stack and the causes, as plain JSON", () => {
    const inner = Object.assign(new TypeError("inner"), { code: 42 });
    const error = new UsageError("outer", { cause: inner, hint: "do this" });
    const info = toErrorInfo(error);
    expect(info).toMatchObject({
      name: "UsageError", message: "outer", code: "FLUID_USAGE", hint: "do this",
      cause: { name: "TypeError", message: "inner", code: "42" },
    });
    expect(info.stack).toContain("outer");
    expect(JSON.parse(JSON.stringify(info))).toEqual(info);

    const back = fromErrorInfo(info);
    expect(back).toBeInstanceOf(Error);
    expect(back).toMatchObject({ name: "UsageError", message: "outer", code: "FLUID_USAGE", hint: "do this", stack: info.stack });
    expect(back.cause).toMatchObject({ name: "TypeError", message: "inner", code: "42" });
  });

  it("describes a thrown value that is not an Error", () => {
    expect(toErrorInfo("plain text")).toEqual({ name: "NonError", message: "plain text" });
    expect(toErrorInfo({ a: 1 })).toEqual({ name: "NonError", message: '{"a":1}' });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(toErrorInfo(cycle)).toEqual({ name: "NonError", message: "[object Object]" });
  });

  it("follows causes a few levels deep only", () => {
    let error = new Error("0");
    for (let i = 1; i <= 10; i++) error = new Error(String(i), { cause: error });
    let info = toErrorInfo(error);
    let depth = 0;
    while (info.cause) {
      info = info.cause;
      depth++;
    }
    expect(depth).toBe(4);
  });

  it("is the encoding of an Error inside a value sent to or from a worker", () => {
    const error = new TaskTimeoutError("t", 1500);
    const back = (decodeValue(encodeValue({ e: error })) as { e: Error }).e;
    expect(back).toMatchObject({ name: "TaskTimeoutError", code: "FLUID_TIMEOUT", hint: error.hint, message: error.message });
    // Recognised by code, not class: a FluidError's exitCode does not travel.
    expect(isFluidError(back)).toBe(false);
  });
});
