import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import type { LogLine } from "../core/types.js";
import type { QueueFn } from "../task/context.js";
import { killTree, killTreeNow } from "../process-tree.js";
import {
  abortMessage,
  type ChildMessage, type DoneMessage, type ParentMessage, type QueueMessage, type RunMessage,
} from "./protocol.js";
import { decodeValue } from "./codec.js";
import { callListener } from "../core/call-listener.js";
import { fromErrorInfo, toErrorInfo, UsageError } from "../core/errors.js";
import { delay, within } from "./timers.js";
import { OOM_LINE, WorkerExitError, type WorkerExit } from "./worker-exit-error.js";

type Execa = typeof import("execa").execa;

/** What a worker process is started with; workers with the same key are interchangeable. */
export interface WorkerSpec {
  key: string;
  env: Record<string, string>;
  maxMemoryMb: number | undefined;
  /** Single use: discarded after one run (`isolate: "run"`). */
  isolate: boolean;
}

export interface WorkerOptions {
  execa: Execa;
  childEntry: string;
  configFile: string;
  cwd: string;
  spec: WorkerSpec;
  killGraceMs: number;
  /** Called at once when the process has exited (its last output and runs are still being read). */
  onProcessGone?: ((worker: Worker) => void) | undefined;
  /** Called once when the exit has been handled (every run on it ended); `expected` when the pool stopped it. */
  onExit: (worker: Worker, exit: WorkerExit, expected: boolean) => void;
}

/** The run-side callbacks of one run on a worker. */
export interface RunHooks {
  log?: ((line: LogLine) => void) | undefined;
  queue?: QueueFn | undefined;
  /**
   * The child has started the run: it was sent to an idle worker, or the run before it on
   * this worker reported its end (the child reports a run's end before it starts the next).
   */
  onStart?: (() => void) | undefined;
  /** The child reports the run's end; the run ends when its output has been read too. */
  onDone?: (() => void) | undefined;
}

/** How a run on a worker ended, as the worker saw it. */
export type RunEnd =
  | { kind: "done"; done: DoneMessage }
  | { kind: "exit"; exit: WorkerExit; stderr: string[]; oomLine: string | undefined }
  /** The run never started here: taken back (abort or drop), or the process is gone. Run it elsewhere. */
  | { kind: "dropped" };

interface Slot {
  seq: number;
  hooks: RunHooks;
  /** Still taking queue requests and sync marks. */
  open: boolean;
  /** The child has started it (as far as this process knows). */
  started: boolean;
  done: DoneMessage | undefined;
  out: boolean;
  err: boolean;
  markWait: { cancel(): void } | undefined;
  resolve: (end: RunEnd) => void;
}

/** Lines longer than this are passed on in pieces. */
const MAX_LINE = 64 * 1024;
/** Stderr lines kept for the message of a crash. */
const TAIL_LINES = 20;
/**
 * After `done`, a run ends when the end marks of the streams it printed to have been read:
 * the child's stdout and stderr are written asynchronously, so `done` (IPC) usually comes
 * long before the end of a large output. The wait is given up only when a stream that owes
 * its mark has brought nothing for this long (the child is stuck, or a task in its next run
 * never yields); lines that come later still go to the run they belong to (see `owners`).
 */
const MARK_WAIT_MS = 2000;
/** Runs kept for the attribution of late lines after they ended without their marks. */
const MAX_OWNERS = 64;

let nextId = 1;

/**
 * One child process of the pool, running the worker entry: the process, its IPC channel and
 * its output. The child executes one run at a time, in order; the worker may hold more (sent
 * ahead, waiting in the child's queue). What the pool decides about a worker (idle, busy,
 * draining, its run count...) lives in worker-state.ts, not here.
 */
export class Worker {
  readonly id = nextId++;
  readonly spec: WorkerSpec;
  readonly pid: number | undefined;
  /** Resolves when the project is loaded; rejects when the child cannot start. */
  readonly ready: Promise<void>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<WorkerExit>;

