import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { transform } from "esbuild";
import { describe, expect, it } from "vitest";
import { atStart } from "../../src/schedule/at-start.js";
import { cron } from "../../src/schedule/cron.js";
import { nextRuns } from "../../src/schedule/next-runs.js";
import type { Schedule } from "../../src/core/types.js";
import { parseCrontab } from "../../src/schedule/crontab-file.js";
import { crontabToCommandSpecs } from "../../src/schedule/crontab-commands.js";
import { crontabModule } from "../../src/cli/crontab-module.js";
import { fluid, useTempProjects } from "../helpers/cli.js";

const FIXTURES = join(import.meta.dirname, "..", "schedule", "fixtures", "crontab");

interface Call {
  name: string;
  command: string;
  options: Record<string, unknown> & { schedule: Schedule };
}

/** Evaluates a written module with the real cron() and atStart() and a command() that records its calls. */
async function load(text: string): Promise<{ calls: Call[]; exports: Record<string, unknown> }> {
  const { code } = await transform(text, { loader: "ts", format: "cjs" });
  const calls: Call[] = [];
  const api = {
    cron,
    atStart,
    command: (name: string, command: string, options: Call["options"]) => {
      calls.push({ name, command, options });
      return { name };
    },
  };
  const module = { exports: {} as Record<string, unknown> };
  new Function("require", "module", "exports", code)((id: string) => (id === "fluid-tasks" ? api : undefined), module, module.exports);
  return { calls, exports: module.exports };
}

