import type { ChalkInstance } from "chalk";
import { formatDuration } from "../core/duration.js";
import { StoreError, type ErrorInfo } from "../core/errors.js";
import type { RunDetails, RunRecord } from "../core/run-record.js";
import { formatLogLine, stateText, type Output } from "./output.js";
import { loadForStore } from "./project.js";
import { localTime, readRuns } from "./store-access.js";

/** Options of `fluid show` and `fluid logs`. */
export interface ShowOptions {
  config?: string;
  json?: boolean;
}

async function details(id: string, o: ShowOptions, io: Output): Promise<RunDetails> {
  const project = await loadForStore(o.config, "none", io);
  const store = await readRuns(project);
  if (!store) throw new StoreError(`unknown run id "${id}": no runs are recorded yet`, { hint: "`fluid history` lists recorded runs" });
  try {
    return await store.runs.getRun(id);
  } finally {
    await store.close();
  }
}

/** `fluid show <run-id>`: every field of a run, its attempts, error, log lines and chain. */
export async function showCommand(id: string, o: ShowOptions, io: Output): Promise<number> {
  const d = await details(id, o, io);
  if (o.json) {
    io.out.write(JSON.stringify(d) + "\n");
    return 0;
  }
  const c = io.out.c;
  const r = d.run;
  const field = (name: string, value: string): string => `${c.dim(name.padEnd(10))} ${value}\n`;
  let text = `${c.bold(r.task)} ${r.id}\n`;
  text += field("state", stateText(c, r.state));
  text += field("trigger", r.trigger);
  // On a fleet a run whose daemon died runs again as the next attempt, also past the planned ones.
  text += field("attempt", r.attempt > r.maxAttempts ? `${r.attempt} (${r.maxAttempts} planned; run again after an interruption)` : `${r.attempt} of ${r.maxAttempts}`);
  text += field("params", JSON.stringify(r.params));
  text += field("queued", localTime(r.queuedAt));
  text += field("started", localTime(r.startedAt));
  text += field("ended", localTime(r.endedAt));
  text += field("duration", r.durationMs === undefined ? "-" : formatDuration(r.durationMs));
  text += field("host", `${r.host} pid ${r.pid}${r.exitCode !== undefined ? ` exit code ${r.exitCode}` : ""}`);
  if (r.state === "success") text += field("result", JSON.stringify(r.result ?? null, null, 2).replace(/\n/g, `\n${" ".repeat(11)}`));
  if (r.error) text += field("error", errorText(c, r.error));
  if (d.attempts.length > 1) {
    text += `\n${c.bold("attempts")}\n`;
    for (const a of d.attempts) {
      text += `  ${a.attempt}. ${stateText(c, a.state)} ${localTime(a.startedAt)} ${a.durationMs === undefined ? "" : formatDuration(a.durationMs)}${a.error ? ` ${c.dim(a.error.message.split("\n")[0]!)}` : ""}\n`;
    }
  }
  if (d.parent || d.children.length > 0 || d.root) {
    text += `\n${c.bold("chain")}\n${chainTree(c, d)}`;
  }
  text += `\n${c.bold("logs")}${d.droppedLogLines ? c.dim(` (${d.droppedLogLines} lines over the cap were not kept)`) : ""}\n`;
  text += d.logs.length === 0 ? c.dim("  (none)\n") : d.logs.map((l) => "  " + formatLogLine(c, { ...l, task: r.task, runId: r.id })).join("");
  io.out.write(text);
  return 0;
}

/** `fluid logs <run-id>`: just the log lines of a run. */
export async function logsCommand(id: string, o: ShowOptions, io: Output): Promise<number> {
  const d = await details(id, o, io);
  if (o.json) {
    io.out.write(JSON.stringify(d.logs) + "\n");
    return 0;
  }
  for (const l of d.logs) io.out.write(formatLogLine(io.out.c, { ...l, task: d.run.task, runId: d.run.id }));
  if (d.logs.length === 0) io.err.write("no log lines\n");
  return 0;
}

function errorText(c: ChalkInstance, e: ErrorInfo): string {
  const pad = " ".repeat(11);
  // A message may span lines (an ExecError quotes the program's stderr): indent them; frames are the stack's "at" lines.
  let text = `${c.red(`${e.name}${e.code ? ` [${e.code}]` : ""}: ${e.message.split("\n").join(`\n${pad}`)}`)}`;
  const frames = (e.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l));
  if (frames.length > 0) text += "\n" + frames.map((l) => pad + c.dim(l.trim())).join("\n");
  if (e.cause) text += `\n${pad}caused by: ${errorText(c, e.cause)}`;
  return text;
}

/** The run's chain as a small tree: root, parent, this run, its children. */
function chainTree(c: ChalkInstance, d: RunDetails): string {
  const line = (r: RunRecord, indent: string, mark = ""): string =>
    `${indent}${r.task} ${c.dim(r.id.slice(0, 12))} ${stateText(c, r.state)}${mark}\n`;
  let text = "";
  let indent = "  ";
  if (d.root && d.root.id !== d.parent?.id) {
    text += line(d.root, indent, c.dim(" (root)"));
    indent += "  ";
  }
  if (d.parent) {
    text += line(d.parent, indent, c.dim(" (parent)"));
    indent += "  ";
  }
  text += line(d.run, indent, c.bold(" ← this run"));
  for (const child of d.children) text += line(child, indent + "  ");
  return text;
}