  private readonly options: WorkerOptions;
  private readonly proc: ReturnType<typeof startProcess>;
  private readonly mark = `\u0000fluid-sync:${randomBytes(6).toString("hex")}:`;
  /** Open runs by seq. */
  private readonly slots = new Map<number, Slot>();
  /** Runs sent whose `done` (or `dropped`) has not come, in order; the first is the one the child executes. */
  private pending: Slot[] = [];
  /** The run each stream's lines belong to (the last begin mark read there), or the last run. */
  private owner: { stdout: Slot | undefined; stderr: Slot | undefined } = { stdout: undefined, stderr: undefined };
  private last: Slot | undefined;
  /**
   * Runs whose lines may still come, by seq: open runs, and runs that ended before their end
   * marks were read. A begin mark is looked up here, so the lines of a run go to it even when
   * they are read after it ended.
   */
  private readonly owners = new Map<number, Slot>();
  /** When each stream last brought data (Date.now()). */
  private readonly lastData = { stdout: 0, stderr: 0 };
  private seq = 0;
  private tail: string[] = [];
  /** V8's out-of-memory line, when the child printed one during the current run. */
  private oomLine: string | undefined;
  /** Messages to write on the next turn of the event loop, as one write. */
  private outbox: ParentMessage[] = [];
  /** Run messages in the outbox. */
  private unsentRuns = 0;
  private flushing = false;
  private gone: Promise<void> | undefined;
  private markHandled!: () => void;
  /** Resolves when the exit has been handled (see onProcessExit). */
  private readonly handled = new Promise<void>((resolve) => (this.markHandled = resolve));
  private stopping = false;
  private exitedFlag = false;
  /** Resident set size after the last run (or at ready), bytes. */
  private lastRss = 0;
  /** Whether `ready` has settled. */
  private readySettled = false;
  private resolveReady!: () => void;
  private rejectReady!: (error: Error) => void;
  private fatal: Error | undefined;

