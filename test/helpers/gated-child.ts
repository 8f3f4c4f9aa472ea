import { spawn } from "node:child_process";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..");

/** A child process that prints "ready", then waits for "go" on stdin, so several can start at once. */
export interface GatedChild {
  ready: Promise<void>;
  go: () => void;
  done: Promise<{ stdout: string; stderr: string; code: number | null }>;
}

/** Starts `node --import tsx <script> ...args` in the repo root as a gated child. */
export function startGatedChild(script: string, args: string[]): GatedChild {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.includes("ready\n")) onReady();
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      onReady(); // a child that died before "ready" must not hang the test
      resolve({ stdout, stderr, code });
    });
  });
  return { ready, go: () => child.stdin.end("go\n"), done };
}
