import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach } from "vitest";
import { BIN, CONFIG, fluid, useTempProjects } from "../helpers/cli.js";
import { systemdUnit } from "../../src/cli/init.js";

// `fluid init systemd`: the unit it prints, what systemd-analyze says of it, and --write.

const TASKS = `import { task } from "fluid-tasks";\nexport const hello = task({}, async () => "hi");\n`;
const project = useTempProjects();

const SYSTEMD_ANALYZE = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].find((p) => existsSync(p));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), "fluid-units-"));
  dirs.push(d);
  return d;
};

/** Runs `systemd-analyze verify` on `unit` saved as `name`; returns its exit code and every line it printed. */
async function verify(unit: string, name: string, user: boolean): Promise<{ exitCode: number; output: string }> {
  const dir = tempDir();
  const file = join(dir, name);
  writeFileSync(file, unit);
  // A user manager needs a runtime directory; verify needs no running systemd.
  const runtime = join(dir, "runtime");
  const r = await execa(SYSTEMD_ANALYZE!, [...(user ? ["--user"] : []), "verify", file], {
    reject: false, cwd: dir, env: { XDG_RUNTIME_DIR: user ? (mkdirSync(runtime, { mode: 0o700 }), runtime) : process.env.XDG_RUNTIME_DIR ?? "" },
  });
  return { exitCode: r.exitCode ?? -1, output: `${r.stdout}${r.stderr}` };
}

