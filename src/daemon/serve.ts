import { hostname } from "node:os";
import type { Broker, QueuedRun } from "../broker/broker.js";
import { resolveDeps } from "../config/deps.js";
import { loadProject, type LoadOptions, type Project } from "../config/load.js";
import { createConsumer, enqueueRecorded, newQueuedRun, type Consumer, type ConsumerEvent } from "../consumer/consumer.js";
import { newRunId } from "../consumer/run-id.js";
import { ConfigError } from "../errors.js";
import { createScheduler, type Fire, type SchedulerEvent } from "../schedule/timer.js";
import { isPidAlive } from "../store/pid-alive.js";
import { maybePrune, PRUNE_EVERY_MS } from "../store/maybe-prune.js";
import { openProjectStore } from "../store/project-store.js";
import type { Store } from "../store/store.js";
import type { RunLogLine } from "../task/context.js";
import { redactParams, validateParams } from "../task/params.js";
import type { Task } from "../task/task.js";
import { openProjectPool } from "../executor/project-pool.js";
import type { PoolEvent, PoolStats } from "../executor/pool.js";
import { acquireDaemonLock } from "./lock.js";
import { openBroker } from "./open-broker.js";
import { onStoreChange } from "../broker/wake.js";

/** Options of `serve`. */
export interface ServeOptions extends LoadOptions {
  /** Most runs at once. Default: the config's `concurrency` (10). */
  concurrency?: number;
  /** How long shutdown waits for running runs before interrupting them, in ms. Default 30000. */
  graceMs?: number;
  /** Where queued runs wait: "sqlite" (durable, in the store file; the default) or "memory". */
  broker?: "sqlite" | "memory";
  /** How often to look for runs queued by other processes when the store cannot be watched (see docs/daemon.md), in ms. Default 25. */
  pollMs?: number;
  /** Receives everything the daemon does, for the log. */
  onEvent?: (event: DaemonEvent) => void;
}

/** What the daemon reports. */
export type DaemonEvent =
  | { type: "started"; summary: DaemonSummary }
  | { type: "run-start"; run: QueuedRun }
  | { type: "run-end"; run: QueuedRun; state: string; durationMs: number; error?: { name: string; message: string }; retryInMs?: number }
  | { type: "log"; line: RunLogLine }
  | { type: "fire"; fire: Fire; runId: string }
  | { type: "fire-skipped"; fire: Fire; reason: string; skipped: number }
  | { type: "scheduler"; event: SchedulerEvent }
  | { type: "recovered"; runs: number; interrupted: number }
  | { type: "reloaded"; tasks: number }
  | { type: "reload-failed"; error: unknown }
  | { type: "stopping"; reason: string; running: number; graceMs: number }
  | { type: "stopped"; finished: number; interrupted: number }
  | { type: "pool"; event: PoolEvent }
  | { type: "error"; message: string; error?: unknown };

/** The start-up summary. */
export interface DaemonSummary {
  configFile: string;
  store: string;
  broker: Broker["kind"];
  concurrency: number;
  tasks: number;
  schedules: Array<{ task: string; schedule: string; next: string | null }>;
  pid: number;
  /** The child-process pool of cpu-bound tasks, when the project has any. */
  pool: PoolStats | null;
}

/** A running daemon. */
export interface Daemon {
  readonly summary: DaemonSummary;
  /** Graceful stop: no more fires or claims, running runs get the grace period. Resolves when done. */
  stop(reason?: string): Promise<void>;
  /** Loads the config and task modules again; running runs keep their code. */
  reload(): Promise<void>;
  /** Queues a run of a task (as `fluid queue` does) and returns its id. */
  queue(task: string, params?: Record<string, unknown>): Promise<string>;
  consumer: Consumer;
  broker: Broker;
  store: Store | undefined;
  /** Resolves when the daemon has stopped. */
  readonly done: Promise<void>;
}