  constructor(options: WorkerOptions) {
    this.options = options;
    this.spec = options.spec;
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = () => ((this.readySettled = true), resolve());
      this.rejectReady = (error) => ((this.readySettled = true), reject(error));
    });
    this.ready.catch(() => {}); // observed by the pool; this only keeps it from being unhandled
    this.proc = startProcess(options);
    this.pid = this.proc.pid;
    this.exited = new Promise<WorkerExit>((resolve) => {
      let settled = false;
      const settle = (exit: WorkerExit): void => {
        if (settled) return;
        settled = true;
        resolve(exit);
        this.onProcessExit(exit);
      };
      this.proc.on("exit", (code, signal) => settle({ code: code ?? undefined, signal: signal ?? undefined }));
      // A process that could not be spawned at all emits no "exit"; execa's result still says why.
      this.proc.then(
        (r) => settle({ code: r.exitCode, signal: r.signal }),
        () => settle({ code: undefined, signal: undefined }),
      );
    });
    // Held, never written, never keeping this process alive: see startProcess.
    const lifeline = this.proc.stdio[3] as Readable & { unref?: () => void } | undefined;
    lifeline?.on("error", () => {});
    lifeline?.resume(); // reads the end when the child exits, so the pipe is closed then
    lifeline?.unref?.();
    this.readLines(this.proc.stdout, "stdout");
    this.readLines(this.proc.stderr, "stderr");
    this.readMessages();
    this.send({ type: "hello", configFile: options.configFile, cwd: options.cwd, mark: this.mark });
  }

  /** Resident set size of the process after its last run (or when it became ready), bytes. */
  get rss(): number {
    return this.lastRss;
  }

  /** Runs sent to the child that it has not started (as far as this process knows). */
  get waiting(): number {
    return Math.max(0, this.pending.length - 1);
  }

  /**
   * Sends a run; the child starts it when the runs sent before it have ended. Resolves when the
   * child reports its end (after its output is read), takes it back, or exits.
   */
  run(message: Omit<RunMessage, "type" | "seq">, hooks: RunHooks): { seq: number; ended: Promise<RunEnd> } {
    const seq = ++this.seq;
    if (this.exitedFlag || this.stopping) return { seq, ended: Promise.resolve({ kind: "dropped" }) };
    this.setRef(true);
    const ended = new Promise<RunEnd>((resolve) => {
      const slot: Slot = {
        seq, hooks, open: true, started: false, done: undefined, out: false, err: false, markWait: undefined,
        resolve: (end) => {
          if (!slot.open) return;
          slot.open = false;
          slot.markWait?.cancel();
          this.slots.delete(seq);
          if (end.kind === "dropped") this.owners.delete(seq);
          resolve(end);
        },
      };
      this.slots.set(seq, slot);
      this.owners.set(seq, slot);
      this.last = slot;
      this.pending.push(slot);
      this.send({ type: "run", seq, ...message });
      if (this.pending.length === 1) this.start(slot);
    });
    return { seq, ended };
  }

  /** Asks the child to abort run `seq` (its `ctx.signal` aborts with the reason), or to drop it if not started. */
  abort(seq: number, reason: Error): void {
    if (this.slots.has(seq)) this.send(abortMessage(seq, reason));
  }

  /** Asks the child to give back the runs it has not started (all, or those given); they end `dropped`. */
  drop(seqs?: number[]): void {
    if (this.pending.length > 1 || seqs) this.send(seqs ? { type: "drop", seqs } : { type: "drop" });
  }

  /** The seq of the last run sent that the child has not started, if any. */
  lastWaiting(): number | undefined {
    return this.pending.length > 1 ? this.pending[this.pending.length - 1]!.seq : undefined;
  }

  /** The worker holds no run: it no longer keeps the parent's event loop alive (`run` refs it again). */
  setIdle(): void {
    this.setRef(false);
  }

  /**
   * Stops the process and everything it started: SIGTERM to the tree (process group and
   * descendants), SIGKILL after `killGraceMs` if anything is left. Resolves when it is gone.
   */
  stop(): Promise<void> {
    if (this.gone) return this.gone;
    this.stopping = true;
    this.setRef(true);
    // Resolves once the exit is handled too (runs ended, the pool told), so nothing is pending after.
    this.gone = this.killGroup().then(() => within(this.handled, 1000)).then(() => {});
    return this.gone;
  }

  /** Gives up on a worker that is still starting: `ready` rejects with `error` (stop it next). */
  failStart(error: Error): void {
    if (this.readySettled || this.stopping || this.exitedFlag) return;
    this.fatal = error;
    this.rejectReady(error);
  }

  /** SIGKILL to the whole tree at once (the parent is exiting). */
  killNow(): void {
    if (this.pid !== undefined) killTreeNow(this.pid);
  }

  /**
   * Ends the process tree (see process-tree.ts): the worker, its process group, and the
   * processes its tasks started, also those in process groups of their own (`detached`).
   */
  private async killGroup(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    await killTree(pid, { group: pid, graceMs: this.options.killGraceMs, settleMs: 1000 });
    await within(this.exited, 1000);
  }

  private onProcessExit(exit: WorkerExit): void {
    this.exitedFlag = true;
    const expected = this.stopping;
    callListener(this.options.onProcessGone, this);
    // Sweep what the task left in the group (a crash leaves its grandchildren behind).
    if (!this.stopping) void this.stop();
    void (async () => {
      // Let the last stderr lines arrive (bounded: a grandchild may hold the pipe open).
      await within(streamClosed(this.proc.stderr), 200);
      if (!this.readySettled) {
        // It died (or was stopped) before it was ready.
        this.fatal ??= new WorkerExitError("a worker could not load the project", exit, this.tail);
        this.rejectReady(this.fatal);
      }
      // Let the child's last messages arrive too (a `done` written just before it died).
      await within(channelClosed(this.proc), 200);
      // The run the child was executing fails with the exit; the runs behind it never started.
      for (const slot of [...this.slots.values()].sort((a, b) => a.seq - b.seq)) {
        if (slot.done) slot.resolve({ kind: "done", done: slot.done });
        else if (slot.started) slot.resolve({ kind: "exit", exit, stderr: [...this.tail], oomLine: this.oomLine });
        else slot.resolve({ kind: "dropped" });
      }
      this.pending = [];
      this.options.onExit(this, exit, expected);
      this.markHandled();
    })();
  }

  /**
   * Node's own 'message' event, not execa's getEachMessage(): execa re-emits each message on
   * a later macrotask (it debounces them), which cost more than half the throughput of one
   * worker in bench/cpu-dispatch.ts.
   */
  private readMessages(): void {
    this.proc.on("message", (message) => this.onMessage(message as ChildMessage));
  }

  private onMessage(message: ChildMessage): void {
    switch (message.type) {
      case "ready":
        this.lastRss = message.rss;
        this.resolveReady();
        return;
      case "fatal":
        this.fatal = fromErrorInfo(message.error);
        this.rejectReady(this.fatal);
        return;
      case "log": {
        const slot = this.slots.get(message.seq);
        if (slot) callListener(slot.hooks.log, message.line);
        return;
      }
      case "queue":
        void this.onQueue(message);
        return;
      case "done": {
        const slot = this.slots.get(message.seq);
        if (!slot) return;
        slot.done = message;
        this.lastRss = message.rss;
        callListener(() => slot.hooks.onDone?.());
        this.settled(slot);
        // Streams the run did not print to carry no mark: nothing to wait for there.
        if (!message.marks.out) slot.out = true;
        if (!message.marks.err) slot.err = true;
        this.maybeEnd(slot);
        if (slot.open && !slot.markWait) this.waitForMarks(slot, message, Date.now());
        return;
      }
      case "dropped":
        for (const seq of message.seqs) {
          const slot = this.slots.get(seq);
          if (!slot || slot.done) continue;
          this.settled(slot);
          slot.resolve({ kind: "dropped" });
        }
        return;
    }
  }

  /** The child is done with `slot` (ended or dropped): the next run in line has started. */
  private settled(slot: Slot): void {
    const at = this.pending.indexOf(slot);
    if (at < 0) return;
    this.pending.splice(at, 1);
    const next = this.pending[0];
    if (at === 0 && next) this.start(next);
    if (this.unsentRuns > 0 && this.pending.length - this.unsentRuns < 2) this.flushSoon();
  }

  private start(slot: Slot): void {
    if (slot.started) return;
    slot.started = true;
    // Crash reports quote the stderr lines of the run that was executing.
    this.tail = [];
    this.oomLine = undefined;
    callListener(() => slot.hooks.onStart?.());
  }

  private async onQueue(message: QueueMessage): Promise<void> {
    const slot = this.slots.get(message.seq);
    const answer = (body: { id: string } | { error: unknown }): void => {
      if ("id" in body) this.send({ type: "queued", seq: message.seq, req: message.req, id: body.id });
      else this.send({ type: "queued", seq: message.seq, req: message.req, error: toErrorInfo(body.error) });
    };
    if (!slot?.open) {
      return answer({ error: new UsageError(`cannot queue "${message.task}": the run has ended`, { hint: "await ctx.queue(...) before the task function returns" }) });
    }
    if (!slot.hooks.queue) {
      return answer({ error: new UsageError(`cannot queue "${message.task}": this run has no queue`, { hint: "queue runs from a task the daemon or `fluid run` runs" }) });
    }
    try {
      answer({ id: await slot.hooks.queue(message.task, decodeValue(message.params) as Record<string, unknown> | undefined, message.options) });
    } catch (error) {
      answer({ error });
    }
  }

  private readLines(stream: Readable | null, level: "stdout" | "stderr"): void {
    if (!stream) return;
    stream.setEncoding("utf8");
    let buffer = "";
    stream.on("data", (chunk: string) => {
      this.lastData[level] = Date.now();
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        this.onLine(buffer.slice(0, nl), level);
        buffer = buffer.slice(nl + 1);
      }
      while (buffer.length > MAX_LINE) {
        this.onLine(buffer.slice(0, MAX_LINE), level);
        buffer = buffer.slice(MAX_LINE);
      }
    });
    stream.on("end", () => {
      if (buffer) this.onLine(buffer, level);
      buffer = "";
    });
    stream.on("error", () => {});
  }

  private onLine(raw: string, level: "stdout" | "stderr"): void {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const at = line.indexOf(this.mark);
    if (at >= 0) {
      // A task's unfinished line (no newline) ends up in front of the mark.
      if (at > 0) this.deliver(line.slice(0, at), level);
      const rest = line.slice(at + this.mark.length);
      if (rest.startsWith("+")) {
        // The lines that follow belong to this run.
        const slot = this.owners.get(Number(rest.slice(1)));
        if (slot) this.owner[level] = slot;
        return;
      }
      const slot = this.owners.get(Number(rest));
      if (slot) {
        if (level === "stdout") slot.out = true;
        else slot.err = true;
        this.maybeEnd(slot);
      }
      return;
    }
    this.deliver(line, level);
  }

  private deliver(message: string, level: "stdout" | "stderr"): void {
    if (level === "stderr") {
      if (this.oomLine === undefined && OOM_LINE.test(message)) this.oomLine = message;
      this.tail.push(message);
      if (this.tail.length > TAIL_LINES) this.tail.shift();
    }
    // A line printed outside any run (a timer a task left behind) goes to the run that last
    // printed there, or to the run in the child now.
    const slot = this.owner[level] ?? this.pending[0] ?? this.last;
    if (slot) callListener(slot.hooks.log, { ts: Date.now(), level, message });
  }

  private maybeEnd(slot: Slot): void {
    if (!slot.done || !slot.out || !slot.err) return;
    if (slot.open) slot.resolve({ kind: "done", done: slot.done });
    this.owners.delete(slot.seq);
  }

  /**
   * Ends `slot` once its marks are read, or when a stream that owes one has been silent for
   * MARK_WAIT_MS since `since` (see MARK_WAIT_MS).
   */
  private waitForMarks(slot: Slot, done: DoneMessage, since: number): void {
    const heard = Math.max(since, slot.out ? 0 : this.lastData.stdout, slot.err ? 0 : this.lastData.stderr);
    const wait = delay(heard + MARK_WAIT_MS - Date.now());
    slot.markWait = wait;
    void wait.promise.then(() => {
      if (!slot.open) return;
      const now = Date.now();
      const last = Math.max(slot.out ? 0 : this.lastData.stdout, slot.err ? 0 : this.lastData.stderr);
      if (now - last < MARK_WAIT_MS) return this.waitForMarks(slot, done, since);
      slot.resolve({ kind: "done", done });
      // Its lines may still come (behind a next run that does not yield): keep it findable, bounded.
      if (this.owners.size > MAX_OWNERS) {
        for (const [seq, s] of this.owners) {
          if (!s.open) {
            this.owners.delete(seq);
            break;
          }
        }
      }
    });
  }

  /**
   * Queues a message; every message queued in this turn of the event loop goes in one write
   * (a write to a child is the dearest part of a short run). When the channel is gone, the
   * exit handler ends the runs with the reason.
   */
  private send(message: ParentMessage): void {
    this.outbox.push(message);
    if (message.type === "run") {
      this.unsentRuns++;
      // The child has a run waiting besides the one it executes: it will not starve, so this
      // one can wait to go with the next (the write is sent when that waiting run starts).
      if (this.pending.length - this.unsentRuns >= 2) return;
    }
    this.flushSoon();
  }

  private flushSoon(): void {
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushing = false;
    const messages = this.outbox;
    this.outbox = [];
    this.unsentRuns = 0;
    if (messages.length === 0 || !this.proc.connected) return;
    try {
      this.proc.send(messages.length === 1 ? messages[0]! : messages, () => {});
    } catch {
      // The channel closed under us: the exit handler reports why.
    }
  }

  /** Idle workers do not keep the parent alive (a process 'exit' hook of the pool kills them). */
  private setRef(on: boolean): void {
    const handles = [this.proc, this.proc.channel, this.proc.stdout, this.proc.stderr] as Array<{ ref?: () => void; unref?: () => void } | null | undefined>;
    for (const h of handles) {
      try {
        if (on) h?.ref?.();
        else h?.unref?.();
      } catch {} // a handle already closed (the process exited): nothing left to keep alive
    }
  }
}

