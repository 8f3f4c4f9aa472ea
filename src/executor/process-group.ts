import { readdirSync, readFileSync } from "node:fs";

/**
 * Sends a signal to every process of a process group (a worker started `detached` leads its
 * own group, and the processes a task spawns join it). False when the group is empty.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * True while a process of the group is still alive. On Linux it reads /proc and skips zombies:
 * where PID 1 does not reap orphans (some containers), a killed grandchild stays a zombie
 * forever and `kill(-pgid, 0)` would report the group alive forever.
 */
export function groupAlive(pgid: number): boolean {
  const members = groupMembers(pgid);
  if (members !== undefined) return members.length > 0;
  return signalGroup(pgid, 0);
}

/** Live (non-zombie) pids of a process group from /proc; undefined where there is no /proc. */
export function groupMembers(pgid: number): number[] | undefined {
  return liveProcesses()?.filter((p) => p.pgrp === pgid).map((p) => p.pid);
}

/** Every live (non-zombie) process with its parent and group, from /proc; undefined where there is none. */
export function liveProcesses(): Array<{ pid: number; ppid: number; pgrp: number }> | undefined {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return undefined;
  }
  const processes: Array<{ pid: number; ppid: number; pgrp: number }> = [];
  for (const entry of entries) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "latin1");
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parens, so parse after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] !== "Z" && fields[0] !== "X") processes.push({ pid: Number(entry), ppid: Number(fields[1]), pgrp: Number(fields[2]) });
  }
  return processes;
}
