import { crontab, every, task } from "fluid-tasks";

/** Fires every second under `fluid serve`. */
export const tick = task({ description: "A heartbeat every second", schedule: every("1s"), tags: ["scheduled"] }, async (ctx) => {
  ctx.log.debug("tick");
});

/** Fires at minute 0 of every second hour (UTC). */
export const report = task(
  { description: "A report every two hours", schedule: crontab({ hour: "*/2" }), tags: ["scheduled"] },
  async (ctx) => {
    ctx.log.info("report generated");
    return { generatedAt: new Date().toISOString() };
  },
);
