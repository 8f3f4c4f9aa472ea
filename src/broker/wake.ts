import { watch, type FSWatcher } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { callListener } from "../core/call-listener.js";

/** Options of `watchStore`. */
export interface WatchStoreOptions {
  /**
   * A second call this long after the last change, ms (see `watchStore`). Default 1.
   */
  settleMs?: number;
  /** Called once when the watch breaks (the directory was removed, the watch failed). Default: nothing. */
  onError?: (error: Error) => void;
}

/** A running watch; `close()` is idempotent. */
export interface StoreWatch {
  close(): void;
}

/** The open watches of this process, by resolved store path: `noteOwnCommit` flags them. */
const watches = new Map<string, Set<{ expectOwn: boolean }>>();

/**
 * Tells this process's watches on the store at `path` that the change they hear next is a
 * commit this process has just made (the daemon lease's heartbeat), already published: they
 * report it with `own` = true and without the settle call (see `watchStore`). Call it right
 * after the commit, only when the commit wrote something.
 */
export function noteOwnCommit(path: string): void {
  for (const watch of watches.get(resolve(path)) ?? []) watch.expectOwn = true;
}

/**
 * Calls `onChange` when a process commits to the SQLite store at `path`, so a daemon can sleep
 * instead of polling: a commit in WAL mode writes the `<path>-wal` file, which the kernel reports
 * (inotify on Linux, through `fs.watch` on the store's directory: a watch on the directory
 * survives the WAL file being deleted and made again).
 *
 * Why two calls per burst: the WAL write is reported before the writer has published the commit
 * in the shared-memory index (`-shm`, written through a memory map, which no watch sees), so a
 * reader woken by the first write may not see the commit yet. `onChange` is called at once on
 * the first change and again `settleMs` after the last change of a burst, by which time the
 * commit is published unless the writer was descheduled in between; the caller's slow poll
 * covers that rare case.
 *
 * Our own commits are reported too (a daemon's acks and records): `onChange` must be cheap
 * when nothing new is there (the SQLite broker answers an idle claim from memory).
 *
 * A commit this process announced with `noteOwnCommit` (the lease heartbeat, every few seconds
 * while the daemon idles) is reported once, with `own` = true, and gets no settle call: it was
 * published before the watch heard it, and so was any other process's commit made before it
 * (that writer held the write lock first). The one commit it can hide is another process's
 * made in the instant between ours and the read of the change (the kernel merges two equal
 * change events) and not yet published when `onChange` looks: the next change or the caller's
 * slow poll finds it.
 *
 * Returns undefined when nothing can be watched (":memory:", a platform or file system without
 * change notification, no inotify watches left): the caller then polls.
 */
export function watchStore(path: string, onChange: (own: boolean) => void, options: WatchStoreOptions = {}): StoreWatch | undefined {
  if (path === ":memory:" || path === "") return undefined;
  const settleMs = Math.max(0, options.settleMs ?? 1);
  const names = new Set([`${basename(path)}-wal`, basename(path)]);
  let settle: NodeJS.Timeout | undefined;
  let dirty = false;
  let closed = false;
  const key = resolve(path);
  const entry = { expectOwn: false };
  // A listener that throws must not stop the watch.
  const call = (own = false): void => callListener(onChange, own);
  const onSettle = (): void => {
    settle = undefined;
    call();
    // Changes during the settle time get their own settle call.
    if (dirty && !closed) {
      dirty = false;
      settle = setTimeout(onSettle, settleMs);
    }
  };
  let watcher: FSWatcher;
  try {
    watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
      if (closed || (file !== null && !names.has(String(file)))) return;
      if (entry.expectOwn) {
        entry.expectOwn = false;
        if (settle === undefined) {
          call(true);
          return;
        }
      }
      if (settle !== undefined) {
        dirty = true;
        return;
      }
      call();
      settle = setTimeout(onSettle, settleMs);
    });
  } catch {
    return undefined;
  }
  let set = watches.get(key);
  if (set === undefined) watches.set(key, (set = new Set()));
  set.add(entry);
  const close = (): void => {
    if (closed) return;
    closed = true;
    clearTimeout(settle);
    settle = undefined;
    set.delete(entry);
    if (set.size === 0 && watches.get(key) === set) watches.delete(key);
    watcher.close();
  };
  watcher.on("error", (error: Error) => {
    close();
    options.onError?.(error);
  });
  return { close };
}

/**
 * Calls `fn` after commits to the store at `path` (any process's), at most once every
 * `intervalMs`: a change inside the interval is handled at its end, never dropped. Where the
 * store cannot be watched it calls `fn` every `intervalMs` instead. For state other processes
 * change now and then (a task enabled or disabled), so an idle daemon need not poll for it.
 * Returns the function that stops it.
 */
export function onStoreChange(path: string, fn: () => void, intervalMs: number): () => void {
  let last = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  const run = (): void => {
    timer = undefined;
    last = performance.now();
    callListener(fn); // a throw: the caller keeps its previous state; the next change tries again
  };
  const changed = (): void => {
    if (timer !== undefined) return;
    const wait = last + intervalMs - performance.now();
    // Due already: now, rather than through a timer that would wake the process once more.
    if (wait <= 0) return run();
    timer = setTimeout(run, wait);
    timer.unref();
  };
  let poll: NodeJS.Timeout | undefined;
  const startPolling = (): void => {
    poll = setInterval(run, intervalMs);
    poll.unref();
  };
  const watch = watchStore(path, changed, { onError: startPolling });
  if (watch === undefined) startPolling();
  return () => {
    watch?.close();
    clearTimeout(timer);
    clearInterval(poll);
  };
}
