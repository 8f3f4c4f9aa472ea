import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { serve, type DaemonEvent } from "../../src/daemon/serve.js";
import { tempProject } from "../helpers/cli.js";
import { waitForEvent } from "./helpers.js";

const CONFIG = `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"], crontabs: ["./jobs.cron"] });\n`;
const TASKS = `import { task, atStart } from "fluid-tasks";\nexport const warm = task({ schedule: atStart() }, async () => "warmed");\n`;

describe("fluid serve: atStart() (cron's @reboot) and crontab files", () => {
  it("fires an atStart task once at start, not on reload; a reload reads the crontab files again", async () => {
    const project = tempProject({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS, "jobs.cron": "0 3 * * * /usr/local/bin/backup.sh\n" });
    const events: DaemonEvent[] = [];
    const daemon = await serve({ cwd: project.dir, env: {}, graceMs: 2000, onEvent: (e) => events.push(e) });
    try {
      expect(daemon.summary.schedules.map((s) => [s.task, s.schedule])).toEqual([
        ["backup", "cron 0 3 * * * (UTC)"],
        ["warm", "once when fluid serve starts"],
      ]);
      const end = await waitForEvent(events, (e) => e.type === "run-end" && e.run.task === "warm");
      expect(end).toMatchObject({ state: "success", run: { trigger: "schedule" } });

      appendFileSync(join(project.dir, "jobs.cron"), "@daily /usr/local/bin/rotate\n");
      await daemon.reload();
      expect(events.find((e) => e.type === "reloaded")).toEqual({ type: "reloaded", tasks: 3 });
      await new Promise((r) => setTimeout(r, 300));
      expect(events.filter((e) => e.type === "fire" && e.fire.task === "warm")).toHaveLength(1);

      appendFileSync(join(project.dir, "jobs.cron"), "0 25 * * * /bin/false\n");
      await daemon.reload();
      const failed = events.find((e) => e.type === "reload-failed") as Extract<DaemonEvent, { type: "reload-failed" }>;
      expect(String((failed.error as Error).message)).toMatch(/jobs\.cron:3: bad hour "25"/);
    } finally {
      await daemon.stop("test done");
      project.cleanup();
    }
  });
});
