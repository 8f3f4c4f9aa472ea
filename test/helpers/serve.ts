import { execa, type ResultPromise } from "execa";
import { afterEach } from "vitest";
import { BIN } from "./cli.js";

/** A real `fluid serve --log-format json` child process and what it printed. */
export interface Served {
  child: ResultPromise;
  /** Its JSON lines (stderr), parsed; a line that is not JSON is `{ event: "text", text }`. */
  lines: Array<Record<string, unknown>>;
  /** Everything it wrote on stderr so far. */
  stderr(): string;
  /** Resolves with the first line `pred` accepts; throws once the time is up or the daemon exited. */
  waitFor(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves once the daemon has printed its "started" event. */
  started(timeoutMs?: number): Promise<void>;
}

/** Options of a served daemon. */
export interface ServeProcessOptions {
  /** More arguments after `serve --log-format json`. */
  args?: string[];
  /** More environment (NO_COLOR=1 and an empty FLUID_CONFIG are always set). */
  env?: Record<string, string>;
}

/**
 * Registers an afterEach that kills (SIGKILL) the daemons a test left running and waits for
 * them; returns `serve(dir, options)`, which starts one in `dir`.
 */
export function useServe(): (dir: string, options?: ServeProcessOptions) => Served {
  const children: ResultPromise[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null) child.kill("SIGKILL");
      await child.catch(() => {});
    }
  });
  return (dir, options = {}) => {
    const child = execa("node", [BIN, "serve", "--log-format", "json", ...(options.args ?? [])], {
      cwd: dir, reject: false, env: { NO_COLOR: "1", FLUID_CONFIG: "", ...options.env },
    });
    children.push(child);
    const lines: Array<Record<string, unknown>> = [];
    let text = "";
    let buffer = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          lines.push({ event: "text", text: line });
        }
      }
    });
    const waitFor = async (pred: (line: Record<string, unknown>) => boolean, timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find(pred);
        if (found) return found;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no such line; got ${JSON.stringify(lines)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    return {
      child, lines, waitFor,
      stderr: () => text,
      started: async (timeoutMs = 30_000) => void (await waitFor((l) => l.event === "started", timeoutMs)),
    };
  };
}
