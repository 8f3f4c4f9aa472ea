import { describe, expect, it } from "vitest";
import { z } from "zod";
import { runTask, type AttemptRecord } from "../../src/consumer/run-task.js";
import { task } from "../../src/task/task.js";
import type { RunLogLine } from "../../src/task/context.js";

describe("runTask", () => {
  it("runs a task with validated params and returns its result", async () => {
    const t = task({ name: "double", params: z.object({ n: z.number() }) }, async (ctx) => ctx.params.n * 2);
    const r = await runTask(t, { params: { n: 21 } });
    expect(r).toMatchObject({ task: "double", state: "success", result: 42, attempts: 1, params: { n: 21 } });
    expect(r.id).toMatch(/^[0-9a-f]{20}$/);
  });

  it("throws a ParamsError before running anything", async () => {
    let ran = false;
    const t = task({ name: "p", params: z.object({ n: z.number() }) }, async () => {
      ran = true;
    });
    await expect(runTask(t, { params: { n: "x" } })).rejects.toMatchObject({ code: "FLUID_PARAMS" });
    expect(ran).toBe(false);
  });

  it("records a failure with the error", async () => {
    const t = task({ name: "boom" }, async () => {
      throw new TypeError("bad thing");
    });
    const r = await runTask(t);
    expect(r.state).toBe("failure");
    expect(r.error).toMatchObject({ name: "TypeError", message: "bad thing" });
  });

  it("retries with backoff and records each attempt", async () => {
    const records: AttemptRecord[] = [];
    const t = task({ name: "flaky", retry: { attempts: 3, delay: 10, backoff: 2 } }, async (ctx) => {
      if (ctx.attempt < 3) throw new Error(`fail ${ctx.attempt}`);
      return ctx.attempt;
    });
    const started = Date.now();
    const r = await runTask(t, { onAttempt: (rec) => records.push(rec) });
    expect(r).toMatchObject({ state: "success", result: 3, attempts: 3 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(30 - 5); // 10ms + 20ms of backoff
    expect(records.map((x) => `${x.attempt}:${x.state}:${x.trigger}`)).toEqual([
      "1:running:cli", "1:failure:cli", "2:running:retry", "2:failure:retry", "3:running:retry", "3:success:retry",
    ]);
    expect(new Set(records.map((x) => x.id)).size).toBe(1);
  });

  it("gives up after the last attempt", async () => {
    const t = task({ name: "never", retry: { attempts: 2, delay: 1 } }, async () => {
      throw new Error("no");
    });
    expect(await runTask(t)).toMatchObject({ state: "failure", attempts: 2 });
  });

  it("never retries an abort", async () => {
    let calls = 0;
    const t = task({ name: "ab", retry: { attempts: 5, delay: 1 } }, async (ctx) => {
      calls++;
      ctx.abort("nothing to do");
    });
    const r = await runTask(t);
    expect(r).toMatchObject({ state: "aborted", attempts: 1, error: { code: "FLUID_ABORTED", message: "nothing to do" } });
    expect(calls).toBe(1);
  });

  it("times out, aborting ctx.signal, and does not retry a timeout by default", async () => {
    let signalled = false;
    const t = task({ name: "slow", timeout: 50, retry: { attempts: 3, delay: 1 } }, async (ctx) => {
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => {
        signalled = true;
        resolve();
      }));
    });
    const r = await runTask(t);
    expect(r).toMatchObject({ state: "timeout", attempts: 1, error: { code: "FLUID_TIMEOUT" } });
    expect(signalled).toBe(true);
  });

  it("retries timeouts when retryOn says so", async () => {
    const t = task({ name: "slow2", timeout: 20, retry: { attempts: 2, delay: 1, retryOn: () => true } }, async (ctx) => {
      if (ctx.attempt === 1) await new Promise((r) => setTimeout(r, 200));
      return "ok";
    });
    expect(await runTask(t)).toMatchObject({ state: "success", attempts: 2 });
  });

  it("honours a timeout override, and 0 means none", async () => {
    const t = task({ name: "s", timeout: 10 }, async () => new Promise((r) => setTimeout(() => r("done"), 40)));
    expect((await runTask(t, { timeoutMs: 0 })).state).toBe("success");
    expect((await runTask(t)).state).toBe("timeout");
  });

  it("ends as interrupted when the outside signal fires", async () => {
    const controller = new AbortController();
    const t = task({ name: "wait" }, async (ctx) => new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))));
    setTimeout(() => controller.abort(), 20);
    expect((await runTask(t, { signal: controller.signal })).state).toBe("interrupted");
  });

  it("tags log lines with the task, run id and attempt", async () => {
    const lines: RunLogLine[] = [];
    const t = task({ name: "logger" }, async (ctx) => {
      ctx.log.info("hello %s", "bob");
      ctx.log.warn("careful");
    });
    const r = await runTask(t, { log: (l) => lines.push(l) });
    expect(lines.map((l) => [l.level, l.message, l.task, l.runId, l.attempt])).toEqual([
      ["info", "hello bob", "logger", r.id, 1],
      ["warn", "careful", "logger", r.id, 1],
    ]);
  });

  it("passes deps, chain ids and a custom run id", async () => {
    const t = task({ name: "ctx" }, async (ctx) => ({ deps: ctx.deps, from: ctx.fromRunId, root: ctx.rootRunId, id: ctx.id }));
    const r = await runTask(t, { deps: { db: 1 }, fromRunId: "p1", rootRunId: "r1", id: "my-run" });
    expect(r.result).toEqual({ deps: { db: 1 }, from: "p1", root: "r1", id: "my-run" });
  });
});
