import { readFileSync, readlinkSync } from "node:fs";
import { errorCode } from "./store-error.js";

/**
 * True when a process with this pid exists on this host (signal 0 probes without signalling).
 * EPERM means it exists but belongs to another user. A pid can be reused by a new process, so
 * a true answer for a very old attempt is a guess; false is certain. `processStart` tells a
 * reused pid apart where /proc exists.
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

/**
 * When a process started, as Linux counts it: the boot time (`btime` of /proc/stat, seconds)
 * and the start in clock ticks after boot (field 22 of /proc/<pid>/stat). The pair names one
 * process for the life of the machine, where a pid alone is reused. Undefined without /proc
 * (macOS) or when the process is gone.
 */
export interface ProcessStart {
  bootTime: number;
  startTicks: number;
}

/** The start of process `pid` (see ProcessStart), or undefined when it cannot be read. */
export function processStart(pid: number): ProcessStart | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // Field 2 (the command) is in parentheses and may hold spaces and ")": split after the last.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const startTicks = Number(fields[22 - 3]);
    const bootTime = readBootTime();
    if (!Number.isSafeInteger(startTicks) || bootTime === undefined) return undefined;
    return { bootTime, startTicks };
  } catch {
    return undefined;
  }
}

/**
 * Whether two starts are the same process start. Some kernels report `btime` a second apart
 * between reads (it is derived from the clock), so boot times within 2 s count as one boot; a
 * reboot moves it by far more.
 */
export function sameStart(a: ProcessStart, b: ProcessStart): boolean {
  return a.startTicks === b.startTicks && Math.abs(a.bootTime - b.bootTime) <= 2;
}

/**
 * When process `pid` started, in epoch ms (clock ticks are USER_HZ, 100 a second, on every
 * Linux architecture), or undefined without /proc. Precise to about a second.
 */
export function processStartedAt(pid: number): number | undefined {
  const start = processStart(pid);
  return start === undefined ? undefined : start.bootTime * 1000 + start.startTicks * 10;
}

/**
 * True when the process that started something at `startedAt` (epoch ms) on this host may still
 * run: its pid is alive and, where /proc tells, that process started before then (a process
 * started later got the pid by reuse). Allows 3 s for the precision of `processStartedAt`.
 */
export function isStarterAlive(pid: number, startedAt: number | undefined): boolean {
  if (!isPidAlive(pid)) return false;
  const started = startedAt === undefined ? undefined : processStartedAt(pid);
  return started === undefined || started <= startedAt! + 3000;
}

/**
 * The pid namespace of this process ("pid:[4026531836]"), or undefined without /proc. Two
 * containers may share a host name (host networking) but never a pid namespace, and a pid is
 * only meaningful inside its namespace.
 */
export function pidNamespace(): string | undefined {
  try {
    return readlinkSync("/proc/self/ns/pid");
  } catch {
    return undefined;
  }
}

let bootTime: number | undefined;
function readBootTime(): number | undefined {
  if (bootTime !== undefined) return bootTime;
  const match = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "latin1"));
  bootTime = match ? Number(match[1]) : undefined;
  return bootTime;
}
