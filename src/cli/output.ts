/** Everything the CLI prints goes through here: colours, tables, errors, log lines, spinner. */
import type { ChalkInstance } from "chalk";
import { isFluidError } from "../core/errors.js";
import type { RunLogLine } from "../task/context.js";
import type { RunState } from "../core/types.js";

/** Colour and TTY facts of one output stream. */
export interface Stream {
  write(text: string): void;
  isTTY: boolean;
  c: ChalkInstance;
  /** Width of the terminal; 0 when unknown (not a terminal, or a terminal of 0 columns). */
  columns: number;
  /** True where a spinner can be drawn (see canAnimate). */
  animate: boolean;
}

/** The two output streams: stdout for results, stderr for logs, progress and errors. */
export interface Output {
  out: Stream;
  err: Stream;
}

/**
 * Colour level for a stream: off with NO_COLOR or --no-color, on with FORCE_COLOR
 * (or --color), else only when the stream is a TTY.
 */
export function colorLevel(isTTY: boolean, env: NodeJS.ProcessEnv, argv: readonly string[]): 0 | 1 | 2 | 3 {
  if (argv.includes("--no-color")) return 0;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0" && env.FORCE_COLOR !== "false") {
    const n = Number.parseInt(env.FORCE_COLOR, 10);
    return (Number.isNaN(n) ? 1 : Math.min(Math.max(n, 1), 3)) as 1 | 2 | 3;
  }
  if (env.FORCE_COLOR === "0" || env.FORCE_COLOR === "false") return 0;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return 0;
  if (argv.includes("--color")) return 1;
  if (!isTTY || env.TERM === "dumb") return 0;
  return 2;
}

/** The narrowest terminal a spinner line is drawn on. */
const MIN_SPINNER_COLUMNS = 20;

/**
 * True where a spinner can be drawn and is wanted: a terminal at least 20 columns wide
 * (`script` and some CI runners give a pseudo-terminal of 0 columns), TERM not "dumb",
 * and no CI variable set (CI logs keep every frame).
 */
export function canAnimate(s: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv): boolean {
  if (!s.isTTY || !(Number(s.columns) >= MIN_SPINNER_COLUMNS)) return false;
  if (env.TERM === "dumb") return false;
  return env.CI === undefined || env.CI === "" || env.CI === "0" || env.CI === "false";
}

/**
 * Builds the process's Output from its real streams. chalk is loaded only when a stream has
 * colours (its module start-up probes the terminal): without, every style returns its text.
 */
