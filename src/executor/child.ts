/**
 * Entry of a pool worker: a child process that loads the project once and then executes the
 * runs the pool sends it, one at a time and in order, with the inline executor. Runs that come
 * while one executes wait in a queue here (the pool's prefetch). Started by `createPool`
 * with an IPC channel; it takes everything (config path, run ids, params) from that channel,
 * never from argv or the environment. It only executes runs: no scheduler, no consumer, no
 * store. The parent owns every deadline (see `run` below).
 */
import { getHeapStatistics } from "node:v8";
import "../index.js"; // publishes the public API for the task modules this worker loads
import { Worker } from "node:worker_threads";
import { resolveDeps } from "../config/deps.js";
import { ProcessTree, killTreeNow } from "../process-tree.js";
import { loadProject, type Project } from "../config/load.js";
import type { QueueFn } from "../task/context.js";
import type { AttemptOutcome } from "../core/types.js";
import { decodeValue, encodeValue } from "./codec.js";
import { executeInline } from "./inline.js";
import { fromErrorInfo, ParamsError, toErrorInfo } from "../core/errors.js";
import { RunStop } from "./run-stop.js";
import { ResultError, whyNotJson } from "./run-errors.js";
import {
  abortReason, beginMark, syncMark,
  type ChildMessage, type DoneMessage, type ParentMessage, type RunMessage,
} from "./protocol.js";

// Taken before any user module loads, so a logger that patches process.stdout.write cannot
// swallow the sync marks.
const writeOut = process.stdout.write.bind(process.stdout);
const writeErr = process.stderr.write.bind(process.stderr);
// A run that prints nothing needs no marks, which saves pipe writes here and reads in the
// parent per run. The first time a run prints to a stream, a begin mark goes first.
/** Makes a stream's write put the current run's begin mark before the run's first output. */
function markFirstWrite(stream: NodeJS.WriteStream, write: typeof writeOut, printed: "out" | "err"): void {
  stream.write = ((...args: Parameters<typeof writeOut>) => {
    if (current && !current[printed]) {
      current[printed] = true;
      write(beginMark(mark, current.seq) + "\n");
    }
    return write(...args);
  }) as typeof stream.write;
}
markFirstWrite(process.stdout, writeOut, "out");
markFirstWrite(process.stderr, writeErr, "err");
// Reading resident memory costs system calls (~10 us, a tenth of a short run's cost), so it is
// read again only after RSS_EVERY_MS, or when V8's heap plus external memory (Buffers) moved by
// more than RSS_MOVE_BYTES since the last read, which V8 tells for free.
const RSS_EVERY_MS = 200;
const RSS_MOVE_BYTES = 8 * 1024 * 1024;
let rss = 0;
let rssAt = 0;
let v8At = 0;
let v8CheckedAt = 0;
function currentRss(): number {
  const now = Date.now();
  // V8's figures too cost a run a few microseconds: looked at most once a millisecond.
  if (now === v8CheckedAt && now - rssAt < RSS_EVERY_MS) return rss;
  v8CheckedAt = now;
  const heap = getHeapStatistics();
  const v8Bytes = heap.total_heap_size + heap.external_memory;
  if (now - rssAt >= RSS_EVERY_MS || Math.abs(v8Bytes - v8At) > RSS_MOVE_BYTES) {
    rss = process.memoryUsage.rss();
    rssAt = now;
    v8At = v8Bytes;
  }
  return rss;
}

let project: Project | undefined;
let deps: unknown;
let mark = "";
/** The run being executed: its abort controller, pending queue requests, the streams it printed to. */
let current: {
  seq: number; task: string; stop: RunStop; out: boolean; err: boolean;
  requests: Map<number, { resolve: (id: string) => void; reject: (e: Error) => void }>;
} | undefined;
let nextRequest = 0;
/** Runs that came while another executes, in order. */
let waiting: RunMessage[] = [];
let startScheduled = false;

function send(message: ChildMessage): void {
  process.send?.(message);
}

if (!process.send) {
  process.stderr.write("fluid-tasks: this is the entry of a pool worker; it is started by the pool, over IPC\n");
  process.exitCode = 2;
} else {
  process.on("message", (message: ParentMessage | ParentMessage[]) => {
    if (Array.isArray(message)) for (const m of message) void onMessage(m);
    else void onMessage(message);
  });
  // The parent is gone (it crashed or was killed): take our own process group with us, so
  // nothing the tasks started outlives the daemon.
  process.on("disconnect", onDisconnect);
  // The same when this thread is too busy to notice (a task in a busy loop): see watchdog.ts.
  startWatchdog();
}

function startWatchdog(): void {
  try {
    const watchdog = new Worker(new URL("./watchdog.js", import.meta.url), {
      workerData: { parent: process.ppid },
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
      stdout: true, // nothing of it reaches our stdout, which carries the runs' lines
    });
    watchdog.unref();
    watchdog.on("error", (error) => writeErr(`fluid-tasks: the worker's watchdog failed: ${error.message}\n`));
  } catch (error) {
    writeErr(`fluid-tasks: cannot start the worker's watchdog: ${(error as Error).message}\n`);
  }
}

