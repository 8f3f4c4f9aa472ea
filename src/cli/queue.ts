import { Option } from "commander";
import { ExitCode, UsageError } from "../core/errors.js";
import type { RunRecord } from "../core/run-record.js";
import type { Priority } from "../core/types.js";
import { formatDuration, parseDuration } from "../core/duration.js";
import { stateText, type Output } from "./output.js";
import { exitCodeOf } from "./run.js";
import { parseTaskArgs } from "./task-args.js";

/** `fluid queue <task> [flags]`: queues a run for the daemon, prints its id; `--wait` waits for its end. */
export async function queueCommand(args: string[], globalConfig: string | undefined, io: Output): Promise<number> {
  const parsed = await parseTaskArgs("queue", args, globalConfig, io, (cmd) => {
    cmd.addOption(new Option("--priority <priority>", "high, medium or low (default: the task's)").choices(["high", "medium", "low"]).helpGroup("Queue options:"));
    cmd.addOption(new Option("--delay <duration>", "start no sooner than this from now, e.g. 30s, 5m").helpGroup("Queue options:"));
    cmd.addOption(new Option("--wait", "wait for the run to end, print the outcome, exit as fluid run does").helpGroup("Queue options:"));
    cmd.addOption(new Option("--timeout <duration>", "with --wait: stop waiting after this long (exit 124; the run goes on)").helpGroup("Queue options:"));
  });
  if (parsed === "help") return ExitCode.success;
  const { project, task, params, opts, id } = parsed;
  const delay = opts.delay === undefined ? undefined : parseDuration(opts.delay as string, "--delay");
  const timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout as string, "--timeout");
  if (timeoutMs !== undefined && !opts.wait) throw new UsageError("--timeout needs --wait", { hint: "the daemon applies the task's own timeout to the run" });
  const { connect, enqueue, waitForRun } = await import("../daemon/client.js");
  const conn = await connect(project);
  try {
    const run = await enqueue(conn, task, params, {
      ...(id ? { id } : {}), ...(opts.priority ? { priority: opts.priority as Priority } : {}), ...(delay !== undefined ? { delay } : {}),
    });
    const { daemonHolding } = await import("../daemon/lock.js");
    // On a fleet backend any daemon of the fleet takes it: the local store says nothing of them.
    if (conn.broker.kind !== "bullmq" && !daemonHolding(conn.store.path)) {
      io.err.write(io.err.c.yellow(`no fluid serve is running for ${conn.store.path}: the run waits in the queue until one starts\n`));
    }
    if (!opts.wait) {
      io.out.write(opts.json ? JSON.stringify({ id: run.id, task: run.task, state: "queued", priority: run.priority, runAfter: new Date(run.runAfter).toISOString() }) + "\n" : `${run.id}\n`);
      if (!opts.json) io.err.write(`queued ${task.name} ${run.id} (${run.priority} priority)${delay ? ` to start in ${formatDuration(delay)}` : ""}\n`);
      return ExitCode.success;
    }
    io.err.write(`queued ${task.name} ${run.id}; waiting for it to end\n`);
    const controller = new AbortController();
    const onSignal = (): void => controller.abort();
    process.once("SIGINT", onSignal);
    try {
      const end = await waitForRun(conn, run.id, { ...(timeoutMs !== undefined ? { timeoutMs } : {}), signal: controller.signal });
      printEnd(io, end, opts.json === true);
      return exitCodeOf(end.state);
    } catch (error) {
      if (controller.signal.aborted) {
        io.err.write(`stopped waiting; the run ${run.id} stays queued (fluid cancel ${run.id.slice(0, 12)} removes it)\n`);
        return ExitCode.interrupted;
      }
      throw error;
    } finally {
      process.off("SIGINT", onSignal);
    }
  } finally {
    await conn.close();
  }
}

function printEnd(io: Output, r: RunRecord, json: boolean): void {
  if (json) {
    io.out.write(JSON.stringify({
      id: r.id, task: r.task, state: r.state, params: r.params, ...(r.state === "success" ? { result: r.result ?? null } : {}),
      ...(r.error ? { error: r.error } : {}), attempts: r.attempt,
      started: r.startedAt ? new Date(r.startedAt).toISOString() : null, ended: r.endedAt ? new Date(r.endedAt).toISOString() : null, durationMs: r.durationMs ?? null,
    }) + "\n");
    return;
  }
  const c = io.err.c;
  io.err.write(`${r.task} ${c.dim(r.id)} ${stateText(c, r.state)}${r.durationMs !== undefined ? ` in ${formatDuration(r.durationMs)}` : ""}${r.error ? `: ${r.error.message}` : ""}\n`);
  if (r.state === "success" && r.result !== undefined) io.out.write(typeof r.result === "string" ? `${r.result}\n` : `${JSON.stringify(r.result, null, 2)}\n`);
}
