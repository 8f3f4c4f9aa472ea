import { createHash } from "node:crypto";

/**
 * The run id of a schedule slot: the same on every daemon, so each daemon's timer can enqueue the
 * slot and the backend keeps exactly one run (BullMQ's `jobId`). `<task>.<slot in base 36>`, or a
 * hash of the task name when that would pass the 64 characters of a run id.
 */
export function slotRunId(task: string, scheduledAt: number): string {
  const slot = Math.round(scheduledAt).toString(36);
  const name = task.replace(/:/g, "-");
  const id = `${name}.${slot}`;
  if (id.length <= 64 && /^[A-Za-z0-9]/.test(id)) return id;
  return `s${createHash("sha256").update(task).digest("hex").slice(0, 24)}.${slot}`;
}

/**
 * The BullMQ job id of a run id. BullMQ refuses ids that are integers and ids with a ":" (other
 * than its own scheduler ids), which fluid run ids may be: those get a "_" in front (never the
 * start of a run id) and "|" for ":". Other run ids are their own job id.
 */
export function jobIdOf(runId: string): string {
  if (!runId.includes(":") && `${parseInt(runId, 10)}` !== runId) return runId;
  return `_${runId.replace(/:/g, "|")}`;
}

/** The run id of a BullMQ job id (`jobIdOf` reversed; a job added by plain BullMQ keeps its id). */
export function runIdOf(jobId: string): string {
  return jobId.startsWith("_") ? jobId.slice(1).replace(/\|/g, ":") : jobId;
}
