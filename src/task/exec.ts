/**
 * `ctx.exec(file, args, options)`: start a program from a task, with its output in the run's
 * log and its whole process tree stopped with the run. execa does the starting (PATH lookup,
 * shell, input, error codes); it is loaded on the first call, so runs that start nothing do
 * not pay for it.
 *
 * The program leads a process group of its own, so the tree that is killed at an abort is
 * the program's, never the daemon's; the tree is found as in src/process-tree.ts (descendants
 * by parent links, also those that left the group, plus the group).
 */
import { callListener } from "../core/call-listener.js";
import type { Readable } from "node:stream";
import { parseDurationAs } from "../core/duration.js";
import { ExitCode, FluidError, UsageError } from "../core/errors.js";
import { importModule } from "../core/dynamic-import.js";
import { killTree, killTreeNow } from "../process-tree.js";
import type { Duration } from "../core/types.js";

/** Options of `ctx.exec`. */
export interface ExecOptions {
  /** Working directory of the program. Default: this process's working directory (the project's, under `fluid`). */
  cwd?: string;
  /** Environment variables added to this process's own (a value of undefined removes one). Default: none added. */
  env?: Record<string, string | undefined>;
  /** Written to the program's standard input, which is then closed. Default: none (standard input is empty). */
  input?: string | Uint8Array;
  /**
   * Time limit of the program: milliseconds or text ("30s", "5m"). At the limit its process
   * tree is stopped (as at an abort) and `ctx.exec` rejects with an ExecError whose
   * `timedOut` is true. Default: none; the run's own timeout still applies.
   */
  timeout?: Duration;
  /**
   * Run `file` as a command line of a shell, `args` appended: true for `/bin/sh -c`, or the
   * shell's path (e.g. "/bin/bash", run as `<shell> -c <line>`). Default false.
   */
  shell?: boolean | string;
  /** After SIGTERM (abort or timeout), SIGKILL what is left of the tree this long later. Default "5s". */
  killGrace?: Duration;
  /**
   * Keep the output for the result's `stdout` and `stderr`; false leaves them "" (the lines
   * still go to the run's log), for programs whose output is only logged. Default true.
   */
  buffer?: boolean;
}

/** What `ctx.exec` resolves with when the program exits with code 0. */
export interface ExecResult {
  /** Always 0 here: any other exit rejects with an ExecError. */
  exitCode: number;
  /** Standard output, lines joined with "\n", no final newline; the first 16 MB (MAX_KEPT_BYTES), the rest is in the log only. */
  stdout: string;
  /** Standard error, as `stdout`. */
  stderr: string;
}

