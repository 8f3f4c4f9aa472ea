import type { ResultPromise } from "execa";
import { afterEach } from "vitest";

/**
 * Registers an afterEach that kills (SIGKILL) the child processes a test pushed to `children`
 * and waits for them, then runs the `cleanups` in reverse order (a mount is undone after what
 * lives in it is removed). Returns both arrays for the test to push to.
 */
export function useChildren(): { children: ResultPromise[]; cleanups: Array<() => void> } {
  const children: ResultPromise[] = [];
  const cleanups: Array<() => void> = [];
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null) child.kill("SIGKILL");
      await child.catch(() => {});
    }
    for (const c of cleanups.splice(0).reverse()) c();
  });
  return { children, cleanups };
}