/**
 * Starts the daemon: loads the project, takes the store lock, puts back runs a dead daemon
 * left behind, fires schedules and consumes the queue until `stop()`.
 */
export async function serve(options: ServeOptions = {}): Promise<Daemon> {
  const emit = (event: DaemonEvent): void => {
    try {
      options.onEvent?.(event);
    } catch {}
  };
  let project: Project = await loadProject(options);
  const releasers: Array<() => void | Promise<void>> = [];
  const release = async (): Promise<void> => {
    // Reverse order of acquisition.
    for (const fn of releasers.reverse().splice(0)) {
      try {
        await fn();
      } catch (error) {
        emit({ type: "error", message: `shutdown step failed: ${(error as Error).message}`, error });
      }
    }
  };
  try {
    const store = await openProjectStore(project.config);
    if (store) releasers.push(() => store.close());
    if (store && store.path !== ":memory:") releasers.push(acquireDaemonLock(store.path));
    const kind = options.broker ?? (store && store.path !== ":memory:" ? "sqlite" : "memory");
    if (kind === "sqlite" && (!store || store.path === ":memory:")) {
      throw new ConfigError("the SQLite broker needs a store file", { hint: "set store.path in the config, or use --broker memory" });
    }
    const broker = await openBroker(kind, store?.path);
    releasers.push(() => broker.close());

    // A daemon that died left claimed runs and `running` rows: put them back and say so.
    const recovered = await broker.recover();
    const interrupted = store?.markInterrupted({ host: hostname(), pidAlive: isPidAlive }) ?? [];
    if (recovered.length || interrupted.length) emit({ type: "recovered", runs: recovered.length, interrupted: interrupted.length });

    let states = store?.taskStates() ?? new Map();
    const isEnabled = (task: string): boolean => states.get(task)?.enabled !== false;
    // Read again when another process changes the store (fluid enable/disable), at most once a second.
    if (store) releasers.push(onStoreChange(store.path, () => (states = store.taskStates()), 1000));

    if (store) {
      // Retention: now and every hour, in small transactions that never block runs for long.
      const prune = (): void => void maybePrune(store, (error) => emit({ type: "error", message: `pruning old runs failed: ${(error as Error).message}`, error }));
      prune();
      const pruner = setInterval(prune, PRUNE_EVERY_MS);
      pruner.unref();
      releasers.push(() => clearInterval(pruner));
    }

    const concurrency = options.concurrency ?? project.config.concurrency;
    const graceMs = options.graceMs ?? 30_000;
    const deps = await resolveDeps(project);
    // Closed after the consumer has drained (releasers run in reverse), so no child outlives us.
    const pool = await openProjectPool(project, { onEvent: (event) => emit({ type: "pool", event }) });
    if (pool) releasers.push(() => pool.close(graceMs));
    const consumer = createConsumer({
      registry: project.registry, broker, store, concurrency, deps, isEnabled, ...(pool ? { pool } : {}),
      pollMs: options.pollMs ?? 25,
      // Woken by other processes' commits to the store, so an idle daemon need not poll.
      ...(kind === "sqlite" && store ? { watch: store.path } : {}),
      // overlap "skip" and "queue" mean one run of the task at a time.
      taskLimit: (task) => (task.schedule && task.overlap !== "allow" ? 1 : Infinity),
      log: (line) => emit({ type: "log", line }),
      onEvent: (e: ConsumerEvent) => {
        if (e.type === "start") emit({ type: "run-start", run: e.run });
        else if (e.type === "end") emit({ type: "run-end", run: e.run, state: e.state, durationMs: e.durationMs, ...(e.error ? { error: e.error } : {}), ...(e.retryInMs !== undefined ? { retryInMs: e.retryInMs } : {}) });
        else emit({ type: "error", message: e.message, error: e.error });
      },
    });

    const skippedFires = new Map<string, number>();
    const fire = async (f: Fire): Promise<void> => {
      const task = project.registry.has(f.task) ? project.registry.get(f.task) : undefined;
      if (!task) return;
      store?.setLastFire(task.name, f.scheduledAt);
      if (task.overlap === "skip" && (consumer.runningCount(task.name) > 0 || (await broker.hasPending(task.name)))) {
        const skipped = (skippedFires.get(task.name) ?? 0) + 1;
        skippedFires.set(task.name, skipped);
        const reason = "a run of the task was still queued or running (overlap: skip)";
        // Recorded as a cancelled run, so `fluid history` answers "why did it not run at 03:00?".
        const now = Date.now();
        store?.writeAttempt({
          id: newRunId(), attempt: 1, maxAttempts: task.retry?.attempts ?? 1, task: task.name, state: "cancelled", trigger: "schedule",
          params: redactParams(task.params, task.schedule?.params ?? {}), queuedAt: f.scheduledAt, endedAt: now, durationMs: 0,
          error: { name: "FireSkipped", code: "FLUID_SKIPPED", message: `fire skipped: ${reason}` }, host: hostname(), pid: process.pid,
        });
        emit({ type: "fire-skipped", fire: f, reason, skipped });
        return;
      }
      const id = await queueRun(task, task.schedule?.params ?? {}, "schedule", f.scheduledAt);
      emit({ type: "fire", fire: f, runId: id });
    };
    const queueRun = async (task: Task, params: Record<string, unknown>, trigger: "schedule" | "queue", scheduledAt?: number): Promise<string> => {
      const run = newQueuedRun(task, params, { trigger, ...(scheduledAt !== undefined ? { scheduledAt } : {}) });
      await enqueueRecorded(broker, store, task, run);
      return run.id;
    };

    const entries = (p: Project) =>
      p.registry.list().filter((t) => t.schedule).map((t) => ({ task: t.name, schedule: t.schedule!, catchUp: t.catchUp }));
    const scheduler = createScheduler({
      entries: entries(project),
      lastFires: store?.lastFires() ?? new Map(),
      isEnabled,
      onFire: (f) => void fire(f).catch((error: unknown) => emit({ type: "error", message: `firing ${f.task} failed: ${(error as Error).message}`, error })),
      onEvent: (event) => emit({ type: "scheduler", event }),
    });

    const summary: DaemonSummary = {
      configFile: project.configFile,
      store: store?.path ?? "(none)",
      broker: broker.kind,
      concurrency,
      tasks: project.registry.size,
      schedules: project.registry.list().filter((t) => t.schedule).map((t) => {
        const next = t.schedule!.next(new Date());
        return { task: t.name, schedule: t.schedule!.describe(), next: next ? next.toISOString() : null };
      }),
      pid: process.pid,
      pool: pool ? pool.stats() : null,
    };

    let stopping: Promise<void> | undefined;
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));

    consumer.start();
    scheduler.start();
    emit({ type: "started", summary });

    const daemon: Daemon = {
      summary,
      consumer,
      broker,
      store,
      done,
      stop(reason = "stop requested") {
        stopping ??= (async () => {
          scheduler.stop();
          emit({ type: "stopping", reason, running: consumer.running().length, graceMs });
          const result = await consumer.drain(graceMs);
          emit({ type: "stopped", ...result });
          await release();
          resolveDone();
        })();
        return stopping;
      },
      async reload() {
        try {
          project = await loadProject(options);
          consumer.setRegistry(project.registry);
          pool?.reload(); // workers load the new code once their current run ends
          scheduler.replace(entries(project));
          emit({ type: "reloaded", tasks: project.registry.size });
        } catch (error) {
          emit({ type: "reload-failed", error });
        }
      },
      async queue(taskName, params = {}) {
        const task = project.registry.get(taskName);
        return queueRun(task, validateParams(task.name, task.params, params), "queue");
      },
    };
    return daemon;
  } catch (error) {
    await release();
    throw error;
  }
}
