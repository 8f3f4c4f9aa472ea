/**
 * The watchdog of a pool worker: a thread of the worker process (worker_threads) that checks
 * every WATCHDOG_EVERY_MS whether the process's parent (the daemon, or `fluid run`) is still
 * its parent. When the parent is gone (kill -9, a crash, the OOM killer), the worker has been
 * reparented, and the watchdog kills the worker's process tree (see process-tree.ts) and the
 * worker itself with SIGKILL, so a run never goes on beside the run a restarted daemon starts
 * again.
 *
 * Why a thread: the worker's own "disconnect" handler runs on its event loop, which a
 * cpu-bound task may keep busy for as long as it likes (a busy loop never yields). A thread
 * has an event loop of its own. It costs the worker a few MB and one wake-up per check.
 */
import { workerData } from "node:worker_threads";
import { ProcessTree, killTreeNow } from "../process-tree.js";

/** How often the watchdog looks at the parent pid, in ms. */
export const WATCHDOG_EVERY_MS = 200;

const { parent } = workerData as { parent: number };

const timer = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(timer);
  // Everything but this process first (frozen, so nothing escapes), then this process.
  killTreeNow(new ProcessTree(process.pid, process.pid), process.pid);
  process.kill(process.pid, "SIGKILL");
}, WATCHDOG_EVERY_MS);
