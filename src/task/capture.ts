/**
 * Output capture of IO-bound runs. A task running on this event loop may print with
 * `console.log`, `process.stdout.write` and the like; what it writes while its run is the
 * current async context (AsyncLocalStorage) becomes log lines of that run, level "stdout" or
 * "stderr", instead of going to the process's streams. Output of code outside any run goes to
 * the streams as before.
 *
 * Nothing is set up until the first captured run starts (a command that runs no task pays
 * nothing); from then on a write costs one `getStore()` lookup. Why AsyncLocalStorage: the
 * daemon runs many IO-bound runs at once on one event loop, and only the async context tells
 * which run a write belongs to.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { TextDecoder } from "node:util";

/** Longest log line kept, in bytes of UTF-8; the rest of a longer line is cut and counted. */
export const MAX_LOG_LINE_BYTES = 8 * 1024;

/** Receives one captured line of a run. */
export type CaptureSink = (level: "stdout" | "stderr", message: string) => void;

type Stream = "stdout" | "stderr";

/** The output of one attempt: partial lines waiting for their newline, per stream. */
class RunOutput {
  private readonly sink: CaptureSink;
  private readonly partial: Record<Stream, string> = { stdout: "", stderr: "" };
  /** Characters of a partial line beyond the kept ones, per stream. */
  private readonly cut: Record<Stream, number> = { stdout: 0, stderr: 0 };
  private decoders: Partial<Record<Stream, TextDecoder>> = {};

  constructor(sink: CaptureSink) {
    this.sink = sink;
  }

  write(stream: Stream, chunk: unknown, encoding: unknown): void {
    let text: string;
    if (typeof chunk === "string") {
      text = typeof encoding === "string" && encoding !== "utf8" && encoding !== "utf-8" && Buffer.isEncoding(encoding)
        ? Buffer.from(chunk, encoding).toString("utf8")
        : chunk;
    } else if (chunk instanceof Uint8Array) {
      // A multi-byte character may be split across writes: decode in streaming mode.
      text = (this.decoders[stream] ??= new TextDecoder("utf-8")).decode(chunk, { stream: true });
    } else {
      text = String(chunk);
    }
    let start = 0;
    for (let nl = text.indexOf("\n", start); nl >= 0; nl = text.indexOf("\n", start)) {
      this.add(stream, text.slice(start, nl));
      this.emit(stream);
      start = nl + 1;
    }
    if (start < text.length) this.add(stream, text.slice(start));
  }

  /** Emits the partial lines left at the end of the attempt. */
  end(): void {
    for (const stream of ["stdout", "stderr"] as const) {
      const rest = this.decoders[stream]?.decode();
      if (rest) this.add(stream, rest);
      if (this.partial[stream] !== "" || this.cut[stream] > 0) this.emit(stream);
    }
    this.decoders = {};
  }

  /** Appends to a partial line, keeping at most what a log line may hold (memory stays bounded). */
  private add(stream: Stream, text: string): void {
    const room = MAX_LOG_LINE_BYTES - this.partial[stream].length;
    if (text.length <= room) {
      this.partial[stream] += text;
    } else {
      this.partial[stream] += text.slice(0, Math.max(0, room));
      this.cut[stream] += text.length - Math.max(0, room);
    }
  }

  private emit(stream: Stream): void {
    let line = this.partial[stream];
    if (line.endsWith("\r")) line = line.slice(0, -1);
    const cut = this.cut[stream];
    this.partial[stream] = "";
    this.cut[stream] = 0;
    this.sink(stream, cut > 0 ? `${line}${cutNote(cut, "characters")}` : line);
  }
}

/** The note that ends a line cut to MAX_LOG_LINE_BYTES. */
export function cutNote(n: number, unit: "bytes" | "characters"): string {
  return ` … [${n} more ${unit} of this line dropped]`;
}

let storage: AsyncLocalStorage<RunOutput | undefined> | undefined;

/**
 * Runs `fn(arg)` with the process's stdout and stderr writes made inside it (and in everything it
 * starts asynchronously) delivered to `sink` line by line; `end()` of the returned handle
 * emits a last line left without its newline. Installs the interception on first use.
 */
export function captureOutput<T, A>(sink: CaptureSink, fn: (arg: A) => T, arg: A): { value: T; end: () => void } {
  const output = new RunOutput((level, message) => outsideRun(() => sink(level, message)));
  const value = install().run(output, fn, arg);
  return { value, end: () => output.end() };
}

/**
 * Runs `fn` outside any run's capture: what it writes (and what it starts asynchronously)
 * goes to the real streams. For fluid's own work done on behalf of a run: printing its log
 * lines, queueing a run for it.
 */
export function outsideRun<T>(fn: () => T): T {
  if (storage?.getStore() === undefined) return fn();
  return storage.run(undefined, fn);
}

function install(): AsyncLocalStorage<RunOutput | undefined> {
  if (storage) return storage;
  const als = new AsyncLocalStorage<RunOutput | undefined>();
  intercept(process.stdout, "stdout", als);
  intercept(process.stderr, "stderr", als);
  storage = als;
  return als;
}

function intercept(stream: NodeJS.WriteStream, name: Stream, als: AsyncLocalStorage<RunOutput | undefined>): void {
  const original = stream.write;
  stream.write = function (this: NodeJS.WriteStream, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
    const output = als.getStore();
    if (output === undefined) return (original as (...a: unknown[]) => boolean).call(this, chunk, encoding, cb);
    output.write(name, chunk, encoding);
    const callback = typeof encoding === "function" ? encoding : cb;
    if (typeof callback === "function") process.nextTick(callback as () => void);
    return true;
  } as typeof stream.write;
}
