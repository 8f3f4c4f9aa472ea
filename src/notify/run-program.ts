import { importModule } from "../core/dynamic-import.js";

/** Options of `runProgram`. */
export interface RunProgramOptions {
  /** Written to the program's stdin, which is then closed. */
  input: string;
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Time limit, ms: then SIGTERM to the program's process group, SIGKILL 2 s later. */
  timeoutMs: number;
  /** Ends the program the same way (shutdown). */
  signal: AbortSignal;
}

/** After SIGTERM, how long a notifier program has before SIGKILL. */
const KILL_GRACE_MS = 2_000;

/**
 * Runs a program (a command notifier's shell, sendmail) in its own process group, its stdout
 * discarded, and resolves when it exits 0; rejects with its exit code or signal and the end of
 * what it wrote on stderr. `child_process` is loaded here, on first use, not at start.
 */
export async function runProgram(file: string, args: string[], o: RunProgramOptions): Promise<void> {
  // Through importModule: the CLI runs from the code cache, where a plain import() fails on Node 20.
  const { spawn } = (await importModule("node:child_process")) as typeof import("node:child_process");
  return new Promise<void>((resolve, reject) => {
    let stderr = "";
    let why: string | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const child = spawn(file, args, { detached: true, stdio: ["pipe", "ignore", "pipe"], env: o.env, ...(o.cwd ? { cwd: o.cwd } : {}) });
    const kill = (reason: string): void => {
      if (why !== undefined || child.pid === undefined) return;
      why = reason;
      signalGroup(child.pid, "SIGTERM");
      killTimer = setTimeout(() => signalGroup(child.pid!, "SIGKILL"), KILL_GRACE_MS);
    };
    const timer = setTimeout(() => kill(`did not finish within ${o.timeoutMs} ms`), o.timeoutMs);
    const onAbort = (): void => kill("killed: fluid stopped waiting for it (shutdown or exit)");
    o.signal.addEventListener("abort", onAbort, { once: true });
    const done = (error?: Error): void => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      o.signal.removeEventListener("abort", onAbort);
      if (error) reject(error);
      else resolve();
    };
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
    // A program that does not read its stdin closes it early: not an error of ours.
    child.stdin!.on("error", () => {});
    child.stdin!.end(o.input);
    child.on("error", (error) => done(error));
    child.on("close", (code, signal) => {
      if (why === undefined && code === 0) return done();
      const tail = stderr.trim().split("\n").slice(-3).join(" | ");
      const how = why ?? (signal ? `killed by ${signal}` : `exited with code ${code}`);
      done(new Error(`${how}${tail ? `: ${tail}` : ""}`));
    });
    if (o.signal.aborted) onAbort();
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {} // gone already, or not ours to signal: nothing left to stop
  }
}