function startProcess(o: WorkerOptions) {
  const memory = o.spec.maxMemoryMb ? [`--max-old-space-size=${o.spec.maxMemoryMb}`] : [];
  return o.execa(process.execPath, [...memory, o.childEntry], {
    ipc: true,
    // JSON, with params and results encoded by ./codec.ts: cheaper than "advanced" (see there).
    serialization: "json",
    // Leads its own process group, so a timeout kills what the task spawned too.
    detached: true,
    cleanup: false,
    // stdin, stdout, stderr, and the lifeline (fd 3): the child's watchdog reads end-of-file
    // there when this process is gone (see watchdog.ts). It is never written to.
    stdio: ["ignore", "pipe", "pipe", "pipe"],
    // Output and IPC messages are read as they come; nothing is kept by execa.
    buffer: false,
    reject: false,
    cwd: o.cwd,
    env: o.spec.env,
    extendEnv: true,
  });
}

function channelClosed(proc: { connected: boolean; once(event: "disconnect", listener: () => void): unknown }): Promise<void> {
  if (!proc.connected) return Promise.resolve();
  return new Promise((resolve) => proc.once("disconnect", resolve));
}

function streamClosed(stream: Readable | null): Promise<void> {
  if (!stream || stream.destroyed || stream.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once("close", resolve);
    stream.once("end", resolve);
  });
}
