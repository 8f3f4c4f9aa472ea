import { readdirSync, readFileSync } from "node:fs";

/**
 * Live (non-zombie) processes whose environment holds `name=value`, from /proc: every process a
 * command started inherits the variable, also those that left its process group, so a test
 * marks a command with a variable of its own and counts what is left of it.
 */
export function markedProcesses(name: string, value: string): number[] {
  const wanted = `${name}=${value}`;
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "latin1");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (state === "Z" || state === "X") continue;
      if (readFileSync(`/proc/${entry}/environ`, "latin1").split("\0").includes(wanted)) found.push(Number(entry));
    } catch {} // gone meanwhile, or not ours to read
  }
  return found;
}

/** A value no other test uses, for `markedProcesses`. */
export function uniqueMark(): string {
  return `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

/** SIGKILLs what is left of a marked command (cleanup after a failed assertion). */
export function killMarked(name: string, value: string): void {
  for (const pid of markedProcesses(name, value)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}
