import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { FluidError, ExitCode } from "../errors.js";
import { isPidAlive } from "../store/pid-alive.js";

/** Another daemon already serves this store (exit 2). */
export class DaemonLockedError extends FluidError {
  constructor(message: string, hint: string) {
    super("FLUID_LOCKED", message, ExitCode.usage, { hint });
  }
}

/**
 * Takes the one-daemon-per-store lock: a `<store>.lock` file holding our pid and host, created
 * exclusively. A lock left by a process that is gone (same host, pid not alive) is taken over.
 * Returns the release function.
 */
export function acquireDaemonLock(storePath: string): () => void {
  const path = `${storePath}.lock`;
  const me = `${process.pid} ${hostname()}\n`;
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, me);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, "utf8") === me) rmSync(path);
        } catch {}
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new DaemonLockedError(`cannot create the daemon lock ${path}: ${(error as Error).message}`, "check that the store directory is writable");
      }
    }
    const [pidText, host] = readLock(path);
    if (leftByDeadProcess(pidText, host)) {
      rmSync(path, { force: true }); // stale: that daemon died without releasing it
      continue;
    }
    throw new DaemonLockedError(
      `another fluid serve (pid ${pidText ?? "?"}${host && host !== hostname() ? ` on ${host}` : ""}) is already using the store ${storePath}`,
      `stop it first, or give this one another store (FLUID_STORE=...); several daemons can share work only through Redis`,
    );
  }
  throw new DaemonLockedError(`cannot take the daemon lock ${path}`, `remove ${path} if no fluid serve is running`);
}

/** The daemon serving this store, when one is alive on this host (or holds the lock from another host). */
export function daemonHolding(storePath: string): { pid: string; host: string } | undefined {
  const [pid, host] = readLock(`${storePath}.lock`);
  if (pid === undefined || host === undefined || leftByDeadProcess(pid, host)) return undefined;
  return { pid, host };
}

/** A lock whose daemon is gone: taken on this host by a process no longer alive. */
function leftByDeadProcess(pidText: string | undefined, host: string | undefined): boolean {
  const pid = Number(pidText);
  return host === hostname() && Number.isInteger(pid) && !isPidAlive(pid);
}

function readLock(path: string): [string | undefined, string | undefined] {
  try {
    const [pid, host] = readFileSync(path, "utf8").trim().split(/\s+/);
    return [pid, host];
  } catch {
    return [undefined, undefined];
  }
}
