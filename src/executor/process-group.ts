import { liveProcesses, signalGroup } from "../process-tree.js";

export { liveProcesses, signalGroup };

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
