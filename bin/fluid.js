#!/usr/bin/env node
// The `fluid` command: run the compiled CLI and exit with its code.
import { runCli } from "../dist/cli/boot.js";

const code = await runCli(process.argv.slice(2));
// Exit even if a task left handles (sockets, timers) open; first let stdout/stderr drain
// where writing to them is asynchronous (pipes on some platforms).
process.exitCode = code;
if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) process.exit(code);
setImmediate(() => process.exit(code));
