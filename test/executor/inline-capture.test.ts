import { setTimeout as sleep } from "node:timers/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { runTask } from "../../src/consumer/run-task.js";
import { executeInline } from "../../src/executor/inline.js";
import type { RunLogLine } from "../../src/task/context.js";
import { task, type RunContext } from "../../src/task/task.js";

/**
 * What reached the process's real stdout: the stream's write is replaced (not forwarded, to
 * keep the test log clean) before the first capture installs its interception above it, so
 * writes that capture passes through land here. This file runs in its own process (forks pool).
 */
const passedThrough: string[] = [];
beforeAll(() => {
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
    passedThrough.push(String(chunk));
    const cb = rest.find((a) => typeof a === "function") as (() => void) | undefined;
    if (cb) process.nextTick(cb);
    return true;
  }) as typeof process.stdout.write;
});

function attempt(id: string, fn: (ctx: RunContext<Record<string, unknown>>) => unknown, lines: RunLogLine[], more: { timeoutMs?: number; graceMs?: number; queue?: () => Promise<string> } = {}) {
  const t = task({ name: `t-${id}` }, fn as never);
  return executeInline(
    { task: t, id, params: {}, attempt: 1, deps: undefined, log: (l) => lines.push(l), queue: more.queue ?? (async () => "q") },
    { timeoutMs: more.timeoutMs ?? 0, capture: true, ...(more.graceMs !== undefined ? { ignoredAbortGraceMs: more.graceMs } : {}) },
  );
}

describe("executeInline: output capture", () => {
  it("gives each concurrent run the lines it wrote, by async context, and leaves other output alone", async () => {
    const lines: RunLogLine[] = [];
    const writer = (name: string) => async () => {
      for (let i = 0; i < 3; i++) {
        process.stdout.write(`${name} ${i}\n`);
        await sleep(2);
        process.stderr.write(`${name} err ${i}\n`);
      }
    };
    const outside = setInterval(() => process.stdout.write("outside-any-run\n"), 1);
    try {
      await Promise.all([attempt("a", writer("a"), lines), attempt("b", writer("b"), lines)]);
    } finally {
      clearInterval(outside);
    }
    const of = (id: string) => lines.filter((l) => l.runId === id).map((l) => `${l.level}:${l.message}`);
    expect(of("a")).toEqual(["stdout:a 0", "stderr:a err 0", "stdout:a 1", "stderr:a err 1", "stdout:a 2", "stderr:a err 2"]);
    expect(of("b")).toEqual(["stdout:b 0", "stderr:b err 0", "stdout:b 1", "stderr:b err 1", "stdout:b 2", "stderr:b err 2"]);
    expect(lines.some((l) => l.message.includes("outside-any-run"))).toBe(false);
    expect(passedThrough.join("")).toContain("outside-any-run");
    expect(passedThrough.join("")).not.toMatch(/^a 0$/m);
  });

  it("does not capture what fluid writes for the run: a sink that prints, ctx.queue's own output", async () => {
    const lines: RunLogLine[] = [];
    const t = task({ name: "printer" }, async (ctx) => {
      ctx.log.info("via ctx.log");
      await ctx.queue("other");
      process.stdout.write("task's own\n");
    });
    const printed: string[] = [];
    const out = await executeInline(
      {
        task: t, id: "p", params: {}, attempt: 1, deps: undefined,
        // Like `fluid run`: print every line of the run to stdout as it comes.
        log: (l) => {
          lines.push(l);
          process.stdout.write(`printed: ${l.message}\n`);
          printed.push(l.message);
        },
        queue: async () => {
          process.stdout.write("queueing, from fluid\n");
          await sleep(1);
          process.stdout.write("queued, from fluid\n");
          return "id";
        },
      },
      { timeoutMs: 0, capture: true },
    );
    expect(out.state).toBe("success");
    expect(lines.map((l) => `${l.level}:${l.message}`)).toEqual(["info:via ctx.log", "stdout:task's own"]);
    expect(passedThrough.join("")).toContain("printed: task's own\n");
    expect(passedThrough.join("")).toContain("queued, from fluid\n");
  });

  it("joins partial writes into lines, decodes split UTF-8, and cuts a huge line while keeping memory bounded", async () => {
    const lines: RunLogLine[] = [];
    const euro = Buffer.from("€");
    await attempt("u", () => {
      process.stdout.write(euro.subarray(0, 1));
      process.stdout.write(Buffer.concat([euro.subarray(1), Buffer.from(" ok\r\n")]));
      process.stdout.write("x".repeat(20_000));
      process.stdout.write("y".repeat(20_000) + "\nlast");
    }, lines);
    expect(lines.map((l) => l.message.slice(0, 20))).toEqual(["€ ok", "x".repeat(20), "last"]);
    expect(lines[1]!.message).toBe(`${"x".repeat(8192)} … [${40_000 - 8192} more characters of this line dropped]`);
  });

  it("runTask captures only when it is given a log sink (a library caller without one keeps its output)", async () => {
    const t = task({ name: "lib" }, () => {
      process.stdout.write("lib output\n");
    });
    const lines: RunLogLine[] = [];
    await runTask(t, { log: (l) => lines.push(l) });
    expect(lines.map((l) => l.message)).toEqual(["lib output"]);
    passedThrough.length = 0;
    await runTask(t);
    expect(passedThrough).toEqual(["lib output\n"]);
  });

  it("calls a write's callback", async () => {
    const lines: RunLogLine[] = [];
    let called = 0;
    await attempt("cb", async () => {
      await new Promise<void>((resolve) => process.stdout.write("with callback\n", () => resolve()));
      called++;
      await new Promise<void>((resolve) => process.stdout.write("with encoding\n", "utf8", () => resolve()));
      called++;
    }, lines);
    expect(called).toBe(2);
    expect(lines.map((l) => l.message)).toEqual(["with callback", "with encoding"]);
  });
});

describe("executeInline: a task that ignores its abort signal", () => {
  it("ends at the deadline as a timeout; `settled` resolves when the function really ends; one warning after the grace", async () => {
    const lines: RunLogLine[] = [];
    let finished = 0;
    const started = Date.now();
    const out = await attempt("slow", async () => {
      await sleep(400); // ignores ctx.signal
      finished = Date.now();
      process.stdout.write("still printing after its timeout\n");
    }, lines, { timeoutMs: 50, graceMs: 100 });
    expect(out).toMatchObject({ state: "timeout", error: { code: "FLUID_TIMEOUT" } });
    expect(finished).toBe(0);
    expect(out.settled).toBeInstanceOf(Promise);
    await out.settled;
    expect(finished).toBeGreaterThanOrEqual(started + 350);
    // Late output is still the run's.
    expect(lines.filter((l) => l.level === "stdout").map((l) => l.message)).toEqual(["still printing after its timeout"]);
    const warnings = lines.filter((l) => l.level === "warn");
    expect(warnings.map((l) => l.message)).toEqual([
      expect.stringMatching(/^task t-slow run slow ignored its abort signal and is still running 100ms after it was stopped/),
    ]);
  });

  it("says nothing when the function stops soon after the abort", async () => {
    const lines: RunLogLine[] = [];
    const out = await attempt("polite", (ctx) => new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))), lines, { timeoutMs: 20, graceMs: 50 });
    expect(out.state).toBe("timeout");
    await out.settled;
    await sleep(100);
    expect(lines).toEqual([]);
  });

  it("a run that ends by itself has no `settled`", async () => {
    const out = await attempt("quick", () => 1, []);
    expect(out).toMatchObject({ state: "success", result: 1 });
    expect(out.settled).toBeUndefined();
  });
});
