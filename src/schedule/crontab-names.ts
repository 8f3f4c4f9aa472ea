/**
 * Task names for crontab lines, derived from their commands: the program that does the work
 * and its first word-like argument, e.g. "pg_dump mydb > /backups/db.sql" -> "pg_dump_mydb",
 * "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )" ->
 * "run_parts_cron_daily". Guards (`test`, `[`, `cd`, `command -v`), shell keywords and
 * wrappers (`nice`, `ionice`, `flock`, `timeout`, `env`, `sudo -u`...) are looked through.
 */

/** Most characters of a derived name (before a "_2" suffix). */
const MAX_NAME = 48;

// Words that only guard, change directory or wrap the command that does the work.
const SKIP_SEGMENT = new Set(["test", "[", "[[", "cd", "true", "false", ":", "sleep", "exit", "echo", "printf", "export", "set", "umask", "source", ".", "read", "wait", "trap"]);
const KEYWORDS = new Set(["if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in", "case", "esac", "!", "{", "}", "(", ")", "exec", "time"]);
const WRAPPERS = new Set(["nice", "ionice", "nohup", "timeout", "flock", "chronic", "env", "sudo", "setsid", "stdbuf", "taskset", "chrt", "runuser", "cronic", "lckdo", "run-one", "systemd-cat", "xargs", "/usr/bin/env"]);
const SHELLS = new Set(["sh", "bash", "dash", "zsh", "ksh"]);
// Wrapper options that take a value as the next word.
const VALUE_FLAGS = new Set(["-u", "-g", "--user", "--group", "--signal", "--kill-after"]);
// Interpreters: the script they run names the job ("python3 manage.py clearsessions" -> "manage_clearsessions").
const INTERPRETERS = new Set(["python", "python2", "python3", "perl", "ruby", "node", "php", "bash", "sh", "dash", "zsh", "ksh"]);

/** A readable name for the command of a crontab line (not yet unique): letters, digits and "_". */
export function nameForCommand(command: string): string {
  let words = mainWords(command);
  if (words.length === 0) words = segments(command)[0] ?? []; // only guards and echoes: name it after the first
  if (words.length === 0) return "job";
  const script = INTERPRETERS.has(stem(words[0]!)) ? words.findIndex((w, i) => i > 0 && !w.startsWith("-")) : -1;
  if (script > 0) words = words.slice(script);
  const [program, ...args] = words;
  let name = clean(stem(program!));
  const arg = args.find((a) => /^[a-z]+:\/\//i.test(a)) ?? args.find((a) => /^[A-Za-z/~.$]/.test(a) && !a.startsWith("-") && !/[<>&|;=]/.test(a));
  const argName = arg === undefined ? "" : clean(argStem(arg));
  if (argName && argName !== name && !name.endsWith(`_${argName}`)) name = `${name}_${argName}`;
  if (!/^[a-z_]/.test(name)) name = `job_${name}`;
  return name.slice(0, MAX_NAME).replace(/_+$/, "") || "job";
}

/** Names for many commands, in order, each unique: "backup", "backup_2", ... (`taken` are reserved). */
export function uniqueNames(commands: readonly string[], taken: Iterable<string> = []): string[] {
  const used = new Set(taken);
  return commands.map((command) => {
    const base = nameForCommand(command);
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}_${n}`;
    used.add(name);
    return name;
  });
}

/** The words of the segment that does the work: guards, keywords and wrappers looked through. */
function mainWords(command: string): string[] {
  for (const segment of segments(command)) {
    const words = lookThrough(segment);
    if (words.length > 0) return words;
  }
  return [];
}

/** The command's simple commands, split at `&&`, `||`, `;`, `|`, `&`, newlines and parentheses. */
function segments(command: string): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let word = "";
  let quote: string | undefined;
  let inWord = false;
  const endWord = (): void => {
    if (inWord) current.push(word);
    word = "";
    inWord = false;
  };
  const endSegment = (): void => {
    endWord();
    if (current.length > 0) out.push(current);
    current = [];
  };
  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else word += ch;
      continue;
    }
    if ((ch === "$" && command[i + 1] === "(") || ch === "`") {
      // A command substitution is a value here (`[ $(date +%d) -le 7 ]`): kept whole in the word.
      const end = ch === "`" ? command.indexOf("`", i + 1) : closing(command, i + 1);
      const stop = end < 0 ? command.length - 1 : end;
      word += command.slice(i, stop + 1);
      inWord = true;
      i = stop;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === "\\" && i + 1 < command.length) {
      word += command[++i];
      inWord = true;
    } else if (/[\s]/.test(ch)) {
      endWord();
    } else if ("&|;()\n".includes(ch)) {
      endSegment();
    } else if (ch === ">" || ch === "<") {
      // A redirection: drop it and its target.
      endWord();
      while (/[>&<0-9]/.test(command[i + 1] ?? "")) i++;
      while (/\s/.test(command[i + 1] ?? "")) i++;
      while (i + 1 < command.length && !/[\s;&|()]/.test(command[i + 1]!)) i++;
    } else {
      word += ch;
      inWord = true;
    }
  }
  endSegment();
  // "2>&1" leaves a trailing fd number on the word before: drop bare digits that end a segment.
  return out;
}