/** Starts a program for a run; see `RunContext.exec`. */
export type ExecFn = (file: string, args?: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

/** Bytes of each stream kept for the result; lines beyond go to the log only. */
export const MAX_KEPT_BYTES = 16 * 1024 * 1024;
/** Lines longer than this are passed on in pieces (memory stays bounded). */
const MAX_LINE = 64 * 1024;
/** Stderr lines quoted in an ExecError. */
const TAIL_LINES = 10;
const DEFAULT_KILL_GRACE_MS = 5000;

/**
 * A program started by `ctx.exec` failed: it exited with a code other than 0, was killed by a
 * signal, hit its `timeout`, or could not be started. `code` is FLUID_EXEC; the message names
 * the command and how it ended and quotes its last stderr lines.
 */
export class ExecError extends FluidError {
  /** The command, as a line a shell would take. */
  readonly command: string;
  /** Exit code of the program, or undefined (a signal ended it, or it never started). */
  readonly childExitCode: number | undefined;
  /** Signal that ended the program, or undefined. */
  readonly childSignal: string | undefined;
  /** True when its `timeout` ended it. */
  readonly timedOut: boolean;
  /** The last lines the program printed on stderr. */
  readonly stderr: string[];

  constructor(init: { command: string; how: string; exitCode?: number | undefined; signal?: string | undefined; timedOut?: boolean; stderr: string[]; hint: string; cause?: unknown }) {
    const shown = init.stderr.filter((l) => l.trim() !== "").slice(-TAIL_LINES);
    const tail = shown.length ? `\nlast lines on stderr:\n${shown.map((l) => `  ${l}`).join("\n")}` : "";
    super("FLUID_EXEC", `command "${init.command}" ${init.how}${tail}`, ExitCode.failure, { hint: init.hint, cause: init.cause });
    this.command = init.command;
    this.childExitCode = init.exitCode;
    this.childSignal = init.signal;
    this.timedOut = init.timedOut ?? false;
    this.stderr = init.stderr;
  }
}

type Execa = typeof import("execa").execa;
let execa: Execa | undefined;
/** Programs running now (process group leaders), killed if this process exits first. */
const running = new Set<number>();
let exitHook: (() => void) | undefined;

/**
 * Makes the `ctx.exec` of one run: `line(level, message)` receives each output line (the
 * run's log), `signal` is the run's `ctx.signal`.
 */
export function createExec(line: (level: "stdout" | "stderr", message: string) => void, signal: AbortSignal): ExecFn {
  return async (file, args = [], options = {}) => {
    if (typeof file !== "string" || file === "") throw new UsageError(`ctx.exec needs a program name, got ${JSON.stringify(file)}`);
    if (!Array.isArray(args) || args.some((a) => typeof a !== "string")) {
      throw new UsageError(`the arguments of ctx.exec("${file}") must be an array of strings`, { hint: "pass options as the third argument: ctx.exec(file, [], options)" });
    }
    const timeoutMs = options.timeout === undefined ? 0 : duration(options.timeout, "timeout");
    const graceMs = options.killGrace === undefined ? DEFAULT_KILL_GRACE_MS : duration(options.killGrace, "killGrace");
    const command = options.shell ? [file, ...args].join(" ") : [file, ...args].map(quote).join(" ");
    signal.throwIfAborted();
    execa ??= ((await importModule("execa")) as typeof import("execa")).execa;
    signal.throwIfAborted();
    const child = execa(file, args, {
      cwd: options.cwd,
      env: options.env,
      extendEnv: true,
      shell: options.shell ?? false,
      ...(options.input !== undefined ? { input: options.input } : { stdin: "ignore" as const }),
      stdout: "pipe",
      stderr: "pipe",
      // Its own process group: the tree killed at an abort is the program's (see process-tree.ts).
      detached: true,
      cleanup: false,
      buffer: false,
      reject: false,
    });
    const pid = child.pid;
    // Its exit, not execa's promise: that one also waits for the pipes, which a descendant
    // that outlives the program may hold open for as long as it lives.
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once("exit", (code, sig) => resolve({ code, signal: sig }));
    });
    const kept = { stdout: new Kept(options.buffer !== false), stderr: new Kept(options.buffer !== false) };
    const tail: string[] = [];
    const heard = { at: Date.now() };
    const read = (stream: Readable | null, level: "stdout" | "stderr"): Promise<void> =>
      readLines(stream, heard, (message) => {
        kept[level].add(message);
        if (level === "stderr") {
          tail.push(message);
          if (tail.length > TAIL_LINES * 2) tail.shift();
        }
        callListener(line, level, message); // a log sink that fails must not crash the process from a stream handler
      });
    const reading = Promise.all([read(child.stdout, "stdout"), read(child.stderr, "stderr")]);
    let stopping: "abort" | "timeout" | undefined;
    const stop = (why: "abort" | "timeout"): void => {
      if (stopping || pid === undefined) return;
      stopping = why;
      // Tracked until the whole tree is gone: an exit of this process meanwhile SIGKILLs the rest.
      void killTree(pid, { group: pid, graceMs }).finally(() => running.delete(pid));
    };
    const onAbort = (): void => stop("abort");
    signal.addEventListener("abort", onAbort, { once: true });
    const timer = timeoutMs > 0 ? setTimeout(() => stop("timeout"), timeoutMs) : undefined;
    if (pid !== undefined) track(pid);
    try {
      const ended = await Promise.race([exited, child.then((result) => ({ result }))]);
      if ("result" in ended) {
        // No exit: it could not be started (execa says why).
        const { result } = ended;
        const why = result.originalMessage || result.shortMessage || "unknown reason";
        throw new ExecError({
          command, how: `could not be started: ${why}`, stderr: [], cause: result.cause,
          hint: /"cwd" option/.test(why)
            ? "the cwd option must name an existing directory"
            : typeof options.shell === "string" && options.shell !== "" ? `check the command line, and that the shell ${options.shell} exists`
            : options.shell ? "check the command line" : "check the program's name and that it is on PATH (or give its path); for a shell command line pass shell: true",
        });
      }
      if (stopping === "abort") throw signal.reason;
      heard.at = Math.max(heard.at, Date.now()); // what is left in the pipes may take a moment to read
      await drained(reading, heard, [child.stdout, child.stderr]);
      if (stopping === "timeout") {
        throw new ExecError({
          command, how: `timed out after ${timeoutMs}ms and was killed`, timedOut: true, signal: ended.signal ?? undefined, stderr: tail,
          hint: "raise its timeout, or find out why it takes this long from its output in the run's log",
        });
      }
      if (ended.code !== 0) {
        const how = ended.signal !== null ? `was killed by ${ended.signal}` : `exited with code ${ended.code}`;
        throw new ExecError({
          command, how, exitCode: ended.code ?? undefined, signal: ended.signal ?? undefined, stderr: tail,
          hint: tail.some((l) => l.trim() !== "")
            ? "the lines above come from the program; all of its output is in the run's log"
            : "it printed nothing on stderr; its output, if any, is in the run's log",
        });
      }
      return { exitCode: 0, stdout: kept.stdout.text(), stderr: kept.stderr.text() };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      if (pid !== undefined && !stopping) running.delete(pid);
    }
  };
}

