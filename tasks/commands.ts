import { command, cron } from "fluid-tasks";
import { z } from "zod";

/**
 * A shell command as a task: `fluid run disk_usage`; under `fluid serve`, every night at 03:00.
 * Its output is the run's log (`fluid logs <run-id>`); an exit code other than 0 fails the run.
 */
export const disk_usage = command("disk_usage", "df -h . | tail -n 1", {
  description: "Free space where the project lives",
  schedule: cron("0 3 * * *"),
  tags: ["commands"],
});

/**
 * Params reach a command only as environment variables, never in its text (so no value can
 * run as code): `fluid run shout --text 'hello $(world)'` prints HELLO $(WORLD).
 */
export const shout = command("shout", 'printf "%s\\n" "$FLUID_PARAM_TEXT" | tr a-z A-Z', {
  description: "Upper-case a text, in a shell",
  params: z.object({ text: z.string().min(1).describe("what to shout") }),
  timeout: "10s",
  tags: ["commands"],
});

/** An argv array runs without a shell: `fluid run list_tasks`. */
export const list_tasks = command("list_tasks", ["ls", "-1", "tasks"], { tags: ["commands"] });