/** The index of the ")" closing the "(" at `open`, or -1. */
function closing(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")" && --depth === 0) return i;
  }
  return -1;
}

/** Drops keywords, variable assignments and wrappers (with their options) from the front; [] for a guard. */
function lookThrough(words: string[]): string[] {
  let i = 0;
  while (i < words.length) {
    const w = words[i]!;
    const base = w.split("/").pop()!;
    if (KEYWORDS.has(w) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(w)) {
      i++;
      continue;
    }
    if (SKIP_SEGMENT.has(base)) return [];
    if (base === "command" && words[i + 1]?.startsWith("-")) return []; // command -v x: a guard
    if (SHELLS.has(base) && words[i + 1] === "-c" && words[i + 2] !== undefined) return mainWords(words[i + 2]!);
    if (INTERPRETERS.has(base) && (words[i + 1] === "-e" || words[i + 1] === "-c")) return []; // inline code (often a random sleep)
    if (base === "su" && words.includes("-c")) {
      const at = words.indexOf("-c");
      return words[at + 1] !== undefined ? mainWords(words[at + 1]!) : [];
    }
    if (WRAPPERS.has(base) || WRAPPERS.has(w)) {
      i++;
      let positional = base === "flock" || base === "lckdo" ? 1 : 0; // the lock file
      while (i < words.length) {
        const o = words[i]!;
        if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(o)) i++;
        else if (o.startsWith("-")) i += VALUE_FLAGS.has(o) && !/^-\w\d/.test(o) ? 2 : 1;
        else if (/^[0-9.]+[smhd]?$/.test(o)) i++;
        else if (positional > 0) {
          positional--;
          i++;
        } else break;
      }
      continue;
    }
    return words.slice(i);
  }
  return [];
}

/** "/usr/local/bin/backup.sh" -> "backup". */
function stem(word: string): string {
  const base = word.split("/").filter(Boolean).pop() ?? word;
  return base.replace(/\.(sh|bash|py|pl|rb|php|js|mjs|ts)$/i, "");
}

/** An argument's readable part: a URL's host, a path's last part, a word. */
function argStem(arg: string): string {
  const url = /^[a-z]+:\/\/([^/:?#]+)/i.exec(arg);
  if (url) return url[1]!.replace(/^www\./, "");
  // A quoted sentence ("echo 'run at 5'") gives its first word.
  return stem(arg.trim().split(/\s+/)[0]!.replace(/\/+$/, "")).slice(0, 24);
}

/** Lower case, runs of other characters made one "_". */
function clean(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
}
