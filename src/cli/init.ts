import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { basename, join } from "node:path";
import { parseDuration } from "../core/duration.js";
import { UsageError } from "../core/errors.js";
import { packageRoot } from "../package-root.js";
import type { Output } from "./output.js";
import { loadForStore } from "./project.js";

/** Options of `fluid init systemd` as they come from argv. */
export interface InitSystemdCliOptions {
  config?: string;
  /** A user unit (`systemctl --user`) instead of a system one. Default false. */
  user?: boolean;
  /** Write the unit file instead of printing it. Default false. */
  write?: boolean;
  /** With `write`, replace an existing file. Default false. */
  force?: boolean;
  /** Unit name. Default "fluid-<project directory name>". */
  name?: string;
  /** `User=` of a system unit. Default SUDO_USER, else the current user. */
  runAs?: string;
  /** The daemon's `--grace`. Default "30s". */
  grace?: string;
  /** `EnvironmentFile=`. Default "-<project>/.env" (optional). */
  envFile?: string;
  /** Directory to write into. Default /etc/systemd/system, or ~/.config/systemd/user with `user`. */
  dir?: string;
}

/** What `systemdUnit` needs to know. */
export interface SystemdUnitOptions {
  /** Unit name without ".service". */
  name: string;
  /** A user unit: no `User=`, no network target, no sandboxing (see docs/service.md). */
  user: boolean;
  /** Absolute path of node. */
  node: string;
  /** Absolute path of this installation's bin/fluid.js. */
  bin: string;
  /** Absolute path of the config file. */
  configFile: string;
  /** The project directory (WorkingDirectory=). */
  root: string;
  /** `User=` of a system unit. */
  runAs?: string;
  /** The drain grace given to the daemon, in ms. */
  graceMs: number;
  /** The pool's kill grace (config pool.killGrace), in ms: a worker still running after the drain gets SIGTERM, then SIGKILL this long after. */
  killGraceMs: number;
  /** `EnvironmentFile=` value ("-" prefix: optional). */
  envFile: string;
}

/** Seconds systemd waits on stop beyond the drain grace and the workers' kill grace (closing the store, a last flush). */
export const STOP_MARGIN_S = 15;

/**
 * The text of a systemd service unit that runs `fluid serve` for a project. Why each setting
 * is what it is: docs/service.md. The unit passes `systemd-analyze verify`.
 */
export function systemdUnit(o: SystemdUnitOptions): string {
  const grace = o.graceMs % 1000 === 0 ? `${o.graceMs / 1000}s` : `${o.graceMs}ms`;
  const stopS = Math.ceil((o.graceMs + o.killGraceMs) / 1000) + STOP_MARGIN_S;
  const lines: string[] = [
    "# Made by `fluid init systemd`; see docs/service.md of fluid-tasks for each setting.",
    "[Unit]",
    `Description=fluid serve: the task daemon of ${escapeValue(o.root)}`,
    ...(o.user ? [] : ["Wants=network-online.target", "After=network-online.target"]),
    "",
    "[Service]",
    // Ready as soon as node is exec'd: fluid has no sd_notify (Node has no datagram unix sockets).
    "Type=exec",
    ...(o.user ? [] : [`User=${o.runAs ?? "root"}`]),
    `WorkingDirectory=${escapeValue(o.root)}`,
    // Optional ("-"). systemd sets these before fluid starts: fluid's own env files never override them.
    `EnvironmentFile=${escapeValue(o.envFile)}`,
    `ExecStart=${[o.node, o.bin, "serve", "--config", o.configFile, "--grace", grace].map(execArg).join(" ")}`,
    // SIGHUP reloads the config and the task modules; running runs keep their code.
    "ExecReload=/bin/kill -HUP $MAINPID",
    // SIGTERM to the daemon only: it drains, then stops its workers (SIGTERM, then SIGKILL after
    // pool.killGrace). control-group would SIGTERM the workers at once, killing their runs
    // mid-drain. Whatever is left once the daemon exits (or at TimeoutStopSec) gets SIGKILL.
    "KillMode=mixed",
    "KillSignal=SIGTERM",
    `TimeoutStopSec=${stopS}s`,
    "Restart=on-failure",
    "RestartSec=5s",
    // JSON lines on stderr (not a terminal): one journal entry per event.
    "StandardOutput=journal",
    "StandardError=journal",
    `SyslogIdentifier=${o.name}`,
  ];
  if (!o.user) {
    lines.push(
      "",
      "# Sandboxing that leaves files, network, sudo and setuid programs (sendmail) alone.",
      "ProtectKernelTunables=yes",
      "ProtectKernelModules=yes",
      "ProtectKernelLogs=yes",
      "ProtectControlGroups=yes",
      "ProtectHostname=yes",
      "LockPersonality=yes",
      "RestrictRealtime=yes",
      "# Stricter, if no task needs what they take away (docs/service.md):",
      "#NoNewPrivileges=yes",
      "#PrivateTmp=yes",
      "#ProtectSystem=full",
      "#ProtectHome=read-only",
    );
  }
  lines.push("", "[Install]", `WantedBy=${o.user ? "default.target" : "multi-user.target"}`, "");
  return lines.join("\n");
}

