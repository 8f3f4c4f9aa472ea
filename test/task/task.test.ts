import { describe, expect, it } from "vitest";
import { z } from "zod";
import { DEFAULT_TIMEOUT_MS, isTask, task } from "../../src/task/task.js";
import { retryDelay } from "../../src/core/retry.js";

describe("task()", () => {
  it("takes the name from the options, else the function", () => {
    expect(task({ name: "a" }, async () => {}).name).toBe("a");
    expect(task(async function ping() {}).name).toBe("ping");
    expect(task({}, async () => {}).name).toBe(""); // set from the export name at load
  });

  it("fills every default", () => {
    const t = task(async function x() {});
    expect(t.timeoutMs).toBe(DEFAULT_TIMEOUT_MS);
    expect(t.priority).toBe("medium");
    expect(t.cpuBound).toBe(false);
    expect(t.maxConcurrency).toBe(0);
    expect(t.retry).toBeUndefined();
    expect(t.tags).toEqual([]);
    expect(t.params.safeParse({}).success).toBe(true);
    expect(isTask(t)).toBe(true);
    expect(isTask({ name: "x" })).toBe(false);
  });

  it("parses timeouts and retry policies", () => {
    const t = task({ name: "r", timeout: "5m", retry: { attempts: 4, delay: "1s", backoff: 2, maxDelay: "3s" } }, async () => {});
    expect(t.timeoutMs).toBe(300_000);
    expect(t.retry?.attempts).toBe(4);
    expect([2, 3, 4].map((n) => retryDelay(t.retry!, n))).toEqual([1000, 2000, 3000]);
    expect(task({ name: "z", timeout: 0 }, async () => {}).timeoutMs).toBe(0);
  });

  it("by default retries failures but not timeouts", () => {
    const t = task({ name: "r", retry: {} }, async () => {});
    expect(t.retry!.retryOn(new Error("x"), 1)).toBe(true);
    expect(t.retry!.retryOn(Object.assign(new Error("t"), { code: "FLUID_TIMEOUT" }), 1)).toBe(false);
  });

  it("rejects invalid options naming the task", () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ name: "t", cpubound: true }, /task "t": unknown option "cpubound"/],
      [{ name: "t", timeout: "soon" }, /task "t": invalid timeout "soon"/],
      [{ name: "t", priority: "urgent" }, /invalid priority "urgent"/],
      [{ name: "t", params: { name: "x" } }, /params must be a zod object schema/],
      [{ name: "t", maxConcurrency: -1 }, /maxConcurrency must be a whole number/],
      [{ name: "t", retry: { attempts: 0 } }, /retry.attempts must be a whole number >= 1/],
      [{ name: "t", retry: { tries: 2 } }, /unknown retry option "tries"/],
      [{ name: "t", schedule: "* * * * *" }, /schedule must be made by every\(\), crontab\(\) or cron\(\)/],
      [{ name: "bad name!" }, /invalid name "bad name!"/],
    ];
    for (const [options, message] of bad) {
      expect(() => task(options as never, async () => {})).toThrow(message);
    }
    expect(() => task({ name: "t" } as never, undefined as never)).toThrow(/task function is missing/);
  });

  it("types ctx.params from the schema", () => {
    const t = task({ name: "typed", params: z.object({ n: z.number() }) }, async (ctx) => ctx.params.n * 2);
    expect(t.params.parse({ n: 2 })).toEqual({ n: 2 });
  });
});

describe("task() child-process options", () => {
  it("parses maxMemory sizes and isolate", () => {
    expect(task({ name: "a", cpuBound: true, maxMemory: "512MB" }, async () => {}).maxMemoryMb).toBe(512);
    expect(task({ name: "b", cpuBound: true, maxMemory: "2GB" }, async () => {}).maxMemoryMb).toBe(2048);
    expect(task({ name: "c", cpuBound: true, maxMemory: 64 }, async () => {}).maxMemoryMb).toBe(64);
    expect(task({ name: "d" }, async () => {}).maxMemoryMb).toBeUndefined();
    expect(task({ name: "e", isolate: "run" }, async () => {}).isolate).toBe("run");
    expect(task({ name: "f" }, async () => {}).isolate).toBe("worker");
    expect(() => task({ name: "g", maxMemory: "lots" }, async () => {})).toThrow(/invalid maxMemory "lots"/);
    expect(() => task({ name: "h", maxMemory: "1MB" }, async () => {})).toThrow(/invalid maxMemory "1MB"/);
    expect(() => task({ name: "i", isolate: "thread" as never }, async () => {})).toThrow(/invalid isolate "thread"/);
  });
});
