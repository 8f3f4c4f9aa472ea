import { serve, type Daemon, type DaemonEvent, type ServeOptions } from "../../src/daemon/serve.js";
import { CONFIG, tempProject } from "../helpers/cli.js";

/** A daemon on a throwaway project, with every event it emitted. */
export interface TestDaemon {
  daemon: Daemon;
  dir: string;
  events: DaemonEvent[];
  /** Resolves when an event matching `pred` has been emitted (checked every 10 ms). */
  waitFor(pred: (e: DaemonEvent) => boolean, timeoutMs?: number): Promise<DaemonEvent>;
  /** Stops the daemon and removes the project. */
  close(): Promise<void>;
}

/** Starts `serve()` in this process on a temp project holding `tasks` as tasks/t.ts. */
export async function startDaemon(tasks: string, options: ServeOptions = {}, config = CONFIG): Promise<TestDaemon> {
  const project = tempProject({ "fluid.config.ts": config, "tasks/t.ts": tasks });
  const events: DaemonEvent[] = [];
  let daemon: Daemon;
  try {
    daemon = await serve({ cwd: project.dir, env: {}, graceMs: 2000, ...options, onEvent: (e) => events.push(e) });
  } catch (error) {
    project.cleanup();
    throw error;
  }
  return {
    daemon,
    dir: project.dir,
    events,
    waitFor: (pred, timeoutMs = 10_000) => waitForEvent(events, pred, timeoutMs),
    async close() {
      await daemon.stop("test done");
      project.cleanup();
    },
  };
}

/** Polls `events` until one matches. */
export async function waitForEvent(events: DaemonEvent[], pred: (e: DaemonEvent) => boolean, timeoutMs = 10_000): Promise<DaemonEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = events.find(pred);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching event within ${timeoutMs}ms; got: ${events.map((e) => e.type).join(", ")}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Ends of runs, in order. */
export function ends(events: DaemonEvent[]): Array<Extract<DaemonEvent, { type: "run-end" }>> {
  return events.filter((e): e is Extract<DaemonEvent, { type: "run-end" }> => e.type === "run-end");
}
