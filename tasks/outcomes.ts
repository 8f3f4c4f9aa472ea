import { task } from "fluid-tasks";
import { z } from "zod";

/** Always fails: shows a failed run, its error and exit code 1. */
export const fail = task(
  { description: "Always fails (exit code 1)", tags: ["demo"], params: z.object({ message: z.string().default("something broke") }) },
  async (ctx) => {
    throw new Error(ctx.params.message);
  },
);

/** Fails `failTimes` times, then succeeds: shows retry with backoff. */
export const flaky = task(
  {
    description: "Fails a few times, then succeeds (retry with backoff)",
    tags: ["demo"],
    params: z.object({ failTimes: z.number().int().min(0).default(2).describe("how many attempts fail") }),
    retry: { attempts: 4, delay: "100ms", backoff: 2 },
  },
  async (ctx) => {
    if (ctx.attempt <= ctx.params.failTimes) throw new Error(`attempt ${ctx.attempt} failed on purpose`);
    ctx.log.info(`attempt ${ctx.attempt} succeeded`);
    return { attempts: ctx.attempt };
  },
);

/** Stops itself with ctx.abort: state aborted, exit code 3, never retried. */
export const maybe_abort = task(
  {
    description: "Aborts itself when there is nothing to do (exit code 3)",
    tags: ["demo"],
    params: z.object({ items: z.number().int().min(0).default(0).describe("items waiting") }),
    retry: { attempts: 3 },
  },
  async (ctx) => {
    if (ctx.params.items === 0) ctx.abort("nothing to do");
    return { processed: ctx.params.items };
  },
);

/** Sleeps, honouring ctx.signal: shows timeouts (`--timeout 1s`) and Ctrl-C. */
export const sleepy = task(
  {
    description: "Sleeps for a while, stopping early when aborted",
    tags: ["demo"],
    params: z.object({ seconds: z.number().min(0).default(5).describe("how long to sleep") }),
    timeout: "10s",
  },
  async (ctx) => {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ctx.params.seconds * 1000);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(ctx.signal.reason);
      }, { once: true });
    });
    return { slept: ctx.params.seconds };
  },
);