export async function processOutput(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Output> {
  const streams = [process.stdout, process.stderr];
  const levels = streams.map((s) => colorLevel(Boolean(s.isTTY), env, argv));
  const Chalk = levels.some((l) => l > 0) ? (await import("chalk")).Chalk : undefined;
  const stream = (s: NodeJS.WriteStream, level: 0 | 1 | 2 | 3): Stream => ({
    write: (text) => void s.write(text),
    isTTY: Boolean(s.isTTY),
    c: Chalk ? new Chalk({ level }) : noColor(),
    columns: s.isTTY ? s.columns || 0 : 0,
    animate: canAnimate(s, env),
  });
  return { out: stream(process.stdout, levels[0]!), err: stream(process.stderr, levels[1]!) };
}

/** The styles the CLI uses (a chalk instance of level 0 leaves text as it is, and so does noColor). */
const STYLES = ["reset", "bold", "dim", "italic", "underline", "inverse", "hidden", "strikethrough",
  "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white", "gray", "grey"] as const;

/**
 * What `new Chalk({ level: 0 })` is, without loading chalk: each style, chained or not, joins
 * its arguments with spaces and returns them unstyled.
 */
export function noColor(): ChalkInstance {
  const plain = ((...args: unknown[]): string => (args.length === 1 ? "" + (args[0] as string) : args.join(" "))) as unknown as Record<string, unknown>;
  for (const style of STYLES) Object.defineProperty(plain, style, { get: () => plain });
  plain.level = 0;
  return plain as unknown as ChalkInstance;
}

const STATE_COLOR: Record<RunState, (c: ChalkInstance, s: string) => string> = {
  queued: (c, s) => c.blue(s),
  running: (c, s) => c.cyan(s),
  success: (c, s) => c.green(s),
  failure: (c, s) => c.red(s),
  timeout: (c, s) => c.red(s),
  aborted: (c, s) => c.yellow(s),
  cancelled: (c, s) => c.yellow(s),
  rate_limited: (c, s) => c.magenta(s),
  interrupted: (c, s) => c.magenta(s),
};

/** A run state, coloured by meaning. */
export function stateText(c: ChalkInstance, state: RunState): string {
  return (STATE_COLOR[state] ?? ((_, s: string) => s))(c, state);
}

/** Prints an error for a person: message, where, what to do; a stack only for our own bugs. */
export function printError(err: Stream, error: unknown): void {
  const c = err.c;
  if (isFluidError(error)) {
    err.write(`${c.red("error:")} ${error.message}\n`);
    if (error.hint) err.write(`${c.dim("hint:")} ${error.hint}\n`);
    return;
  }
  const e = error instanceof Error ? error : new Error(String(error));
  err.write(`${c.red("internal error:")} ${e.message}\n${c.dim(e.stack ?? "")}\n`);
  err.write(`${c.dim("This is a bug in fluid-tasks; please report it with the lines above.")}\n`);
}

const LEVEL_COLOR: Record<string, (c: ChalkInstance, s: string) => string> = {
  debug: (c, s) => c.gray(s),
  info: (c, s) => c.blue(s),
  warn: (c, s) => c.yellow(s),
  error: (c, s) => c.red(s),
  stdout: (c, s) => c.gray(s),
  stderr: (c, s) => c.yellow(s),
};

/** One log line of a run: "12:00:01.123 INFO  say_hi 1a2b3c4d  message". */
export function formatLogLine(c: ChalkInstance, line: RunLogLine): string {
  const time = new Date(line.ts).toISOString().slice(11, 23);
  const level = (LEVEL_COLOR[line.level] ?? ((_, s: string) => s))(c, line.level.toUpperCase().padEnd(5));
  return `${c.dim(time)} ${level} ${c.bold(line.task)} ${c.dim(line.runId.slice(0, 8))}  ${line.message}\n`;
}

/** Renders rows as an aligned table with a header (ANSI-aware widths). */
export function table(c: ChalkInstance, headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell + " ".repeat(widths[i]! - visible(cell).length))).join("  ").trimEnd();
  return [c.bold(line(headers)), ...rows.map(line)].join("\n") + "\n";
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
// eslint-disable-next-line no-control-regex
const ANSI_AT_START = /^\u001b\[[0-9;]*m/;
function visible(s: string): string {
  return s.replace(ANSI, "");
}

/** Cuts a line to `width` visible characters, keeping colour codes, ending with "…". */
export function clip(line: string, width: number): string {
  if (visible(line).length <= width) return line;
  let shown = 0;
  let out = "";
  for (let i = 0; i < line.length; i++) {
    const code = line[i] === "\u001b" ? ANSI_AT_START.exec(line.slice(i)) : null;
    if (code) {
      out += code[0];
      i += code[0].length - 1;
      continue;
    }
    if (shown >= width - 1) return out + "…\u001b[0m";
    out += line[i];
    shown++;
  }
  return out;
}

/** A spinner on stderr while something runs, with the elapsed time; nothing where it cannot be drawn. */
export interface Progress {
  /** Write a line to stderr without tearing the spinner. */
  line(text: string): void;
  stop(): void;
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/**
 * Starts a spinner showing `text` and the elapsed seconds, on stderr when `err.animate`.
 * One line, redrawn in place with a carriage return and cut to the terminal's width, so it
 * never wraps; if the terminal becomes too narrow (or its width unknown), it stops drawing.
 */
export function startProgress(err: Stream, text: string, stream: { columns?: number } = process.stderr): Progress {
  if (!err.animate) return { line: (t) => err.write(t), stop: () => {} };
  const started = Date.now();
  let frame = 0;
  let drawn = false;
  const clear = (): void => {
    if (drawn) err.write("\r\u001b[2K");
    drawn = false;
  };
  const draw = (): void => {
    const columns = Number(stream.columns);
    if (!(columns >= MIN_SPINNER_COLUMNS)) return clear();
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const line = `${err.c.cyan(FRAMES[frame++ % FRAMES.length]!)} ${text} ${err.c.dim(`${seconds}s`)}`;
    err.write(`\r${clip(line, columns - 1)}\u001b[K`);
    drawn = true;
  };
  err.write("\u001b[?25l"); // hide the cursor while drawing
  const restore = (): void => void process.stderr.write("\u001b[?25h");
  process.once("exit", restore);
  draw();
  const timer = setInterval(draw, 100);
  timer.unref();
  return {
    line(t) {
      clear();
      err.write(t);
      draw();
    },
    stop() {
      clearInterval(timer);
      clear();
      restore();
      process.off("exit", restore);
    },
  };
}
