/**
 * The task module `fluid import crontab` writes: one `command(...)` per crontab entry (see
 * schedule/crontab-commands.ts for what maps to what), the crontab's comments, settings and
 * unreadable lines kept as comments in their places.
 */
import type { CrontabItem, ParsedCrontab } from "../schedule/crontab-file.js";
import type { CommandSpec } from "../schedule/crontab-commands.js";

/** Options of `crontabModule`. */
export interface CrontabModuleOptions {
  /** What was read, for the header ("/etc/crontab", "standard input"). */
  source: string;
  /** IANA zone of the entries without CRON_TZ: the zone cron read them in (the machine's). */
  timezone: string;
}

const RESERVED = new Set(
  ("break case catch class const continue debugger default delete do else enum export extends false finally for function if " +
    "import in instanceof new null return super switch this throw true try typeof var void while with yield let static " +
    "implements interface package private protected public await").split(" "),
);

/** The text of the task module for `parsed`, whose entries are `specs` (in order). */
export function crontabModule(parsed: ParsedCrontab, specs: readonly CommandSpec[], options: CrontabModuleOptions): string {
  const byLine = new Map(specs.map((s) => [s.source.line, s]));
  const out: string[] = [];
  const body: string[] = [];
  // The module's own names: its imports, the zone and the env constants.
  const used = new Set<string>(["command", "cron", "atStart", "tz", "settings", ...Array.from({ length: 50 }, (_, i) => `settings${i + 2}`)]);
  // The crontab's SHELL, MAILTO and other settings as task options, shared by the entries below them.
  let settings = "{}";
  let settingsConst = "";
  let settingsCount = 0;
  let previous: CrontabItem["type"] | undefined;
  let usesZone = false;

  parsed.items.forEach((item, i) => {
    const next = parsed.items[i + 1];
    if (item.type === "blank") {
      if (previous !== "blank" && previous !== undefined) body.push("");
    } else if (item.type === "comment") {
      body.push(comment(item.text));
    } else if (item.type === "env") {
      body.push(`// ${item.raw.trim()}${mappingOf(item.name, item.value)}`);
      if (next?.type !== "env") {
        // The settings of the entries below, once, at the end of a run of settings.
        const spec = specs.find((s) => s.source.line > item.line);
        const text = spec ? settingsText(spec) : "{}";
        if (text !== "{}" && text !== settings) {
          settingsConst = settingsCount === 0 ? "settings" : `settings${settingsCount + 1}`;
          settingsCount++;
          body.push(`const ${settingsConst} = ${text};`);
        }
        settings = text;
      }
    } else if (item.type === "problem") {
      body.push(`// fluid import: line ${item.line} is not carried over: ${item.message}`);
      body.push(comment(item.raw));
    } else {
      const spec = byLine.get(item.line)!;
      if (spec.schedule.kind === "cron" && spec.schedule.tz === undefined) usesZone = true;
      const text = settingsText(spec);
      body.push(...taskText(spec, text === "{}" ? undefined : text === settings && settingsConst ? settingsConst : text, used));
    }
    previous = item.type;
  });

  const imports = ["command", ...(specs.some((s) => s.schedule.kind === "cron") ? ["cron"] : []), ...(specs.some((s) => s.schedule.kind === "start") ? ["atStart"] : [])].sort();
  out.push(`// Imported from ${options.source} by \`fluid import crontab\`: one command task per cron line.`);
  out.push("// cron's day rule, @reboot (atStart), % (input) and MAILTO (notify) are carried over; see docs/crontab.md.");
  if (parsed.system) out.push("// A system crontab: every task runs as the user fluid serve runs as, not the user of its line.");
  out.push(`import { ${imports.join(", ")} } from "fluid-tasks";`);
  out.push("");
  if (usesZone) {
    out.push(`/** The zone of the times below: the one cron used (this machine's, or --tz); lines after CRON_TZ name their own. */`);
    out.push(`const tz = ${JSON.stringify(options.timezone)};`);
    out.push("");
  }
  while (body[0] === "") body.shift();
  while (body.at(-1) === "") body.pop();
  out.push(...body, "");
  return out.join("\n");
}

/** One `export const x = command(...)`, with the notes a reader needs above it; `settings` a const name or an object's text. */
function taskText(spec: CommandSpec, settings: string | undefined, used: Set<string>): string[] {
  const lines: string[] = [];
  if (spec.source.user !== undefined) lines.push(`// cron ran this as user ${JSON.stringify(spec.source.user)}.`);
  if (spec.schedule.kind === "cron" && spec.schedule.note) lines.push(`// cron: "${spec.schedule.source}": ${spec.schedule.note}.`);
  const options: string[] = [];
  if (spec.schedule.kind === "start") options.push("schedule: atStart(), // @reboot: once when fluid serve starts");
  else {
    const tz = spec.schedule.tz === undefined ? "{ tz }" : `{ tz: ${JSON.stringify(spec.schedule.tz)} }`;
    options.push(`schedule: cron(${JSON.stringify(spec.schedule.pattern)}, ${tz}),`);
  }
  if (spec.description) options.push(`description: ${JSON.stringify(spec.description)},`);
  if (spec.input !== undefined) options.push(`input: ${JSON.stringify(spec.input)}, // the text after % in the cron line`);
  if (settings !== undefined) options.push(settings.startsWith("{") ? `${settings.slice(2, -2)},` : `...${settings},`);
  const id = identifier(spec.name, used);
  lines.push(`export const ${id} = command(${JSON.stringify(spec.name)}, ${JSON.stringify(spec.command)}, {`);
  lines.push(...options.map((o) => `  ${o}`));
  lines.push("});");
  return lines;
}

/** The crontab settings of an entry as task options: `{ shell, env, notify: { mailto } }` ("{}" when none). */
function settingsText(spec: CommandSpec): string {
  const parts: string[] = [];
  if (spec.shell) parts.push(`shell: ${JSON.stringify(spec.shell)}`);
  if (spec.env) parts.push(`env: ${objectText(spec.env)}`);
  if (spec.mailto) parts.push(`notify: { mailto: ${JSON.stringify(spec.mailto)} }`);
  return parts.length === 0 ? "{}" : `{ ${parts.join(", ")} }`;
}

/** What a setting becomes, as a note on its comment. */
function mappingOf(name: string, value: string): string {
  if (name === "SHELL") return "  (-> shell option)";
  if (name === "MAILTO") return value === "" ? "  (-> no mail: the tasks below have no notify.mailto)" : "  (-> notify: { mailto })";
  if (name === "CRON_TZ") return "  (-> the tz of the schedules below)";
  return "  (-> env)";
}

/** `{ PATH: "/usr/bin:/bin", "MY-VAR": "x" }`. */
function objectText(env: Readonly<Record<string, string>>): string {
  const entries = Object.entries(env).map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${JSON.stringify(v)}`);
  return entries.length === 0 ? "{}" : `{ ${entries.join(", ")} }`;
}

/** A comment line; a comment holding a line break or "*\/" stays safe as `//` text. */
function comment(text: string): string {
  return text === "" ? "//" : `// ${text}`;
}

/** The export name of a task: its name, unless that is a reserved word or already used. */
function identifier(name: string, used: Set<string>): string {
  let id = /^[A-Za-z_$][\w$]*$/.test(name) && !RESERVED.has(name) ? name : `${name.replace(/[^\w$]/g, "_")}_task`;
  for (let n = 2; used.has(id); n++) id = `${name}_${n}`;
  used.add(id);
  return id;
}
