import { task } from "fluid-tasks";
import { z } from "zod";

/** The hello world of fluid-tasks: `fluid run say_hi --name bob`. */
export const say_hi = task(
  {
    name: "say_hi",
    description: "Greet someone",
    params: z.object({ name: z.string().min(1).describe("who to greet") }),
  },
  async (ctx) => {
    ctx.log.info(`Hi ${ctx.params.name}!`);
    return { greeted: ctx.params.name };
  },
);

/** The bare form: the name comes from the function. */
export const ping = task(async function ping() {
  return "pong";
});
