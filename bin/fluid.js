#!/usr/bin/env node
// The `fluid` command: run the compiled CLI and exit with its code.
import { runCli } from "../dist/cli/boot.js";

const code = await runCli(process.argv.slice(2));
// Let stdout/stderr drain, then exit: a task may leave handles (sockets, timers) open.
process.exitCode = code;
setImmediate(() => process.exit(code));