function duration(value: Duration, what: string): number {
  return parseDurationAs(value, `ctx.exec ${what}`, (m, h) => new UsageError(m, h === undefined ? undefined : { hint: h }));
}

/** Remembers a running program, so this process's exit kills its tree (a CLI that ends before the kill grace). */
function track(pid: number): void {
  running.add(pid);
  if (exitHook) return;
  exitHook = () => {
    for (const p of running) killTreeNow(p);
  };
  process.on("exit", exitHook);
}

/** Collects lines up to MAX_KEPT_BYTES (none when `keep` is false). */
class Kept {
  private readonly lines: string[] = [];
  private bytes = 0;
  constructor(private readonly keep: boolean) {}
  add(line: string): void {
    if (!this.keep || this.bytes >= MAX_KEPT_BYTES) return;
    this.lines.push(line);
    this.bytes += line.length + 1;
  }
  text(): string {
    return this.lines.join("\n");
  }
}

/**
 * After the program exited: waits until its output is read to the end, as long as the pipes
 * keep bringing data; pipes silent for IDLE_MS are held open by a descendant that outlives
 * the program, and are closed on our side.
 */
async function drained(reading: Promise<unknown>, heard: { at: number }, streams: Array<Readable | null>): Promise<void> {
  let done = false;
  void reading.then(() => (done = true));
  for (;;) {
    const wait = heard.at + IDLE_MS - Date.now();
    if (wait <= 0) break;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([reading, new Promise((resolve) => (timer = setTimeout(resolve, wait)))]);
    clearTimeout(timer);
    if (done) return;
  }
  for (const s of streams) s?.destroy();
}
const IDLE_MS = 500;

/** Calls `onLine` with each line of a stream (without its newline); resolves at its end. */
function readLines(stream: Readable | null, heard: { at: number }, onLine: (line: string) => void): Promise<void> {
  if (!stream) return Promise.resolve();
  stream.setEncoding("utf8");
  let buffer = "";
  const emit = (raw: string): void => onLine(raw.endsWith("\r") ? raw.slice(0, -1) : raw);
  return new Promise((resolve) => {
    stream.on("data", (chunk: string) => {
      heard.at = Date.now();
      buffer += chunk;
      let start = 0;
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n", start)) {
        emit(buffer.slice(start, nl));
        start = nl + 1;
      }
      buffer = buffer.slice(start);
      while (buffer.length > MAX_LINE) {
        emit(buffer.slice(0, MAX_LINE));
        buffer = buffer.slice(MAX_LINE);
      }
    });
    const end = (): void => {
      if (buffer) emit(buffer);
      buffer = "";
      resolve();
    };
    stream.once("end", end);
    stream.once("close", end);
    stream.on("error", () => {});
  });
}

/** A word as a POSIX shell would read it back (for messages only). */
function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
