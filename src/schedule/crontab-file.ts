/**
 * Reads a crontab file as cron does (Vixie cron: cronie, Debian's cron), without I/O: user
 * crontabs (`crontab -e`) and system ones with a user field (/etc/crontab, /etc/cron.d/*).
 * Every line comes back as an item, in order: a comment, a blank, an environment setting,
 * an entry, or a problem (a line cron would reject, or one fluid cannot carry over), so that
 * nothing is ever dropped without a word.
 */
import { CrontabFieldError, cronerPattern, readVixieFields, type VixieSchedule } from "./crontab-pattern.js";
import { cron } from "./cron.js";

/** Options of `parseCrontab`. */
export interface ParseCrontabOptions {
  /**
   * Whether entries have a user field after the time fields (/etc/crontab, /etc/cron.d/*):
   * true, false, or "detect" (a system crontab when every entry's sixth word is a user name
   * of `users`, the command following it).
   * @default "detect"
   */
  system?: boolean | "detect";
  /**
   * User names the "detect" mode recognises in the sixth word (e.g. the names of
   * /etc/passwd).
   * @default ["root"]
   */
  users?: Iterable<string>;
}

/** How cron fires an entry. */
export type CrontabWhen =
  /** `@reboot`: once when cron starts. */
  | { kind: "reboot"; source: string }
  /**
   * Five time fields or a nickname (`@daily`), as written (`source`); `pattern` is what
   * `cron()` needs for the same fire times (`source` unless noted in `note`); `tz` the zone
   * (`CRON_TZ`) when one was set.
   */
  | { kind: "cron"; source: string; pattern: string; tz?: string; note?: string; vixie: VixieSchedule };

/** One line of a crontab, read. `line` is 1-based. */
export type CrontabItem =
  | { type: "blank"; line: number }
  /** `text`: the comment without its "#" and one following space. */
  | { type: "comment"; line: number; text: string }
  /** `NAME=value` (quotes removed as cron does). */
  | { type: "env"; line: number; name: string; value: string; raw: string }
  | CrontabEntry
  /** A line that is not carried over, and why. */
  | { type: "problem"; line: number; raw: string; message: string };

/** A job line. */
export interface CrontabEntry {
  type: "entry";
  line: number;
  raw: string;
  when: CrontabWhen;
  /** The user field of a system crontab. */
  user?: string;
  /** The command as the shell gets it: up to the first unescaped `%`, with `\%` made `%`. */
  command: string;
  /** Standard input: the text after the first unescaped `%`, further `%` made newlines; undefined without one. */
  input?: string;
  /** Every environment setting in force at this line (later settings win), in order. */
  env: Readonly<Record<string, string>>;
  /** Comment lines right above the entry (no blank line between). */
  comments: string[];
  /** Debian/cronie `-` before the fields: do not log the run to syslog. */
  noLog: boolean;
}

/** A line reported with its number. */
export interface CrontabNotice {
  line: number;
  message: string;
}

/** A crontab read by `parseCrontab`. */
export interface ParsedCrontab {
  items: CrontabItem[];
  entries: CrontabEntry[];
  /** Lines not carried over (also in `items` as type "problem"). */
  problems: CrontabNotice[];
  /** Lines carried over with a difference worth knowing (e.g. a user field, no final newline). */
  warnings: CrontabNotice[];
  /** Whether it was read as a system crontab (user field). */
  system: boolean;
}

const NICKNAMES: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/** Reads crontab text; never throws for its content (see `problems`). */
export function parseCrontab(text: string, options: ParseCrontabOptions = {}): ParsedCrontab {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const missingNewline = text.length > 0 && !text.endsWith("\n");
  const users = new Set(options.users ?? ["root"]);
  const system = options.system === undefined || options.system === "detect" ? detectSystem(lines, users) : options.system;
  const items: CrontabItem[] = [];
  const warnings: CrontabNotice[] = [];
  const env: Record<string, string> = {};
  let comments: string[] = [];
  lines.forEach((rawLine, i) => {
    const line = i + 1;
    const raw = rawLine.replace(/\r$/, "");
    const trimmed = raw.trim();
    if (trimmed === "") {
      items.push({ type: "blank", line });
      comments = [];
      return;
    }
    if (trimmed.startsWith("#")) {
      const textOf = trimmed.slice(1).replace(/^ /, "");
      items.push({ type: "comment", line, text: textOf });
      comments.push(textOf);
      return;
    }
    const setting = readEnvLine(raw);
    if (setting) {
      env[setting.name] = setting.value;
      items.push({ type: "env", line, ...setting, raw });
      comments = [];
      return;
    }
    const item = readEntry(raw, line, system, env, comments);
    comments = [];
    items.push(item);
    if (item.type === "entry" && item.user !== undefined) {
      warnings.push({ line, message: `cron ran this as user "${item.user}"; fluid runs it as the user fluid serve runs as` });
    }
  });
  if (missingNewline && items.at(-1)?.type === "entry") {
    warnings.push({ line: lines.length, message: "the file does not end with a newline: cron ignores its last line, fluid carries it over" });
  }
  return {
    items,
    entries: items.filter((item): item is CrontabEntry => item.type === "entry"),
    problems: items.filter((item) => item.type === "problem").map((p) => ({ line: p.line, message: (p as { message: string }).message })),
    warnings,
    system,
  };
}

/**
 * An environment setting as cron reads one (cronie's load_env): a name (may be quoted), "=",
 * a value; spaces around "=" are allowed; a value in matching single or double quotes keeps
 * them off, an unquoted one loses its trailing spaces. Undefined when the line is no setting.
 */
