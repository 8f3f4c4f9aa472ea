import { setTimeout as sleep } from "node:timers/promises";
import { ExitCode, UsageError } from "../core/errors.js";
import { FINAL_STATES } from "../core/types.js";
import { stateText, type Output } from "./output.js";
import { loadForStore } from "./project.js";

/** `fluid cancel <run-id>`: removes a queued run, or stops a running one (state `cancelled`). */
export async function cancelCommand(idOrPrefix: string, o: { config?: string }, io: Output): Promise<number> {
  // Tasks are loaded for their schemas: a queued run removed is recorded with its secrets redacted.
  const project = await loadForStore(o.config, "tolerant", io);
  const { connect, cancel } = await import("../daemon/client.js");
  const conn = await connect(project);
  try {
    const result = await cancel(conn, idOrPrefix);
    const c = io.err.c;
    const r = result.run;
    if (result.outcome === "ended") {
      throw new UsageError(`run ${r.id} (${r.task}) is not queued or running: it ended ${r.state}`, { hint: "`fluid show` shows how it ended" });
    }
    if (result.outcome === "removed") {
      io.err.write(`cancelled ${r.task} ${r.id} (it was queued)\n`);
      return ExitCode.success;
    }
    io.err.write(`cancelling ${r.task} ${r.id}: the daemon aborts its signal\n`);
    // Report how it ends; a task that ignores its signal ends when it returns.
    for (let i = 0; i < 100; i++) {
      const latest = (await conn.runs.getRun(r.id)).run;
      if (FINAL_STATES.has(latest.state)) {
        io.err.write(`${r.task} ${r.id} ${stateText(c, latest.state)}\n`);
        return ExitCode.success;
      }
      await sleep(50);
    }
    io.err.write(`${r.task} ${r.id} has not stopped yet; it ends as cancelled when it honours ctx.signal\n`);
    return ExitCode.success;
  } finally {
    await conn.close();
  }
}
