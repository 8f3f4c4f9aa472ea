import { task } from "fluid-tasks";
import { z } from "zod";

/** CPU-bound: runs in a child process under `fluid serve` so it cannot stall the event loop. */
export const fib = task(
  {
    description: "Computes a Fibonacci number the slow way (CPU-bound)",
    params: z.object({ n: z.number().int().min(0).max(45).default(30).describe("which Fibonacci number") }),
    cpuBound: true,
    timeout: "5m",
  },
  async (ctx) => {
    const f = (n: number): number => (n < 2 ? n : f(n - 1) + f(n - 2));
    return { n: ctx.params.n, value: f(ctx.params.n) };
  },
);
