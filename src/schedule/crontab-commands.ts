/**
 * What each line of a crontab becomes in fluid: a command task, as plain data (a "command
 * spec"). `fluid import crontab` writes them as `command(...)` calls in a task module; the
 * config's `crontabs: [...]` makes them into tasks at load. One mapping for both:
 *
 * - schedule: the time fields kept as written (`cron("...")`, with `+` added where cron's day
 *   rule needs it, see crontab-pattern.ts), the zone from `CRON_TZ`; `@reboot` -> `atStart()`.
 * - `SHELL` -> the `shell` option (left out when it is /bin/sh, the default of both).
 * - `MAILTO` (not empty) -> `notify: { mailto }`; `MAILTO=""` -> no mail.
 * - `CRON_TZ` -> the schedule's zone, not the command's environment.
 * - every other setting (PATH, HOME, TZ, ...) -> `env`.
 * - `%` in the command -> `input` (standard input), as cron does.
 * - the comment lines right above an entry -> `description` (unless they are an old entry
 *   commented out).
 */
import { parseCrontab, readEnvLine, type CrontabEntry, type ParsedCrontab } from "./crontab-file.js";
import { uniqueNames } from "./crontab-names.js";

/** How a command spec is scheduled. */
export type CommandSpecSchedule =
  /** `cron(pattern, { tz })`; `source` is the crontab's text, `note` why `pattern` differs from it. */
  | { kind: "cron"; pattern: string; tz?: string; source: string; note?: string }
  /** `atStart()`: cron's @reboot. */
  | { kind: "start"; source: string };

/** One crontab line as a command task, in plain data. */
export interface CommandSpec {
  /** Task name, unique among the specs of a call (and apart from `taken`). */
  name: string;
  /** The shell command (`command(name, command, options)`). */
  command: string;
  schedule: CommandSpecSchedule;
  /** From the comment lines right above the entry. */
  description?: string;
  /** `SHELL` of the crontab, when not /bin/sh. */
  shell?: string;
  /** Environment settings of the crontab in force at the line, other than SHELL, MAILTO and CRON_TZ. */
  env?: Record<string, string>;
  /** Standard input, from `%` in the command. */
  input?: string;
  /** `MAILTO` in force at the line, when not empty: `notify: { mailto }`. */
  mailto?: string;
  /** Where it came from. */
  source: { line: number; raw: string; user?: string; noLog: boolean };
}

/** Options of `crontabToCommandSpecs`. */
export interface CommandSpecOptions {
  /**
   * Names already in use (other tasks, other crontab files): derived names avoid them.
   * @default []
   */
  taken?: Iterable<string>;
}

const NOT_ENV = new Set(["SHELL", "MAILTO", "CRON_TZ"]);

/** The command spec of every entry of a crontab read by `parseCrontab` (problem lines have none). */
export function crontabToCommandSpecs(parsed: ParsedCrontab, options: CommandSpecOptions = {}): CommandSpec[] {
  const names = uniqueNames(parsed.entries.map((e) => e.command), options.taken);
  return parsed.entries.map((entry, i) => specOf(entry, names[i]!));
}

function specOf(entry: CrontabEntry, name: string): CommandSpec {
  const schedule: CommandSpecSchedule =
    entry.when.kind === "reboot"
      ? { kind: "start", source: entry.when.source }
      : {
          kind: "cron", pattern: entry.when.pattern, source: entry.when.source,
          ...(entry.when.tz ? { tz: entry.when.tz } : {}), ...(entry.when.note ? { note: entry.when.note } : {}),
        };
  const env = Object.fromEntries(Object.entries(entry.env).filter(([key]) => !NOT_ENV.has(key)));
  const shell = entry.env.SHELL;
  const mailto = entry.env.MAILTO;
  const description = descriptionOf(entry.comments);
  return {
    name,
    command: entry.command,
    schedule,
    ...(description ? { description } : {}),
    ...(shell && shell !== "/bin/sh" ? { shell } : {}),
    ...(Object.keys(env).length > 0 ? { env } : {}),
    ...(entry.input !== undefined ? { input: entry.input } : {}),
    ...(mailto ? { mailto } : {}),
    source: { line: entry.line, raw: entry.raw, ...(entry.user !== undefined ? { user: entry.user } : {}), noLog: entry.noLog },
  };
}

/**
 * The comments above an entry as its description, leaving out commented-out entries, settings
 * and the "m h dom mon dow command" header; a block of more than 4 lines is a file header
 * (crontab's template), not a description.
 */
function descriptionOf(comments: readonly string[]): string {
  if (comments.length > 4) return "";
  const prose = comments.filter((text) => {
    const t = text.trim();
    if (t === "" || readEnvLine(t) || /^m\s+h\s+dom\b/i.test(t) || /^[-=*#_ ]+$/.test(t)) return false;
    return parseCrontab(`${t}\n`, { system: false }).entries.length === 0 && parseCrontab(`${t}\n`, { system: true }).entries.length === 0;
  });
  return prose.join("\n").trim();
}