export function readEnvLine(raw: string): { name: string; value: string } | undefined {
  const m = /^\s*(?:"([^"=]*)"|'([^'=]*)'|([^\s="']+))\s*=\s*(.*)$/.exec(raw);
  if (!m) return undefined;
  const name = m[1] ?? m[2] ?? m[3]!;
  const rest = m[4]!;
  const quoted = /^(["'])(.*)\1\s*$/.exec(rest);
  if (quoted) return { name, value: quoted[2]! };
  if (/^["']/.test(rest)) return undefined; // an unclosed quote: cron does not take it as a setting
  return { name, value: rest.trimEnd() };
}

/**
 * Splits the command at the first unescaped `%` as cron does (cronie's do_command.c): in the
 * command `\%` becomes `%` (other backslashes stay); after the first `%` the rest is standard
 * input, where `%` becomes a newline and `\%` a `%`. Undefined input when there is no `%`.
 */
export function splitPercent(text: string): { command: string; input?: string } {
  let command = "";
  let escaped = false;
  let i = 0;
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (escaped) {
      // "\%" is "%": the backslash already written is replaced.
      command = ch === "%" ? command.slice(0, -1) + "%" : command + ch;
      escaped = false;
      continue;
    }
    if (ch === "%") break;
    command += ch;
    escaped = ch === "\\";
  }
  if (i >= text.length) return { command };
  let input = "";
  escaped = false;
  for (i++; i < text.length; i++) {
    let ch = text[i]!;
    if (escaped) {
      if (ch !== "%") input += "\\";
    } else if (ch === "%") ch = "\n";
    escaped = ch === "\\";
    if (!escaped) input += ch;
  }
  if (escaped) input += "\\";
  return { command, input };
}

function readEntry(raw: string, line: number, system: boolean, env: Record<string, string>, comments: string[]): CrontabItem {
  const problem = (message: string): CrontabItem => ({ type: "problem", line, raw, message });
  let rest = raw.replace(/^\s+/, "");
  let noLog = false;
  if (rest.startsWith("-")) {
    noLog = true;
    rest = rest.slice(1);
  }
  const words: string[] = [];
  const take = (): string | undefined => {
    const m = /^(\S+)[ \t]*/.exec(rest);
    if (!m) return undefined;
    rest = rest.slice(m[0].length);
    words.push(m[1]!);
    return m[1];
  };
  const first = take();
  if (first === undefined) return problem("an empty entry");
  let when: CrontabWhen;
  const tz = env.CRON_TZ;
  if (first.startsWith("@")) {
    const nick = first; // cron compares nicknames case-sensitively: "@DAILY" is rejected
    if (nick === "@reboot") when = { kind: "reboot", source: first };
    else if (NICKNAMES[nick] === undefined) return problem(`unknown nickname "${first}"; cron knows @reboot, @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly`);
    else when = { kind: "cron", source: first, pattern: first, ...(tz ? { tz } : {}), vixie: readVixieFields(NICKNAMES[nick]!.split(" ")) };
  } else {
    const fields = [first];
    for (let i = 0; i < 4; i++) {
      const word = take();
      if (word === undefined) return problem(`${fields.length} time field${fields.length === 1 ? "" : "s"} and no command; an entry is "minute hour day month weekday command"`);
      fields.push(word);
    }
    try {
      const vixie = readVixieFields(fields);
      const { pattern, note } = cronerPattern(fields);
      when = { kind: "cron", source: fields.join(" "), pattern, ...(tz ? { tz } : {}), ...(note ? { note } : {}), vixie };
    } catch (error) {
      if (error instanceof CrontabFieldError) return problem(error.message);
      throw error;
    }
  }
  if (when.kind === "cron") {
    // What fluid will fire must exist: a CRON_TZ that is no zone, a date that never comes ("0 0 30 2 *").
    try {
      cron(when.pattern, tz ? { tz } : {});
    } catch (error) {
      const message = (error as Error).message.replace(/^cron\([^)]*\)(: | )/, "");
      return problem(tz && /time zone/.test(message) ? `CRON_TZ=${tz} is not a time zone fluid knows (an IANA name such as "Europe/London")` : `"${when.source}" ${message}`);
    }
  }
  let user: string | undefined;
  if (system) {
    user = take();
    if (user === undefined) return problem("no user and no command after the time fields (a system crontab line is \"minute hour day month weekday user command\")");
  }
  if (rest.startsWith("*") && when.kind === "cron" && !when.source.startsWith("@")) {
    // cron's "common typo" check: six time fields.
    return problem("a sixth time field where the command should start; cron has 5 time fields (no seconds)");
  }
  if (rest.trim() === "") return problem("no command");
  const { command, input } = splitPercent(rest);
  if (command.trim() === "") return problem("the command is empty: the line starts with %");
  return {
    type: "entry", line, raw, when, ...(user !== undefined ? { user } : {}), command, ...(input !== undefined ? { input } : {}),
    env: { ...env }, comments: [...comments], noLog,
  };
}

/** A system crontab when every entry's word after the time fields is a known user followed by a command. */
function detectSystem(lines: readonly string[], users: ReadonlySet<string>): boolean {
  let entries = 0;
  for (const raw of lines) {
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#") || readEnvLine(raw)) continue;
    const words = trimmed.replace(/^-/, "").split(/\s+/);
    const at = words[0]!.startsWith("@") ? 1 : 5;
    if (words.length < at + 2 || !users.has(words[at]!)) return false;
    entries++;
  }
  return entries > 0;
}
