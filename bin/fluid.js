#!/usr/bin/env node
// The `fluid` command: run the compiled CLI and exit with its code.
import { runCli } from "../dist/cli/boot.js";

// A reader that went away (`fluid history --json | head -1`) is not an error of ours.
for (const s of [process.stdout, process.stderr]) s.on("error", (e) => { if (e.code !== "EPIPE") throw e; });
const code = await runCli(process.argv.slice(2));
process.exitCode = code;
// Exit even if a task left handles (sockets, timers) open, but only once everything written
// to stdout and stderr has reached them: writes to a pipe are asynchronous, and exiting
// earlier cuts the output of a slow reader (at 64 KiB, the pipe's buffer).
await Promise.all([process.stdout, process.stderr].map(flushed));
process.exit(code);

/** Resolves once every write queued on `stream` has been handed to the OS (or failed). */
function flushed(stream) {
  if (stream.writableLength === 0 || stream.destroyed) return undefined;
  return new Promise((resolve) => {
    stream.write("", () => resolve());
    stream.once("close", resolve);
  });
}
