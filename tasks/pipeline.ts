import { task } from "fluid-tasks";
import { z } from "zod";
import { say_hi } from "./say_hi.ts";

/** Queues another task: the chained run records fromRunId and rootRunId. */
export const welcome_team = task(
  {
    description: "Greets every member of a team by queueing say_hi for each",
    params: z.object({ members: z.array(z.string()).min(1).describe("team members") }),
  },
  async (ctx) => {
    const ids: string[] = [];
    for (const name of ctx.params.members) ids.push(await ctx.queue(say_hi, { name }));
    ctx.log.info(`queued ${ids.length} greeting(s)`);
    return { queued: ids };
  },
);
