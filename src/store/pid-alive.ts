import { errorCode } from "./store-error.js";

/**
 * True when a process with this pid exists on this host (signal 0 probes without signalling).
 * EPERM means it exists but belongs to another user. A pid can be reused by a new process, so
 * a true answer for a very old attempt is a guess; false is certain.
 */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === "EPERM";
  }
}
