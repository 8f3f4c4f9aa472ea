import { describe, expect, it } from "vitest";
import { waitForRun } from "../../src/daemon/client.js";
import { CONFIG } from "../helpers/cli.js";
import { startDaemon } from "../daemon/helpers.js";

const LINES = 51_200;
const TASKS = `
import { task } from "fluid-tasks";
import { z } from "zod";
export const print = task({ cpuBound: true, params: z.object({ n: z.number(), tag: z.string() }) }, (ctx) => {
  const pad = " " + "x".repeat(200);
  for (let i = 0; i < ctx.params.n; i++) console.log(ctx.params.tag + " " + i + pad);
  return ctx.params.n;
});
`;

describe("fluid serve: a cpu-bound run's output", () => {
  it("is recorded under the run that printed it: a run of 51,200 lines, then a short run on the same worker", async () => {
    const d = await startDaemon(TASKS, {}, CONFIG.replace("tasks:", "store: { logCap: 100000 }, pool: { size: 1 }, tasks:"));
    try {
      const conn = { store: d.daemon.store!, broker: d.daemon.broker };
      const big = await d.daemon.queue("print", { n: LINES, tag: "a" });
      const small = await d.daemon.queue("print", { n: 3, tag: "b" });
      expect((await waitForRun(conn, big, { timeoutMs: 60_000 })).state).toBe("success");
      expect((await waitForRun(conn, small, { timeoutMs: 60_000 })).state).toBe("success");
      const printed = (id: string): string[] =>
        d.daemon.store!.getRun(id).logs.filter((l) => l.level === "stdout").map((l) => l.message.split(" ").slice(0, 2).join(" "));
      const a = printed(big);
      expect(a.length).toBe(LINES);
      expect(a.at(-1)).toBe(`a ${LINES - 1}`);
      expect(printed(small)).toEqual(["b 0", "b 1", "b 2"]);
    } finally {
      await d.close();
    }
  }, 120_000);
});