describe("fluid import crontab", () => {
  const project = useTempProjects();

  it("writes tasks/crontab.ts from /etc/crontab (user field detected), and the module loads", async () => {
    const dir = project({ "crontab": readFileSync(join(FIXTURES, "debian-crontab"), "utf8") });
    const r = await fluid(["import", "crontab", "crontab", "--system", "--tz", "Europe/London"], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe("wrote tasks/crontab.ts: 4 tasks from crontab (a system crontab: user field)");
    expect(r.stderr).toContain('crontab:19: note: cron ran this as user "root"');
    const text = readFileSync(join(dir, "tasks", "crontab.ts"), "utf8");
    expect(text).toContain('import { command, cron } from "fluid-tasks";');
    expect(text).toContain('const tz = "Europe/London";');
    expect(text).toContain("// *  *  *  *  * user-name command to be executed");
    const { calls, exports } = await load(text);
    expect(calls.map((c) => [c.name, c.command, String(c.options.schedule)])).toEqual([
      ["run_parts_cron_hourly", "cd / && run-parts --report /etc/cron.hourly", 'cron("17 * * * *", { tz: "Europe/London" })'],
      ["run_parts_cron_daily", "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }", 'cron("25 6 * * *", { tz: "Europe/London" })'],
      ["run_parts_cron_weekly", "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.weekly; }", 'cron("47 6 * * 7", { tz: "Europe/London" })'],
      ["run_parts_cron_monthly", "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.monthly; }", 'cron("52 6 1 * *", { tz: "Europe/London" })'],
    ]);
    expect(Object.keys(exports).sort()).toEqual(calls.map((c) => c.name).sort());
    expect(calls.every((c) => c.options.shell === undefined && c.options.env === undefined)).toBe(true); // SHELL=/bin/sh is the default
  });

  it("carries over settings, %, @reboot, MAILTO and CRON_TZ; lines it cannot carry over stay as comments, exit 1", async () => {
    const dir = project({ "real.cron": readFileSync(join(FIXTURES, "real-world.cron"), "utf8") });
    const r = await fluid(["import", "crontab", "real.cron", "--tz", "UTC", "--out", "jobs/imported.ts"], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("wrote jobs/imported.ts: 43 tasks from real.cron, 4 lines not carried over");
    expect(r.stderr).toContain('real.cron:54: not carried over: bad hour "25": 25 is out of range 0-23');
    const text = readFileSync(join(dir, "jobs", "imported.ts"), "utf8");
    expect(text).toContain("// fluid import: line 54 is not carried over: bad hour");
    expect(text).toContain("// 0 25 * * * /bin/false");
    const { calls } = await load(text);
    expect(calls).toHaveLength(43);
    const byName = new Map(calls.map((c) => [c.name, c]));
    expect(byName.get("healthcheck")!.options).toMatchObject({
      shell: "/bin/bash", env: { PATH: "/usr/local/bin:/usr/bin:/bin" }, notify: { mailto: "ops@example.com" }, description: "health check, quiet unless it fails",
    });
    expect(byName.get("mail_weekly")).toMatchObject({ command: 'mail -s "Weekly" bob', options: { input: "Hello Bob,\nthe report is attached.\n" } });
    expect(byName.get("pg_dump_mydb")!.command).toBe("pg_dump mydb > /backups/db-$(date +%F).sql");
    expect(byName.get("start_tunnel")!.options.schedule.kind).toBe("start");
    expect(byName.get("quiet_job")!.options.notify).toBeUndefined(); // MAILTO=""
    expect(text).toContain('// MAILTO=""  (-> no mail: the tasks below have no notify.mailto)');
    expect(text).toContain("// MAILTO=ops@example.com  (-> notify: { mailto })");
    expect(String(byName.get("ny_backup")!.options.schedule)).toBe('cron("30 2 * * *", { tz: "America/New_York" })');
    expect(String(byName.get("odd_mondays")!.options.schedule)).toBe('cron("0 0 */2 * +1", { tz: "UTC" })');
    const days = nextRuns(byName.get("odd_mondays")!.options.schedule, 3, new Date("2026-06-01T00:00:00Z")).map((d) => d.toISOString().slice(0, 10));
    expect(days).toEqual(["2026-06-15", "2026-06-29", "2026-07-13"]);
    expect(byName.has("backup") && byName.has("backup_2")).toBe(true);
  });

  it("refuses to overwrite without --force; --check writes nothing and says whether every line can be carried over", async () => {
    const dir = project({ "ok.cron": "0 3 * * * /usr/local/bin/backup.sh\n", "bad.cron": "0 3 * * * a\n61 * * * * b\n", "tasks/crontab.ts": "// mine\n" });
    const refused = await fluid(["import", "crontab", "ok.cron"], { cwd: dir });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain("tasks/crontab.ts exists; not overwritten");
    expect(refused.stderr).toContain("--force");
    expect(readFileSync(join(dir, "tasks", "crontab.ts"), "utf8")).toBe("// mine\n");
    expect((await fluid(["import", "crontab", "ok.cron", "--force"], { cwd: dir })).exitCode).toBe(0);
    expect(readFileSync(join(dir, "tasks", "crontab.ts"), "utf8")).toContain('export const backup = command("backup"');

    const ok = await fluid(["import", "crontab", "ok.cron", "--check", "--out", "x.ts"], { cwd: dir });
    expect([ok.exitCode, ok.stdout]).toEqual([0, "ok: 1 task from ok.cron"]);
    const bad = await fluid(["import", "crontab", "bad.cron", "--check", "--out", "x.ts"], { cwd: dir });
    expect([bad.exitCode, bad.stdout]).toEqual([1, "not ok: 1 task from bad.cron, 1 line not carried over"]);
    expect(bad.stderr).toContain('bad.cron:2: not carried over: bad minute "61": 61 is out of range 0-59');
    expect(existsSync(join(dir, "x.ts"))).toBe(false);
  });

  it("reads standard input with -; a missing file is a usage error", async () => {
    const dir = project({});
    const r = await fluid(["import", "crontab", "-", "--out", "t.ts", "--tz", "UTC"], { cwd: dir, input: "@reboot /srv/start.sh\n" });
    expect(r.exitCode, r.stderr).toBe(0);
    const { calls } = await load(readFileSync(join(dir, "t.ts"), "utf8"));
    expect(calls.map((c) => [c.name, String(c.options.schedule)])).toEqual([["start", "atStart()"]]);
    expect(readFileSync(join(dir, "t.ts"), "utf8")).toContain('import { atStart, command } from "fluid-tasks";');
    const missing = await fluid(["import", "crontab", "nope.cron"], { cwd: dir });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("cannot read nope.cron: ENOENT");
  });

  it("with no file reads the user's own crontab (crontab -l); a failing crontab -l is a usage error", async () => {
    const dir = project({});
    const bin = join(dir, "fake-bin");
    mkdirSync(bin);
    const fake = join(bin, "crontab");
    // A crontab(1) that lists one line, as `crontab -l` does.
    writeFileSync(fake, `#!/bin/sh\n[ "$1" = -l ] || exit 9\necho '*/5 * * * * /srv/poll.sh'\n`, { mode: 0o755 });
    const path = `${bin}:${process.env.PATH ?? ""}`;
    const r = await fluid(["import", "crontab", "--out", "t.ts", "--tz", "UTC"], { cwd: dir, env: { PATH: path } });
    expect(r.exitCode, r.stderr).toBe(0);
    const { calls } = await load(readFileSync(join(dir, "t.ts"), "utf8"));
    expect(calls.map((c) => [c.name, c.command])).toEqual([["poll", "/srv/poll.sh"]]);
    // No crontab for this user: crontab -l exits 1 with a message; fluid says so, exit 2.
    writeFileSync(fake, `#!/bin/sh\necho 'no crontab for alice' >&2\nexit 1\n`, { mode: 0o755 });
    const none = await fluid(["import", "crontab", "--check"], { cwd: dir, env: { PATH: path } });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain("no file given and `crontab -l` failed: no crontab for alice");
    expect(none.stderr).not.toMatch(/\n\s+at /);
    // No crontab program at all (a container): said in words, not as ENOENT.
    const nodeOnly = join(dir, "node-only");
    mkdirSync(nodeOnly);
    symlinkSync(process.execPath, join(nodeOnly, "node"));
    const missing = await fluid(["import", "crontab"], { cwd: dir, env: { PATH: nodeOnly } });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("`crontab -l` failed: there is no crontab command on this machine (PATH)");
  });

  it("imports every cron.d fixture without a problem, and each module loads (the module text, in this process)", async () => {
    const names = ["e2scrub_all", "sysstat", "php", "certbot", "anacron", "0hourly", "popularity-contest", "mdadm", "zfsutils-linux", "awstats", "logrotate"];
    const all: string[] = [];
    for (const n of names) {
      const parsed = parseCrontab(readFileSync(join(FIXTURES, "cron.d", n), "utf8"), { users: ["root", "www-data"] });
      expect([parsed.system, parsed.problems], n).toEqual([true, []]);
      const specs = crontabToCommandSpecs(parsed);
      const { calls } = await load(crontabModule(parsed, specs, { source: `/etc/cron.d/${n}`, timezone: "UTC" }));
      expect(calls.map((c) => [c.name, c.command, c.options.shell, c.options.env, c.options.notify]), n).toEqual(
        specs.map((s) => [s.name, s.command, s.shell, s.env, s.mailto ? { mailto: s.mailto } : undefined]),
      );
      all.push(...calls.map((c) => c.name));
    }
    expect(all).toEqual([
      "e2scrub_all_cron", "e2scrub_all", "debian_sa1", "debian_sa1_2", "sessionclean", "certbot_renew", "invoke_rc_d_anacron",
      "run_parts_cron_hourly", "popularity_contest", "checkarray", "trim", "scrub", "update", "buildstatic", "logrotate_logrotate_conf",
    ]);
  });
});

describe("an imported crontab in a project", () => {
  const project = useTempProjects();

  it("loads as command tasks: fluid ls lists them, fluid run runs one with its settings, shell and % input", async () => {
    const crontab = [
      "SHELL=/bin/bash",
      "GREETING=hello from cron",
      "# greet the operator",
      "*/5 * * * * echo \"$GREETING\" > greeting.txt; [ -n \"$BASH_VERSION\" ] && echo bash >> greeting.txt; cat >> greeting.txt%first line%second line",
      "@reboot touch booted.txt",
      "",
    ].join("\n");
    const dir = project({
      "fluid.config.ts": `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"] });\n`,
      "jobs.cron": crontab,
    });
    const imported = await fluid(["import", "crontab", "jobs.cron"], { cwd: dir });
    expect(imported.exitCode, imported.stderr).toBe(0);
    const ls = await fluid(["ls", "--json"], { cwd: dir });
    expect(ls.exitCode, ls.stderr).toBe(0);
    const tasks = JSON.parse(ls.stdout) as Array<{ name: string; schedule: string | null; tags: string[] }>;
    const greet = tasks.find((t) => t.schedule?.includes("*/5"));
    expect(greet, ls.stdout).toBeDefined();
    expect(tasks.some((t) => t.name !== greet!.name && /start/i.test(t.schedule ?? ""))).toBe(true);
    const run = await fluid(["run", greet!.name], { cwd: dir });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(readFileSync(join(dir, "greeting.txt"), "utf8")).toBe("hello from cron\nbash\nfirst line\nsecond line");
  });
});

describe("crontabs in the config run their commands", () => {
  const project = useTempProjects();

  it("fluid run of a crontab line runs its command in the project root, with the crontab's settings", async () => {
    const dir = project({
      "fluid.config.ts": `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ crontabs: ["./jobs.cron"] });\n`,
      "jobs.cron": "WHO=crontab\n0 3 * * * echo \"made by $WHO\" > made.txt\n",
    });
    const ls = await fluid(["ls", "--json"], { cwd: dir });
    expect(ls.exitCode, ls.stderr).toBe(0);
    const [only] = JSON.parse(ls.stdout) as Array<{ name: string }>;
    const run = await fluid(["run", only!.name], { cwd: dir });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(readFileSync(join(dir, "made.txt"), "utf8")).toBe("made by crontab\n");
    expect(existsSync(join(dir, "tasks"))).toBe(false);
  });
});
