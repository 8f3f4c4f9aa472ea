/**
 * The watchdog of a pool worker: a thread of the worker process (worker_threads) that ends the
 * worker's process tree (see process-tree.ts) and the worker itself with SIGKILL as soon as its
 * parent (the daemon, or `fluid run`) is gone: killed with kill -9, crashed, or taken by the
 * OOM killer. So a run never goes on beside the run a restarted daemon starts again.
 *
 * How it knows: the pool gives each worker a lifeline, a pipe on file descriptor LIFELINE_FD
 * whose other end only the parent holds and never writes to. When the parent dies, the kernel
 * closes that end and the watchdog reads end-of-file at once: no polling, no wake-ups. Where
 * the lifeline cannot be opened, it checks every POLL_MS whether its parent pid changed.
 *
 * Why a thread: the worker's own "disconnect" handler runs on its event loop, which a
 * cpu-bound task may keep busy for as long as it likes (a busy loop never yields). A thread
 * has an event loop of its own. It costs the worker a few MB.
 */
import { Socket } from "node:net";
import { workerData } from "node:worker_threads";
import { ProcessTree, killTreeNow } from "../process-tree.js";

/** The worker's end of the lifeline pipe (stdio index 3 of the worker process). */
export const LIFELINE_FD = 3;
const POLL_MS = 200;

const { parent } = workerData as { parent: number };

function parentGone(): void {
  // Everything but this process first (frozen, so nothing escapes), then this process.
  killTreeNow(new ProcessTree(process.pid, process.pid), process.pid);
  process.kill(process.pid, "SIGKILL");
}

function poll(): void {
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    parentGone();
  }, POLL_MS);
}

let lifeline: Socket | undefined;
try {
  lifeline = new Socket({ fd: LIFELINE_FD, readable: true, writable: false });
} catch {
  poll();
}
if (lifeline) {
  lifeline.on("data", () => {}); // nothing is ever written; reading is what notices the end
  lifeline.once("end", parentGone);
  lifeline.once("error", () => {
    lifeline!.destroy();
    poll();
  });
}
