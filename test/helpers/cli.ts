import { afterEach } from "vitest";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa, type Options } from "execa";

/** The repository root (holds bin/fluid.js and node_modules). */
export const ROOT = join(import.meta.dirname, "..", "..");
export const BIN = join(ROOT, "bin", "fluid.js");

/** What a `fluid` process printed and how it exited. */
export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `bin/fluid.js` in a child process (no colour, not a TTY). */
export async function fluid(args: string[], options: Options & { cwd?: string } = {}): Promise<CliResult> {
  const r = await execa("node", [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    reject: false,
    timeout: 60_000,
    env: { NO_COLOR: "1", FLUID_CONFIG: "", ...(options.env ?? {}) },
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/**
 * A throwaway project directory: writes `files` (path -> contents) and links the repo's
 * node_modules plus this package as `fluid-tasks`, so task modules import as users do.
 * Returns the directory and a cleanup function.
 */
export function tempProject(files: Record<string, string>): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "fluid-test-"));
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(join(ROOT, "node_modules", "zod"), join(dir, "node_modules", "zod"), "dir");
  symlinkSync(ROOT, join(dir, "node_modules", "fluid-tasks"), "dir");
  for (const [path, contents] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), contents);
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A minimal config that loads ./tasks/*.ts. */
export const CONFIG = `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"] });\n`;

/** Registers an afterEach that removes the temp projects a test made; returns `project(files)` giving a project's directory. */
export function useTempProjects(): (files: Record<string, string>) => string {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    while (cleanups.length > 0) cleanups.pop()!();
  });
  return (files) => {
    const p = tempProject(files);
    cleanups.push(p.cleanup);
    return p.dir;
  };
}