describe("fluid init systemd", () => {
  it("prints a unit for fluid serve: absolute node and bin, config, project dir, drain-aware stop", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const r = await fluid(["init", "systemd", "--grace", "2m", "--run-as", "www-data"], { cwd: dir });
    expect(r.exitCode).toBe(0);
    const unit = r.stdout;
    const node = (await execa("node", ["-p", "process.execPath"])).stdout.trim();
    expect(unit).toContain(`ExecStart=${node} ${BIN} serve --config ${join(dir, "fluid.config.ts")} --grace 120s\n`);
    expect(unit).toContain(`WorkingDirectory=${dir}\n`);
    expect(unit).toContain(`EnvironmentFile=-${join(dir, ".env")}\n`);
    expect(unit).toContain("User=www-data\n");
    // Grace 120 s + the pool's kill grace (5 s) + margin: systemd never SIGKILLs a drain in progress.
    expect(unit).toContain("TimeoutStopSec=140s\n");
    for (const line of ["Restart=on-failure", "KillSignal=SIGTERM", "KillMode=mixed", "Type=exec", "StandardError=journal", "WantedBy=multi-user.target"]) {
      expect(unit.split("\n")).toContain(line);
    }
    expect(unit).toMatch(/^SyslogIdentifier=fluid-fluid-test-\w+$/m);
  });

  it("a user unit: no User=, no network target, no sandboxing, wanted by default.target", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const r = await fluid(["init", "systemd", "--user", "--name", "jobs"], { cwd: dir });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toMatch(/^User=|network-online|^Protect/m);
    expect(r.stdout).toMatch(/^WantedBy=default\.target$/m);
    expect(r.stdout).toContain("SyslogIdentifier=jobs\n");
  });

  it("TimeoutStopSec follows the config's pool.killGrace", () => {
    const unit = systemdUnit({ name: "x", user: false, node: "/n", bin: "/b", configFile: "/p/c.ts", root: "/p", runAs: "u", graceMs: 30_000, killGraceMs: 20_000, envFile: "-/p/.env" });
    expect(unit).toContain("TimeoutStopSec=65s\n");
    const odd = systemdUnit({ name: "x", user: false, node: "/n", bin: "/b", configFile: "/p/c.ts", root: "/p", runAs: "u", graceMs: 1500, killGraceMs: 5000, envFile: "-/p/.env" });
    expect(odd).toMatch(/ --grace 1500ms\n/);
    expect(odd).toContain("TimeoutStopSec=22s\n");
  });

  it("quotes ExecStart arguments with blanks and escapes % and $", () => {
    const unit = systemdUnit({ name: "x", user: false, node: "/opt/my node/bin/node", bin: "/b", configFile: "/srv/100% $app/c.ts", root: "/srv/100% $app", runAs: "u", graceMs: 1000, killGraceMs: 0, envFile: "-/srv/100% $app/.env" });
    expect(unit).toContain('ExecStart="/opt/my node/bin/node" /b serve --config "/srv/100%% $$app/c.ts" --grace 1s\n');
    expect(unit).toContain("WorkingDirectory=/srv/100%% $app\n");
  });

  describe.skipIf(!SYSTEMD_ANALYZE)("systemd-analyze verify (skipped where systemd-analyze is not installed)", () => {
    it("passes for a system unit and for a user unit, without a warning, in a directory with a blank and a %", async () => {
      const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
      const odd = join(dir, "my jobs 100%");
      mkdirSync(join(odd, "tasks"), { recursive: true });
      writeFileSync(join(odd, "fluid.config.ts"), CONFIG);
      writeFileSync(join(odd, "tasks", "t.ts"), TASKS);
      symlinkSync(join(dir, "node_modules"), join(odd, "node_modules"), "dir");
      const system = await fluid(["init", "systemd", "--run-as", "root"], { cwd: odd });
      expect(system.exitCode).toBe(0);
      const s = await verify(system.stdout, "fluid-jobs.service", false);
      expect(s.output).toBe("");
      expect(s.exitCode).toBe(0);
      const user = await fluid(["init", "systemd", "--user"], { cwd: odd });
      const u = await verify(user.stdout, "fluid-jobs.service", true);
      expect(u.output).toBe("");
      expect(u.exitCode).toBe(0);
    });

    it("the check is real: a unit with a bad setting does not verify cleanly", async () => {
      const bad = systemdUnit({ name: "x", user: false, node: process.execPath, bin: BIN, configFile: "/c.ts", root: "/", runAs: "root", graceMs: 1000, killGraceMs: 0, envFile: "-/.env" })
        .replace("KillMode=mixed", "KillMode=sometimes");
      const r = await verify(bad, "fluid-bad.service", false);
      expect(r.output).toMatch(/kill mode/i);
    });
  });

  it("--write writes the file into --dir, refuses to replace it without --force", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const units = tempDir();
    const first = await fluid(["init", "systemd", "--write", "--dir", units, "--name", "jobs", "--run-as", "root"], { cwd: dir });
    expect(first.exitCode).toBe(0);
    const file = join(units, "jobs.service");
    expect(first.stdout.trim()).toBe(file);
    expect(first.stderr).toContain("systemctl enable --now jobs");
    expect(readFileSync(file, "utf8")).toContain("ExecStart=");
    writeFileSync(file, "mine\n");
    const again = await fluid(["init", "systemd", "--write", "--dir", units, "--name", "jobs"], { cwd: dir });
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/jobs\.service exists/);
    expect(again.stderr).toMatch(/--force/);
    expect(readFileSync(file, "utf8")).toBe("mine\n");
    const forced = await fluid(["init", "systemd", "--write", "--dir", units, "--name", "jobs", "--force"], { cwd: dir });
    expect(forced.exitCode).toBe(0);
    expect(readFileSync(file, "utf8")).toContain("ExecStart=");
  });

  it("--user --write goes to $XDG_CONFIG_HOME/systemd/user", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    const xdg = tempDir();
    const r = await fluid(["init", "systemd", "--user", "--write", "--name", "jobs"], { cwd: dir, env: { XDG_CONFIG_HOME: xdg } });
    expect(r.exitCode).toBe(0);
    expect(readFileSync(join(xdg, "systemd", "user", "jobs.service"), "utf8")).toContain("WantedBy=default.target");
    expect(r.stderr).toContain("systemctl --user enable --now jobs");
  });

  // As root with setpriv, and only where user nobody can read this checkout (a clone inside a private 0700 directory is not).
  const asNobody = process.getuid?.() === 0 && ["/usr/bin/setpriv", "/bin/setpriv"].some((p) => existsSync(p))
    && spawnSync(process.execPath, ["-e", `require("fs").accessSync(${JSON.stringify(BIN)})`], { uid: 65534, gid: 65534 }).status === 0;
  it.skipIf(!asNobody)("--write of a system unit as a user other than root is a clear error (skipped unless root with setpriv)", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": TASKS });
    chmodSync(dir, 0o755);
    const r = await execa("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "node", BIN, "init", "systemd", "--write"], {
      cwd: dir, reject: false, env: { NO_COLOR: "1", FLUID_CONFIG: "", HOME: "/nonexistent" },
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("writing a system unit into /etc/systemd/system needs root");
    expect(r.stderr).toMatch(/hint: .*--user/);
  });
});
