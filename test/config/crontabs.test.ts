import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadProject } from "../../src/config/load.js";
import { nextRuns } from "../../src/schedule/next-runs.js";
import { fluid, useTempProjects } from "../helpers/cli.js";

const config = (extra = "") => `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ crontabs: ["./jobs.cron"]${extra} });\n`;
const JOBS = [
  "SHELL=/bin/bash",
  "MAILTO=ops@example.com",
  "# nightly database dump",
  "0 3 * * * pg_dump mydb > /backups/db.sql",
  "@reboot /usr/local/bin/tunnel",
  "CRON_TZ=America/New_York",
  "30 2 * * 1-5 /opt/reports/daily.sh",
].join("\n") + "\n";

describe("crontabs: [...] in the config", () => {
  const project = useTempProjects();

  it("loads each line as a task: name from the command, schedule kept, description from the comment", async () => {
    const dir = project({ "fluid.config.ts": config(', timezone: "Europe/London"'), "jobs.cron": JOBS });
    const { registry, config: resolved } = await loadProject({ cwd: dir, env: {} });
    expect(resolved.crontabs).toEqual([join(dir, "jobs.cron")]);
    expect(registry.list().map((t) => t.name)).toEqual(["daily", "pg_dump_mydb", "tunnel"]);
    const dump = registry.get("pg_dump_mydb");
    expect(dump.description).toBe("nightly database dump");
    expect(String(dump.schedule)).toBe('cron("0 3 * * *")');
    expect(dump.schedule!.timezone).toBe("Europe/London"); // the config's zone: no CRON_TZ above the line
    expect(dump.tags).toEqual(["crontab"]);
    expect(registry.get("daily").schedule!.timezone).toBe("America/New_York");
    expect(registry.get("tunnel").schedule!.kind).toBe("start");
    expect(registry.origin("pg_dump_mydb")).toEqual({ file: join(dir, "jobs.cron"), exportName: "line 4" });
  });

  it("reads a system crontab (/etc/cron.d style, a user field) when every line names a user of this machine", async () => {
    const dir = project({ "fluid.config.ts": config(), "jobs.cron": "*/10 * * * * root [ -x /usr/bin/x ] && /usr/bin/x\n" });
    const { registry } = await loadProject({ cwd: dir, env: {} });
    expect(registry.list().map((t) => t.name)).toEqual(["x"]);
  });

  it("reads the files again at every load (what a daemon reload does)", async () => {
    const dir = project({ "fluid.config.ts": config(), "jobs.cron": JOBS });
    expect((await loadProject({ cwd: dir, env: {} })).registry.has("rotate")).toBe(false);
    writeFileSync(join(dir, "jobs.cron"), `${JOBS}@daily /usr/local/bin/rotate\n`);
    const again = await loadProject({ cwd: dir, env: {} });
    expect(again.registry.has("rotate")).toBe(true);
  });

  it("makes a line cron would reject a config error naming file:line, every such line", async () => {
    const dir = project({ "fluid.config.ts": config(), "jobs.cron": "0 3 * * * ok\n0 25 * * * bad\n0 0 L * * worse\n" });
    const error = await loadProject({ cwd: dir, env: {} }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "FLUID_CONFIG" });
    expect((error as Error).message).toContain('jobs.cron:2: bad hour "25": 25 is out of range 0-23');
    expect((error as Error).message).toContain("jobs.cron:3: bad day of month");
    expect((error as { hint: string }).hint).toMatch(/fluid import crontab --check/);
  });

  it("says which file is missing, and refuses a name a task module already has", async () => {
    const missing = project({ "fluid.config.ts": config() });
    await expect(loadProject({ cwd: missing, env: {} })).rejects.toThrow(/crontabs: cannot read .*jobs\.cron \(ENOENT\)/);
    const clash = project({
      "fluid.config.ts": `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"], crontabs: ["./jobs.cron"] });\n`,
      "tasks/t.ts": 'import { task } from "fluid-tasks";\nexport const backup = task({}, async () => 1);\n',
      "jobs.cron": "0 3 * * * /usr/local/bin/backup.sh\n",
    });
    await expect(loadProject({ cwd: clash, env: {} })).rejects.toThrow(/duplicate task name "backup": from .*jobs\.cron:1 and from .*tasks\/t\.ts/);
  });

  it("validates the key: an array of paths", async () => {
    const dir = project({ "fluid.config.ts": config().replace('["./jobs.cron"]', '"./jobs.cron"'), "jobs.cron": JOBS });
    await expect(loadProject({ cwd: dir, env: {} })).rejects.toThrow(/`crontabs` must be an array of crontab file paths/);
  });

  it("fluid next shows for a crontab line the times cron gives (the 13th or Fridays; odd days that are Mondays)", async () => {
    const dir = project({ "fluid.config.ts": config(), "jobs.cron": "0 0 13 * 5 /usr/local/bin/a\n0 0 */2 * 1 /usr/local/bin/b\n@reboot /usr/local/bin/c\n" });
    const a = await fluid(["next", "a", "-n", "5", "--json"], { cwd: dir });
    expect(a.exitCode, a.stderr).toBe(0);
    const { registry } = await loadProject({ cwd: dir, env: {} });
    const from = new Date();
    const expected = nextRuns(registry.get("a").schedule!, 5, from).map((d) => d.toISOString().replace(".000Z", "+00:00"));
    expect(JSON.parse(a.stdout)).toEqual(expected);
    for (const t of JSON.parse(a.stdout) as string[]) {
      const d = new Date(t);
      expect(d.getUTCDate() === 13 || d.getUTCDay() === 5).toBe(true);
    }
    const b = JSON.parse((await fluid(["next", "b", "-n", "4", "--json"], { cwd: dir })).stdout) as string[];
    for (const t of b) expect([new Date(t).getUTCDay(), new Date(t).getUTCDate() % 2]).toEqual([1, 1]);
    const c = await fluid(["next", "c"], { cwd: dir });
    expect(c.exitCode).toBe(0);
    expect(c.stderr).toContain("c: once when fluid serve starts (no calendar times)");
  });
});
