import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { RunCancelledError, RunInterruptedError } from "../../src/core/errors.js";
import { executeAttempt } from "../../src/executor/execute-attempt.js";
import { executeInline, RunStop } from "../../src/executor/inline.js";
import type { ContextInit } from "../../src/task/context.js";
import { task, type RunContext } from "../../src/task/task.js";

// What an inline attempt builds only when it is used: ctx.signal's controller, the stop of a
// consumer's run (RunStop), and the time limits kept in one list per limit.

type Fn = (ctx: RunContext<Record<string, unknown>>) => unknown;

function init(name: string, fn: Fn): Omit<ContextInit, "signal"> {
  return {
    task: task({ name }, fn), id: name, params: {}, attempt: 1, deps: undefined,
    log: () => {}, queue: async () => "id",
  };
}

/** A task that waits until its signal aborts, then rejects with the reason. */
const untilAborted: Fn = (ctx) =>
  new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true }));

describe("inline attempt: time limits", () => {
  it("each attempt times out after its own limit, when attempts with the same limit start at different times", async () => {
    const first = executeInline(init("first", untilAborted), { timeoutMs: 150 });
    await sleep(100);
    const secondStart = performance.now();
    const second = executeInline(init("second", untilAborted), { timeoutMs: 150 });
    expect((await first).state).toBe("timeout");
    // The list's timer fired for the first: the second, started 100 ms later, still runs.
    const out = await second;
    expect(out.state).toBe("timeout");
    expect(performance.now() - secondStart).toBeGreaterThanOrEqual(140);
  });

  it("an attempt that ended leaves the others' limits in place, and attempts with other limits keep theirs", async () => {
    const quick = executeInline(init("quick", () => "done"), { timeoutMs: 200 });
    const held = executeInline(init("held", untilAborted), { timeoutMs: 200 });
    const other = executeInline(init("other", untilAborted), { timeoutMs: 60 });
    expect((await quick).state).toBe("success");
    expect(await other).toMatchObject({ state: "timeout", error: { message: expect.stringContaining("60ms") } });
    expect(await held).toMatchObject({ state: "timeout", error: { message: expect.stringContaining("200ms") } });
  });

  it("a finished attempt leaves no timer behind (the limit does not keep the process waiting)", async () => {
    const handles = (): number => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = handles();
    await executeInline(init("short", () => "ok"), { timeoutMs: 60_000 });
    expect(handles()).toBe(before);
  });
});

describe("inline attempt: outside stop", () => {
  it("a RunStop ends an attempt whose task never reads ctx.signal, and hands the reason to one that does", async () => {
    const stop = new RunStop();
    let release: () => void = () => {};
    const deaf = executeInline(init("deaf", () => new Promise<void>((r) => (release = r))), { timeoutMs: 0, signal: stop });
    await sleep(10);
    const reason = new RunCancelledError("cancelled by test");
    stop.abort(reason);
    const out = await deaf;
    expect(out.state).toBe("cancelled");
    expect(out.settled).toBeInstanceOf(Promise); // its function is still running
    release();
    await out.settled;

    const late: unknown[] = [];
    const stop2 = new RunStop();
    const reading = executeInline(init("reading", async (ctx) => {
      await sleep(10);
      // The signal is made after the stop: it is already aborted, with the stop's reason.
      late.push(ctx.signal.aborted, ctx.signal.reason);
      throw ctx.signal.reason;
    }), { timeoutMs: 0, signal: stop2 });
    stop2.abort(reason);
    expect((await reading).state).toBe("cancelled");
    await sleep(20);
    expect(late).toEqual([true, reason]);
  });

  it("a RunStop aborted before the attempt starts ends it at once", async () => {
    const stop = new RunStop();
    stop.abort(new RunInterruptedError("shutdown"));
    const out = await executeInline(init("never", untilAborted), { timeoutMs: 0, signal: stop });
    expect(out.state).toBe("interrupted");
  });

  it("RunStop.signal follows the stop, made before or after it aborts (a pool worker's run gets one)", () => {
    const before = new RunStop();
    const signal = before.signal;
    expect(signal.aborted).toBe(false);
    before.abort("why");
    expect([signal.aborted, signal.reason]).toEqual([true, "why"]);
    before.abort("again"); // once only
    expect(signal.reason).toBe("why");

    const after = new RunStop();
    after.abort("late");
    expect([after.signal.aborted, after.signal.reason]).toEqual([true, "late"]);
  });

  it("executeAttempt accepts an AbortSignal as before", async () => {
    const controller = new AbortController();
    const running = executeAttempt(init("plain", untilAborted), { timeoutMs: 0, signal: controller.signal, capture: false });
    controller.abort();
    expect((await running).state).toBe("interrupted");
  });
});
