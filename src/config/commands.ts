/**
 * The config's `commands`: command tasks written as plain data, for projects that write no task
 * module. Each entry becomes a task made by `command()`, registered beside the tasks of the
 * modules; a name both use is a config error.
 */
import { relative } from "node:path";
import { ConfigError, type FluidError } from "../core/errors.js";
import { SCHEDULE_BRAND } from "../core/brand.js";
import type { Schedule } from "../core/types.js";
import { parseDuration } from "../core/duration.js";
import { cron } from "../schedule/cron.js";
import { every } from "../schedule/every.js";
import { withDefaultTimezone } from "../schedule/calendar.js";
import { bindCommandRoot, command } from "../task/command.js";
import { validateParams } from "../task/params.js";
import type { Task } from "../task/task.js";
import type { Registry } from "./registry.js";

/**
 * Turns the config's `commands` into command tasks; throws a ConfigError naming the entry
 * (`commands.backup.schedule: ...`) for anything invalid. Undefined gives none.
 */
export function resolveCommands(value: unknown, fail: (message: string, hint?: string) => ConfigError): Task[] {
  if (value === undefined) return [];
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw fail("`commands` must be an object: name -> { command, schedule, ... }", 'e.g. commands: { backup: { command: "pg_dump mydb > db.sql", schedule: "0 3 * * *" } }');
  }
  const tasks: Task[] = [];
  for (const [name, entry] of Object.entries(value as Record<string, unknown>)) {
    const where = `commands.${name}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw fail(`${where} must be an object ({ command, schedule, ... })`, `e.g. ${where}: { command: "echo hello", schedule: "every 1h" }`);
    }
    const { command: cmd, schedule, ...options } = entry as Record<string, unknown>;
    if (cmd === undefined) throw fail(`${where} has no \`command\``, `e.g. ${where}: { command: "echo hello" }`);
    const resolved = schedule === undefined ? undefined : scheduleOf(schedule, `${where}.schedule`, fail);
    try {
      tasks.push(command(name, cmd as string | string[], { ...options, ...(resolved ? { schedule: resolved } : {}) }));
    } catch (error) {
      const e = error as FluidError;
      // `command "backup": timeout ...` -> `commands.backup: timeout ...`
      throw fail(`${where}: ${e.message.replace(/^command "[^"]*": /, "")}`, e.hint);
    }
  }
  return tasks;
}

/**
 * A schedule given as text: "every 5m" or a bare duration ("5m", "1h30m") is an interval,
 * anything else a cron pattern; a schedule object made by every(), crontab() or cron() as it is.
 */
export function scheduleOf(value: unknown, where: string, fail: (message: string, hint?: string) => ConfigError): Schedule {
  if (typeof value === "object" && value !== null && SCHEDULE_BRAND in value) return value as unknown as Schedule;
  if (typeof value !== "string" || value.trim() === "") {
    throw fail(`${where} must be a cron pattern or an interval, got ${JSON.stringify(value)}`, SCHEDULE_HINT);
  }
  const text = value.trim();
  const interval = /^every\s+(.+)$/i.exec(text)?.[1] ?? (isDuration(text) ? text : undefined);
  try {
    return interval !== undefined ? every(interval) : cron(text);
  } catch (error) {
    throw fail(`${where}: ${(error as Error).message}`, (error as FluidError).hint ?? SCHEDULE_HINT);
  }
}

const SCHEDULE_HINT = 'write a cron pattern ("0 3 * * *", "@daily") or an interval ("every 5m")';

function isDuration(text: string): boolean {
  if (/^\d+$/.test(text)) return false; // a bare number is neither: refuse it as a cron pattern says why
  try {
    parseDuration(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Registers the config's command tasks in `registry`: their relative `cwd` is the project root,
 * their calendar schedules read in the config's zone. A name a module task has (in the
 * registry, or in `moduleTasks`, the task index of a registry that holds only some modules)
 * is a ConfigError.
 */
export function addCommandTasks(
  registry: Registry,
  tasks: readonly Task[],
  project: { configFile: string; root: string; timezone: string; moduleTasks?: Readonly<Record<string, string>> | undefined },
): void {
  const where = relative(process.cwd(), project.configFile) || project.configFile;
  for (const t of tasks) {
    const module = registry.origin(t.name)?.file ?? (project.moduleTasks && Object.hasOwn(project.moduleTasks, t.name) ? project.moduleTasks[t.name] : undefined);
    if (module !== undefined) {
      throw new ConfigError(`${where}: the command "${t.name}" in \`commands\` has the name of a task of ${relative(project.root, module)}`, {
        hint: "rename one of them: a task name is unique in a project",
      });
    }
    bindCommandRoot(t, project.root);
    if (t.schedule) {
      try {
        validateParams(t.name, t.params, t.schedule.params ?? {});
      } catch (error) {
        throw new ConfigError(`${where}: commands.${t.name} is scheduled, but its scheduled runs would have invalid params:\n${(error as Error).message.split("\n").slice(1).join("\n")}`, {
          cause: error,
          hint: 'give them in the schedule, e.g. cron("0 3 * * *", { params: { ... } }), or make those params optional',
        });
      }
      (t as { schedule: Schedule }).schedule = withDefaultTimezone(t.schedule, project.timezone);
    }
    registry.add(t, { file: project.configFile, exportName: `commands.${t.name}` });
  }
}
