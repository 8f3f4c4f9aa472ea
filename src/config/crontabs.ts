/**
 * The config's `crontabs: ["./jobs.cron"]`: each file's lines become command tasks at load
 * (so at `fluid serve` start and on every reload, SIGHUP). The mapping of a line is the one
 * `fluid import crontab` writes (schedule/crontab-commands.ts); a line that cannot be carried
 * over is a config error naming file:line, since nothing may be dropped silently.
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { ConfigError } from "../core/errors.js";
import type { Schedule } from "../core/types.js";
import { parseCrontab } from "../schedule/crontab-file.js";
import { crontabToCommandSpecs, type CommandSpec } from "../schedule/crontab-commands.js";
import { cron } from "../schedule/cron.js";
import { atStart } from "../schedule/at-start.js";
import { withDefaultTimezone } from "../schedule/calendar.js";
import type { Task } from "../task/task.js";
import { command } from "../task/command.js";
import type { Registry } from "./registry.js";

/**
 * The schedule of a command spec: `cron(pattern, { tz })` (the config's zone when the
 * crontab set no CRON_TZ) or `atStart()` for @reboot.
 */
export function specSchedule(spec: CommandSpec, timezone: string): Schedule {
  if (spec.schedule.kind === "start") return atStart();
  const schedule = spec.schedule.tz ? cron(spec.schedule.pattern, { tz: spec.schedule.tz }) : cron(spec.schedule.pattern);
  return withDefaultTimezone(schedule, timezone);
}

/**
 * Makes the command task of one crontab line: its command line run by the crontab's SHELL
 * (default /bin/sh), the `%` text on stdin, the crontab's settings in its environment, and
 * mail to MAILTO on a failure (`notify.mailto`). The same call `fluid import crontab` writes.
 */
export function crontabTask(spec: CommandSpec, schedule: Schedule): Task {
  const description = spec.description ?? `${spec.schedule.source} ${spec.command}`;
  return command(spec.name, spec.command, {
    schedule,
    description,
    tags: ["crontab"],
    ...(spec.shell ? { shell: spec.shell } : {}),
    ...(spec.env ? { env: spec.env } : {}),
    ...(spec.input !== undefined ? { input: spec.input } : {}),
    ...(spec.mailto ? { notify: { mailto: spec.mailto } } : {}),
  });
}

/** The user names of this machine (/etc/passwd) and root: what a system crontab's user field holds. */
export function localUserNames(): string[] {
  try {
    return ["root", ...readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":")[0]!).filter(Boolean)];
  } catch {
    return ["root"];
  }
}

/**
 * Reads every crontab file of the config and adds its lines to `registry` as command tasks
 * (names derived from the commands, unique across the files; they depend on the crontabs
 * alone, so every command sees the same names). Throws a ConfigError naming file:line for a
 * line cron would reject or fluid cannot carry over, for an unreadable file, and for a name a
 * task module already uses.
 */
export function addCrontabTasks(
  registry: Registry,
  files: readonly string[],
  timezone: string,
  make: (spec: CommandSpec, schedule: Schedule) => Task = crontabTask,
): void {
  const taken = new Set<string>();
  for (const file of files) {
    const where = relative(process.cwd(), file) || file;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new ConfigError(`crontabs: cannot read ${where} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, {
        cause: error,
        hint: "crontabs lists crontab files, relative to the config file",
      });
    }
    const parsed = parseCrontab(text, { system: "detect", users: localUserNames() });
    if (parsed.problems.length > 0) {
      const lines = parsed.problems.map((p) => `${where}:${p.line}: ${p.message}`);
      throw new ConfigError(lines.length === 1 ? lines[0]! : `${lines.length} lines of ${where} cannot be carried over:\n  ${lines.join("\n  ")}`, {
        hint: `fix the line or comment it out with #; \`fluid import crontab --check ${where}\` lists every such line`,
      });
    }
    for (const spec of crontabToCommandSpecs(parsed, { taken })) {
      taken.add(spec.name);
      let schedule: Schedule;
      try {
        schedule = specSchedule(spec, timezone);
      } catch (error) {
        throw new ConfigError(`${where}:${spec.source.line}: ${(error as Error).message}`, { cause: error });
      }
      if (registry.has(spec.name)) {
        const origin = registry.origin(spec.name);
        throw new ConfigError(`duplicate task name "${spec.name}": from ${where}:${spec.source.line} and ${origin ? `from ${relative(process.cwd(), origin.file)}` : "a task module"}`, {
          hint: "rename the module's task, or import the crontab (`fluid import crontab`) to name its tasks yourself",
        });
      }
      registry.add(make(spec, schedule), { file, exportName: `line ${spec.source.line}` });
    }
  }
}
