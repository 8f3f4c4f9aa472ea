/**
 * Killing a process tree: a process, everything it started (by parent links in /proc, also
 * descendants that left its process group with `detached: true` / setsid), and every member
 * of its process group. Used for a cpu-bound worker at a timeout, cancel or shutdown, for
 * its watchdog when the daemon is gone, and for `ctx.exec` programs.
 *
 * Why freeze first: a process that gets SIGTERM may exit before its children are found,
 * and its children are then reparented (to init or a subreaper) and no longer lead back to
 * it. So every process of the tree gets SIGSTOP, the tree is collected again until it stops
 * growing, and only then do the signals that end processes go out. What cannot be found: a
 * descendant that had already been reparented before the kill began (a double fork that
 * left the process group, i.e. a daemon that detached itself on purpose).
 *
 * Linux only reads /proc; elsewhere only the process group is signalled.
 */
import { readdirSync, readFileSync } from "node:fs";

/** A live process as /proc shows it; `start` (clock ticks after boot) tells a reused pid apart. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgrp: number;
  start: number;
}

/** Every live (non-zombie) process with its parent, group and start time, from /proc; undefined where there is none. */
export function liveProcesses(): ProcessInfo[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return undefined;
  }
  const processes: ProcessInfo[] = [];
  for (const entry of entries) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    const info = readStat(Number(entry));
    if (info) processes.push(info);
  }
  return processes;
}

/** One process from /proc/<pid>/stat; undefined when it is gone or a zombie. */
export function processInfo(pid: number): ProcessInfo | undefined {
  return readStat(pid);
}

function readStat(pid: number): ProcessInfo | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return undefined; // exited meanwhile
  }
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parens, so parse after the last ")".
  // Field 22 (starttime) is index 19 after comm.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return undefined;
  return { pid, ppid: Number(fields[1]), pgrp: Number(fields[2]), start: Number(fields[19]) };
}

/** Sends a signal to a process group; false when the group is empty. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * The processes of a tree: `roots` and their descendants (by parent links), plus the members
 * of the process groups `groups` and their descendants. Undefined where there is no /proc.
 */
export function collectTree(roots: readonly number[], groups: readonly number[] = [], list = liveProcesses()): ProcessInfo[] | undefined {
  if (!list) return undefined;
  const children = new Map<number, ProcessInfo[]>();
  for (const p of list) {
    let c = children.get(p.ppid);
    if (!c) children.set(p.ppid, (c = []));
    c.push(p);
  }
  const found = new Map<number, ProcessInfo>();
  const stack: ProcessInfo[] = [];
  const rootSet = new Set(roots);
  const groupSet = new Set(groups);
  for (const p of list) if (rootSet.has(p.pid) || groupSet.has(p.pgrp)) stack.push(p);
  while (stack.length > 0) {
    const p = stack.pop()!;
    if (found.has(p.pid)) continue;
    found.set(p.pid, p);
    for (const c of children.get(p.pid) ?? []) stack.push(c);
  }
  return [...found.values()];
}

/** A set of processes collected for a kill, each remembered with its start time. */
export class ProcessTree {
  /** pid -> start time, for every process collected so far. */
  readonly members = new Map<number, number>();
  private readonly groups: number[];

  /** `root`: the process the tree hangs from; `group`: also kill this process group (default: none). */
  constructor(readonly root: number, group?: number) {
    this.groups = group === undefined ? [] : [group];
  }

  /**
   * Stops (SIGSTOP) every process of the tree, collecting again until nothing new appears, so
   * nothing can fork or exit and orphan its children while the kill goes on. Processes of the
   * tree found earlier stay roots, so children they had are still found after they exit.
   * `except`: a pid never to stop (the caller itself, when it is in the tree).
   */
  freeze(except?: number): void {
    for (let round = 0; round < 20; round++) {
      const list = liveProcesses();
      if (!list) return;
      const roots = [this.root, ...this.alive(list)];
      const tree = collectTree(roots, this.groups, list) ?? [];
      let grew = false;
      for (const p of tree) {
        if (this.members.get(p.pid) === p.start) continue;
        this.members.set(p.pid, p.start);
        grew = true;
        if (p.pid !== except) sendSignal(p.pid, "SIGSTOP");
      }
      if (!grew) return;
    }
  }

  /** Sends `signal` to every collected process that is still the one collected (not a reused pid), and to the group. */
  signal(signal: NodeJS.Signals, except?: number): void {
    if (this.members.size === 0 && this.root !== except) sendSignal(this.root, signal); // no /proc
    for (const [pid, start] of this.members) {
      if (pid === except) continue;
      if (processInfo(pid)?.start === start) sendSignal(pid, signal);
    }
    for (const g of this.groups) if (g !== except) signalGroup(g, signal);
  }

  /** True while a collected process (or a member of the group) is alive. */
  alive(list = liveProcesses()): number[] {
    if (!list) return [this.root, ...this.groups.map((g) => -g)].filter((pid) => pidAlive(pid));
    const groups = new Set(this.groups);
    const out: number[] = [];
    for (const p of list) if (this.members.get(p.pid) === p.start || groups.has(p.pgrp)) out.push(p.pid);
    return out;
  }
}

/**
 * Ends a process tree: freeze it, SIGTERM (and SIGCONT, so stopped processes can act on the
 * SIGTERM), then after `graceMs`, or as soon as all are gone, freeze again (what was started
 * meanwhile) and SIGKILL what is left. Resolves when nothing of the tree is alive, or
 * `settleMs` after the SIGKILL.
 */
export async function killTree(root: number, options: { group?: number; graceMs: number; settleMs?: number }): Promise<void> {
  const tree = new ProcessTree(root, options.group);
  tree.freeze();
  tree.signal("SIGTERM");
  tree.signal("SIGCONT");
  const deadline = Date.now() + options.graceMs;
  while (Date.now() < deadline && tree.alive().length > 0) await sleep(20);
  if (tree.alive().length === 0) return;
  killTreeNow(tree);
  const until = Date.now() + (options.settleMs ?? 1000);
  while (Date.now() < until && tree.alive().length > 0) await sleep(20);
}

/** SIGKILL to a tree at once, synchronously (a parent that is exiting): frozen first, so no child escapes. */
export function killTreeNow(tree: ProcessTree | number, except?: number): void {
  const t = typeof tree === "number" ? new ProcessTree(tree, tree) : tree;
  t.freeze(except);
  t.signal("SIGKILL", except);
}

function sendSignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {} // gone already (ESRCH) or not ours to signal (EPERM): nothing left to stop
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
