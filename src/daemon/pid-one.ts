/**
 * What `fluid serve` says once when it runs as pid 1 (a container started without an init),
 * or undefined for any other pid. Pid 1 inherits every orphaned process of its pid namespace:
 * a task's background grandchild whose parent exited becomes its child. Node reaps only the
 * children it spawned itself, so those orphans stay zombies until the container stops.
 */
export function pidOneWarning(pid: number): { message: string; hint: string } | undefined {
  if (pid !== 1) return undefined;
  return {
    message: "fluid serve runs as pid 1: it cannot reap orphaned grandchildren (processes a task left behind), which stay zombies",
    hint: "run the container with `docker run --init`, or make tini the entrypoint (ENTRYPOINT [\"tini\", \"--\"]); see docs/service.md",
  };
}
