import { readFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import { ConfigError } from "../core/errors.js";

/**
 * Environment files, read as systemd's `EnvironmentFile=` reads them (docs/service.md):
 *
 * - one `KEY=VALUE` per line; blank lines and lines starting with `#` or `;` are comments;
 * - whitespace around the key and around an unquoted value is dropped;
 * - `'single quotes'` keep everything literally (newlines too); `"double quotes"` keep
 *   everything but `\"`, `\\`, `` \` `` and `\$` (the backslash goes) and a backslash before a
 *   newline (both go); quoted and unquoted parts join (`a"b c"d` is `ab cd`);
 * - unquoted, a backslash takes the next character literally, and a backslash at the end of a
 *   line continues the value on the next line;
 * - no `$VAR` expansion (systemd does none either);
 * - `export KEY=VALUE` is accepted (the word is dropped), so a file shells `source` works too.
 *   systemd ignores such a line with a warning: do not use it in a file systemd also reads.
 *
 * Stricter than systemd, which skips a bad line with a warning: a key that is not a portable
 * name (`[A-Za-z_][A-Za-z0-9_]*`), a line without `=`, or a quote left open is an error naming
 * `file:line`.
 */
export function parseEnvFile(text: string, file: string): Map<string, string> {
  const out = new Map<string, string>();
  const where = (line: number): string => `${displayPath(file)}:${line}`;
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    // Start of a line: skip leading blanks.
    while (i < n && (text[i] === " " || text[i] === "\t" || text[i] === "\r")) i++;
    if (i >= n) break;
    if (text[i] === "\n") {
      i++;
      line++;
      continue;
    }
    if (text[i] === "#" || text[i] === ";") {
      while (i < n && text[i] !== "\n") i++;
      continue;
    }
    const startLine = line;
    const end = text.indexOf("=", i);
    const eol = text.indexOf("\n", i);
    if (end < 0 || (eol >= 0 && eol < end)) {
      const content = text.slice(i, eol < 0 ? n : eol).trim();
      throw new ConfigError(`${where(startLine)}: no "=" in ${JSON.stringify(content)}`, { hint: "write KEY=VALUE, one per line (# starts a comment)" });
    }
    let key = text.slice(i, end).trim();
    if (/^export[ \t]+/.test(key)) key = key.replace(/^export[ \t]+/, "");
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new ConfigError(`${where(startLine)}: ${JSON.stringify(key)} is not a valid variable name`, { hint: "names are letters, digits and _, not starting with a digit" });
    }
    i = end + 1;
    // The value: leading blanks are dropped.
    while (i < n && (text[i] === " " || text[i] === "\t")) i++;
    let value = "";
    // Length of `value` without the unquoted blanks at its end (they are dropped).
    let kept = 0;
    for (;;) {
      if (i >= n) break;
      const c = text[i]!;
      if (c === "\n") {
        i++;
        line++;
        break;
      }
      if (c === "'") {
        const close = text.indexOf("'", i + 1);
        if (close < 0) throw new ConfigError(`${where(startLine)}: the value of ${key} opens a ' quote that is never closed`, { hint: "close the quote, or escape it as \\'" });
        const quoted = text.slice(i + 1, close);
        line += countNewlines(quoted);
        value += quoted;
        kept = value.length;
        i = close + 1;
        continue;
      }
      if (c === '"') {
        i++;
        for (;;) {
          if (i >= n) throw new ConfigError(`${where(startLine)}: the value of ${key} opens a " quote that is never closed`, { hint: 'close the quote, or escape it as \\"' });
          const d = text[i]!;
          if (d === '"') {
            i++;
            break;
          }
          if (d === "\\" && i + 1 < n) {
            const e = text[i + 1]!;
            if (e === "\n") line++;
            else if ('"\\`$'.includes(e)) value += e;
            else value += d + e;
            i += 2;
            continue;
          }
          if (d === "\n") line++;
          value += d;
          i++;
        }
        kept = value.length;
        continue;
      }
      if (c === "\\") {
        if (i + 1 >= n) {
          i++;
          continue;
        }
        const e = text[i + 1]!;
        if (e === "\n") line++; // a continuation line
        else if (e === "\r" && text[i + 2] === "\n") {
          line++;
          i++;
        } else value += e;
        kept = value.length;
        i += 2;
        continue;
      }
      if (c === "\r" && text[i + 1] === "\n") {
        i++;
        continue;
      }
      value += c;
      if (c !== " " && c !== "\t") kept = value.length;
      i++;
    }
    out.set(key, value.slice(0, kept));
  }
  return out;
}

/** A file to load: a path, optional (missing is fine) when written with a leading "-", as systemd's `EnvironmentFile=-/path`. */
export interface EnvFileRef {
  path: string;
  optional: boolean;
}

/** Reads `spec` ("path" or "-path") relative to `base`. */
export function envFileRef(spec: string, base: string): EnvFileRef {
  const optional = spec.startsWith("-");
  return { path: resolve(base, optional ? spec.slice(1) : spec), optional };
}

/** Reads and parses the files in order (a later file's value wins); a missing file that is not optional is an error. */
export function readEnvFiles(files: readonly EnvFileRef[]): Map<string, string> {
  const merged = new Map<string, string>();
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f.path, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (f.optional && (code === "ENOENT" || code === "ENOTDIR")) continue;
      throw new ConfigError(`cannot read the environment file ${displayPath(f.path)}: ${code === "ENOENT" ? "no such file" : (error as Error).message}`, {
        cause: error,
        hint: code === "ENOENT" ? "create it, fix the path, or write it as \"-path\" to make it optional" : "check its permissions",
      });
    }
    for (const [k, v] of parseEnvFile(text, f.path)) merged.set(k, v);
  }
  return merged;
}

/** Values this process set from environment files, so a reload may change them again. */
const fromFiles = new Map<string, string>();

/**
 * Loads environment files into `env` (default `process.env`). A variable the environment
 * already had (not set by an earlier call of this function) is never overridden: the
 * environment fluid was started with wins over the files, as with dotenv and Node's
 * `--env-file` (systemd's `EnvironmentFile=` instead overrides `Environment=`). Among the files,
 * the later one wins. Returns the names it set.
 */
export function applyEnvFiles(files: readonly EnvFileRef[], env: NodeJS.ProcessEnv = process.env): string[] {
  const values = readEnvFiles(files);
  const set: string[] = [];
  for (const [key, value] of values) {
    const current = env[key];
    const ours = fromFiles.has(key) && fromFiles.get(key) === current;
    if (current !== undefined && !ours) continue;
    env[key] = value;
    fromFiles.set(key, value);
    set.push(key);
  }
  return set;
}

function countNewlines(s: string): number {
  let count = 0;
  for (const ch of s) if (ch === "\n") count++;
  return count;
}

function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") ? rel : path;
}