/** `fluid init systemd`: prints the unit, or writes it with --write. */
export async function initSystemdCommand(o: InitSystemdCliOptions, io: Output): Promise<number> {
  const graceMs = parseDuration(o.grace ?? "30s", "--grace");
  const user = o.user === true;
  if (o.write && !user && o.dir === undefined && process.getuid?.() !== 0) {
    throw new UsageError(`writing a system unit into ${unitDir(false, undefined)} needs root`, { hint: "run it with sudo, or write a user unit with --user, or print it (without --write) and install it yourself" });
  }
  const project = await loadForStore(o.config, "none", io);
  const name = unitName(o.name ?? `fluid-${basename(project.root)}`);
  const runAs = user ? undefined : (o.runAs ?? (process.env.SUDO_USER || userInfo().username));
  if (runAs !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(runAs)) throw new UsageError(`--run-as: "${runAs}" is not a user name`);
  const unit = systemdUnit({
    name, user, node: process.execPath, bin: join(packageRoot().dir, "bin", "fluid.js"), configFile: project.configFile, root: project.root,
    ...(runAs !== undefined ? { runAs } : {}), graceMs, killGraceMs: project.config.pool.killGraceMs ?? 5000,
    envFile: o.envFile ?? `-${join(project.root, ".env")}`,
  });
  const c = io.err.c;
  if (runAs === "root") io.err.write(`${c.yellow("warning:")} the unit runs fluid serve and every task as root; pass --run-as <user> to run them as another user\n`);
  const ctl = user ? "systemctl --user" : "systemctl";
  if (!o.write) {
    io.out.write(unit);
    io.err.write(c.dim(`# to install it, run this again with --write${user ? "" : " (as root)"}, or save it as ${join(unitDir(user, o.dir), `${name}.service`)}\n`));
    return 0;
  }
  const dir = unitDir(user, o.dir);
  const file = join(dir, `${name}.service`);
  if (existsSync(file) && !o.force) {
    throw new UsageError(`${file} exists`, { hint: "pass --force to replace it, or --name to write another unit" });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, unit, { mode: 0o644 });
  io.out.write(`${file}\n`);
  io.err.write(`wrote ${file}; now:\n  ${ctl} daemon-reload\n  ${ctl} enable --now ${name}\n  journalctl ${user ? "--user " : ""}-u ${name} -f\n`);
  if (user) io.err.write(c.dim(`  (a user unit runs while you are logged in; \`loginctl enable-linger ${userInfo().username}\` keeps it running after logout and starts it at boot)\n`));
  return 0;
}

/** Where unit files go: --dir, else /etc/systemd/system, or $XDG_CONFIG_HOME/systemd/user (default ~/.config). */
function unitDir(user: boolean, dir: string | undefined): string {
  if (dir !== undefined) return dir;
  if (!user) return "/etc/systemd/system";
  return join(process.env.XDG_CONFIG_HOME || join(homedir(), ".config"), "systemd", "user");
}

/** A valid unit name (without ".service"): characters systemd does not allow become "-". */
function unitName(name: string): string {
  const bare = name.replace(/\.service$/, "").replace(/[^A-Za-z0-9:_.-]/g, "-");
  if (bare === "" || bare.length > 250) throw new UsageError(`--name: "${name}" cannot be a unit name`);
  return bare;
}

/** A setting's value with systemd's specifier character escaped. */
function escapeValue(value: string): string {
  return value.replace(/%/g, "%%");
}

/** One argument of ExecStart=: specifiers and variables escaped, quoted when it has blanks or quotes. */
function execArg(arg: string): string {
  const escaped = arg.replace(/%/g, "%%").replace(/\$/g, "$$$$");
  return /[\s"'\\;]/.test(escaped) ? `"${escaped.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"` : escaped;
}
