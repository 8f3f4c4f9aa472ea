import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { UsageError } from "../core/errors.js";
import { parseCrontab, type ParsedCrontab } from "../schedule/crontab-file.js";
import { crontabToCommandSpecs } from "../schedule/crontab-commands.js";
import { resolveTimezone } from "../schedule/validate.js";
import { localUserNames } from "../config/crontabs.js";
import { crontabModule } from "./crontab-module.js";
import type { Output } from "./output.js";

/** Options of `fluid import crontab`. */
export interface ImportCrontabOptions {
  /** The module to write. Default "tasks/crontab.ts" (from the current directory). */
  out?: string;
  /** Overwrite `out` when it exists. Default false. */
  force?: boolean;
  /** Only report what would be carried over; write nothing. Default false. */
  check?: boolean;
  /** Read a user field after the time fields: true, false, or undefined to detect (path /etc/crontab or /etc/cron.d/, else the sixth words). */
  system?: boolean;
  /** Zone of the lines without CRON_TZ. Default: this machine's zone (TZ, else the system's), the zone cron used. */
  tz?: string;
  /** Current directory. Default process.cwd(). */
  cwd?: string;
  /** Standard input, for "-". Default: read process.stdin. */
  stdin?: () => string;
}

/**
 * `fluid import crontab [file|-]`: reads a crontab (a file, "-" for standard input, or the
 * user's own through `crontab -l`) and writes a task module with one command task per line.
 * Exit 0 when every line was carried over, 1 when some line was not (reported with its line
 * number and left in the module as a comment); with `--check` nothing is written and the exit
 * code says the same.
 */
export async function importCrontabCommand(file: string | undefined, o: ImportCrontabOptions, io: Output): Promise<number> {
  const cwd = o.cwd ?? process.cwd();
  const { text, source, path } = await readInput(file, cwd, o.stdin);
  const system = o.system ?? (path !== undefined && isSystemPath(path) ? true : undefined);
  const parsed = parseCrontab(text, { system: system ?? "detect", users: localUserNames() });
  const timezone = o.tz === undefined ? localZone() : resolveTimezone("--tz", o.tz);
  const specs = crontabToCommandSpecs(parsed);
  const where = path === undefined ? source : relative(cwd, path) || path;
  report(parsed, where, io);

  const c = io.err.c;
  const summary = `${specs.length} task${specs.length === 1 ? "" : "s"} from ${where}${parsed.system ? " (a system crontab: user field)" : ""}` +
    (parsed.problems.length > 0 ? c.yellow(`, ${parsed.problems.length} line${parsed.problems.length === 1 ? "" : "s"} not carried over`) : "");
  if (o.check) {
    io.out.write(`${parsed.problems.length === 0 ? "ok" : "not ok"}: ${summary}\n`);
    return parsed.problems.length === 0 ? 0 : 1;
  }
  const out = resolve(cwd, o.out ?? "tasks/crontab.ts");
  if (existsSync(out) && !o.force) {
    throw new UsageError(`${relative(cwd, out) || out} exists; not overwritten`, { hint: "pass --force to replace it, or --out <file> to write another file" });
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, crontabModule(parsed, specs, { source: path === undefined ? source : basenameOf(path), timezone }));
  io.out.write(`wrote ${relative(cwd, out) || out}: ${summary}\n`);
  io.err.write(c.dim(`times without CRON_TZ are read in ${timezone} (--tz to change); the config's tasks globs must include the file; \`fluid ls\` lists the tasks\n`));
  return parsed.problems.length === 0 ? 0 : 1;
}

/** Problems and warnings on stderr, one per line: "file:line: message". */
function report(parsed: ParsedCrontab, where: string, io: Output): void {
  const c = io.err.c;
  const notices = [
    ...parsed.problems.map((p) => ({ ...p, text: `${c.red("not carried over:")} ${p.message}` })),
    ...parsed.warnings.map((w) => ({ ...w, text: `${c.yellow("note:")} ${w.message}` })),
  ].sort((a, b) => a.line - b.line);
  for (const n of notices) io.err.write(`${where}:${n.line}: ${n.text}\n`);
}

async function readInput(file: string | undefined, cwd: string, stdin?: () => string): Promise<{ text: string; source: string; path?: string }> {
  if (file === "-") return { text: stdin ? stdin() : readFileSync(0, "utf8"), source: "standard input" };
  if (file !== undefined) {
    const path = resolve(cwd, file);
    try {
      return { text: readFileSync(path, "utf8"), source: file, path };
    } catch (error) {
      throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
        cause: error,
        hint: "give a crontab file, - for standard input, or nothing for your own crontab (crontab -l)",
      });
    }
  }
  const result = spawnSync("crontab", ["-l"], { encoding: "utf8" });
  if (result.error || result.status !== 0) {
    const code = (result.error as NodeJS.ErrnoException | undefined)?.code;
    const why = code === "ENOENT" ? "there is no crontab command on this machine (PATH)" : result.error ? code ?? result.error.message : result.stderr.trim() || `exit ${result.status}`;
    throw new UsageError(`no file given and \`crontab -l\` failed: ${why}`, { hint: "give a crontab file, or - to read standard input" });
  }
  return { text: result.stdout, source: "crontab -l" };
}

/** /etc/crontab and /etc/cron.d/* have a user field. */
function isSystemPath(path: string): boolean {
  return path === "/etc/crontab" || path.startsWith("/etc/cron.d/");
}

function basenameOf(path: string): string {
  return path.startsWith("/etc/") ? path : path.split("/").pop()!;
}

/** The zone cron reads a crontab in: TZ, else the system's. */
function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}