function onDisconnect(): void {
  killTreeNow(new ProcessTree(process.pid, process.pid), process.pid);
  process.exit(1);
}

async function onMessage(message: ParentMessage): Promise<void> {
  switch (message.type) {
    case "hello":
      return hello(message.configFile, message.cwd, message.mark);
    case "run":
      waiting.push(message);
      return startSoon();
    case "abort": {
      if (current && current.seq === message.seq) return void current.stop.abort(abortReason(message, current.task));
      const at = waiting.findIndex((r) => r.seq === message.seq);
      if (at >= 0) {
        waiting.splice(at, 1);
        send({ type: "dropped", seqs: [message.seq] });
      }
      return;
    }
    case "drop": {
      const wanted = message.seqs ? new Set(message.seqs) : undefined;
      const dropped = wanted ? waiting.filter((r) => wanted.has(r.seq)) : waiting;
      waiting = wanted ? waiting.filter((r) => !wanted.has(r.seq)) : [];
      send({ type: "dropped", seqs: dropped.map((r) => r.seq) });
      return;
    }
    case "queued": {
      const pending = current?.seq === message.seq ? current.requests.get(message.req) : undefined;
      if (!pending) return;
      current!.requests.delete(message.req);
      if (message.error) pending.reject(fromErrorInfo(message.error));
      else pending.resolve(message.id!);
      return;
    }
  }
}

async function hello(configFile: string, cwd: string, syncPrefix: string): Promise<void> {
  mark = syncPrefix;
  try {
    project = await loadProject({ config: configFile, cwd });
    deps = await resolveDeps(project);
  } catch (error) {
    process.off("disconnect", onDisconnect);
    process.send!({ type: "fatal", error: toErrorInfo(error) } satisfies ChildMessage, () => process.exit(1));
    return;
  }
  send({ type: "ready", rss: currentRss() });
}

/**
 * Starts the next waiting run on a later turn of the event loop (setImmediate), so every
 * message that came in the same read (an abort or a drop of that run) is handled first.
 */
function startSoon(): void {
  if (current || startScheduled || waiting.length === 0) return;
  startScheduled = true;
  setImmediate(() => {
    startScheduled = false;
    const next = current ? undefined : waiting.shift();
    if (next) void run(next).finally(startSoon);
  });
}

/**
 * Executes one run. The timeout passed to the inline executor is 0: the parent owns the
 * deadline (it starts when the run starts here, and is enforced by killing this process, which
 * also works while this thread is stuck in a loop), and it sends an abort message at the
 * deadline that aborts `ctx.signal` here with the same TaskTimeoutError. A second clock here
 * would only race the parent's and make the outcome depend on IPC latency.
 */
async function run(message: RunMessage): Promise<void> {
  const { seq } = message;
  // A RunStop, not an AbortController: ctx.signal's controller is made only if the task reads it.
  const stop = new RunStop();
  const requests = new Map<number, { resolve: (id: string) => void; reject: (e: Error) => void }>();
  const self = { seq, task: message.task, stop, requests, out: false, err: false };
  current = self;
  let outcome: AttemptOutcome;
  try {
    const task = project!.registry.get(message.task);
    const queue: QueueFn = (target, params, options) =>
      new Promise<string>((resolve, reject) => {
        const req = nextRequest++;
        requests.set(req, { resolve, reject });
        try {
          send({ type: "queue", seq, req, task: typeof target === "string" ? target : target.name, params: encodeValue(params), options });
        } catch (error) {
          requests.delete(req);
          const name = typeof target === "string" ? target : target.name;
          reject(new ParamsError(name, [{ path: "", message: `cannot queue "${name}": its params cannot be sent to the parent process (${(error as Error).message})` }], {
            cause: error, hint: "params must be data: JSON values, Date, BigInt, Map, Set, Buffer (no functions, symbols or cycles)",
          }));
        }
      });
    outcome = await executeInline(
      {
        task, id: message.id, params: decodeValue(message.params) as Record<string, unknown>, attempt: message.attempt, deps,
        fromRunId: message.fromRunId, rootRunId: message.rootRunId, queue,
        log: (line) => send({ type: "log", seq, line: { ts: line.ts, level: line.level, message: line.message } }),
      },
      { timeoutMs: 0, signal: stop },
    );
  } catch (error) {
    outcome = { state: "failure", error: toErrorInfo(error) };
  }
  // Unanswered queue requests are dropped, not rejected: a rejection nobody awaits would
  // crash this process.
  if (current === self) current = undefined;
  const end = syncMark(mark, seq) + "\n";
  const marks = { out: self.out, err: self.err };
  if (marks.out) writeOut(end);
  if (marks.err) writeErr(end);
  let done: DoneMessage = {
    type: "done", seq, state: outcome.state, rss: currentRss(), marks,
    ...(outcome.error ? { error: outcome.error } : {}),
  };
  if (outcome.state === "success") {
    try {
      done.result = encodeValue(outcome.result);
    } catch (error) {
      // The result holds something that cannot leave this process (a function, a cycle, ...).
      done = {
        type: "done", seq, state: "failure", rss: done.rss, marks,
        error: toErrorInfo(new ResultError(message.task, whyNotJson(error), { cause: error })),
      };
    }
  }
  send(done);
}
