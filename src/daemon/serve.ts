import { thisHost } from "../core/host.js";
import { resolve } from "node:path";
import type { Broker, QueuedRun } from "../broker/broker.js";
import { resolveDeps } from "../config/deps.js";
import { loadProject, type LoadOptions, type Project } from "../config/load.js";
import { createConsumer, enqueueRecorded, type Consumer, type ConsumerEvent } from "../consumer/consumer.js";
import { newQueuedRun } from "../core/queued-run.js";
import { newRunId } from "../core/run-id.js";
import { ConfigError, StoreError, isFluidError, type FluidError } from "../core/errors.js";
import { createScheduler, type Fire, type SchedulerEvent, type UpcomingFire } from "../schedule/timer.js";
import { isStarterAlive } from "../persistence/pid-alive.js";
import { startPruning } from "../store/maybe-prune.js";
import { openProjectStore } from "../store/project-store.js";
import { openProjectHistory } from "../store/project-history.js";
import { storeReader, type RunReader } from "../store/run-reader.js";
import { withHistory } from "../store/with-history.js";
import { historyOnly } from "../store/history-store.js";
import type { FleetHistory } from "../store/fleet-history.js";
import type { Store } from "../store/store.js";
import type { TaskState } from "../core/run-record.js";
import type { Registry } from "../config/registry.js";
import { cancel as cancelRun, type CancelResult } from "./client.js";
import type { RunLogLine } from "../task/context.js";
import { redactParams, validateParams } from "../task/params.js";
import type { Task } from "../task/task.js";
import { openProjectPool } from "../executor/project-pool.js";
import type { PoolEvent, PoolStats } from "../executor/pool.js";
import { leaseTiming, takeDaemonLease, type DaemonLease, type LeaseTiming } from "./lock.js";
import { openBroker } from "./open-broker.js";
import { onStoreChange } from "../broker/wake.js";
import { pidOneWarning } from "./pid-one.js";
import { createNotifier, type Notifier, type NotifyFailure } from "../notify/notifier.js";
import { previousFleetHealth, previousHealth } from "../notify/previous-health.js";
import { slotRunId } from "../fleet/slot-run-id.js";
import { callListener } from "../core/call-listener.js";
import { openFleetTaskState, type FleetTaskState } from "./fleet-task-state.js";
import { routingPredicate, routingProblems, type Routing } from "./routing.js";

/** Options of `serve`. */
export interface ServeOptions extends LoadOptions {
  /** Most runs at once. Default: the config's `concurrency` (10). */
  concurrency?: number;
  /** How long shutdown waits for running runs before interrupting them, in ms. Default 30000. */
  graceMs?: number;
  /** Where queued runs wait: "sqlite" (durable, in the store file; the default), "memory", or "bullmq" (the fleet backend). */
  broker?: "sqlite" | "memory" | "bullmq";
  /**
   * The fleet backend URL ("redis://host:port/db", "postgres://..."; docs/fleet.md), over the
   * config's `backend` and FLUID_BACKEND_URL. With a backend the broker is "bullmq". Default: the config's.
   */
  backend?: string;
  /** How often to look for runs queued by other processes when the store cannot be watched (see docs/daemon.md), in ms. Default 25; 100 on a fleet backend. */
  pollMs?: number;
  /** Receives everything the daemon does, for the log. */
  onEvent?: (event: DaemonEvent) => void;
  /**
   * Timing of the lease on the store (docs/daemon.md): heartbeat every `heartbeatMs` (default
   * 5000, or FLUID_LEASE_HEARTBEAT_MS of `env`), a lease from another host stale after
   * `staleMs` (default 20000, or FLUID_LEASE_STALE_MS of `env`).
   */
  lease?: Partial<LeaseTiming>;
  /** How long shutdown waits for alerts still being delivered (docs/notify.md), in ms. Default 5000. */
  notifyWaitMs?: number;
  /**
   * Run only these tasks' runs (`fluid serve --tasks a,b --tags heavy`: the named tasks and those
   * with any of the tags; docs/fleet.md, Routing). Runs of other tasks stay queued for other
   * daemons. A name or tag no task has stops the start (a warning after a reload). Default: every task.
   */
  routing?: Routing;
  /** False: this daemon fires no schedule (`fluid serve --no-schedules`, a consumer only). Default true. */
  schedules?: boolean;
  /** Called with the loaded config before anything starts (no lease, no store yet); what it throws stops the start. */
  validate?: (config: Project["config"]) => void;
}

/** What the daemon reports. */
export type DaemonEvent =
  | { type: "started"; summary: DaemonSummary }
  | { type: "run-start"; run: QueuedRun }
  | { type: "run-end"; run: QueuedRun; state: string; durationMs: number; error?: { name: string; message: string }; retryInMs?: number }
  | { type: "log"; line: RunLogLine }
  /** A schedule fired; emitted as its run is queued, before the run can start. */
  | { type: "fire"; fire: Fire; runId: string }
  /** `Daemon.queue` (the HTTP API) queued a run; emitted before the run can start. */
  | { type: "queued"; runId: string; task: string }
  | { type: "fire-skipped"; fire: Fire; reason: string; skipped: number }
  | { type: "scheduler"; event: SchedulerEvent }
  | { type: "recovered"; runs: number; interrupted: number }
  | { type: "reloaded"; tasks: number }
  | { type: "reload-failed"; error: unknown }
  | { type: "stopping"; reason: string; running: number; graceMs: number }
  | { type: "stopped"; finished: number; interrupted: number }
  | { type: "pool"; event: PoolEvent }
  | { type: "notify-failed"; failure: NotifyFailure }
  | { type: "error"; message: string; error?: unknown }
  | { type: "warning"; message: string; hint?: string }
  | { type: "backend"; state: "down" | "up"; message: string; downMs?: number };

/** The start-up summary. */
export interface DaemonSummary {
  configFile: string;
  store: string;
  broker: Broker["kind"];
  /** The fleet backend (its URL without password, and namespace) when the broker is "bullmq". */
  backend?: string;
  concurrency: number;
  tasks: number;
  /** The schedules this daemon fires (none with `schedules: false`). */
  schedules: Array<{ task: string; schedule: string; next: string | null }>;
  pid: number;
  /** The child-process pool of cpu-bound tasks, when the project has any. */
  pool: PoolStats | null;
  /** The tasks this daemon runs, when it is routed (`--tasks`, `--tags`); absent: every task. */
  serves?: string[];
  /** False when this daemon fires no schedule (`--no-schedules`). */
  firesSchedules: boolean;
}

/** The fleet backend as this daemon sees it (its broker reports outages: docs/fleet.md). */
export interface BackendHealth {
  /** The backend's URL without its password, and namespace. */
  url: string;
  state: "up" | "down";
  /** Epoch ms of the last change (the daemon's start while it has always been up). */
  since: number;
  /** What the broker said of the last change. */
  message?: string;
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
  /** Where runs are looked up: the fleet's run history on a backend, else the local store (undefined without one). */
  runs: RunReader | undefined;
  /** Sends the alerts of runs (docs/notify.md); `notifier.stats()` counts them. */
  notifier: Notifier;
  /** When `serve` was called (epoch ms). */
  readonly startedAt: number;
  /** The tasks loaded now (the newest after a reload). */
  registry(): Registry;
  /** The project loaded now: config and tasks (the newest after a reload). */
  project(): Project;
  /** Receives every event, as `onEvent` does (a listener that throws is ignored); returns an unsubscribe. */
  subscribe(listener: (event: DaemonEvent) => void): () => void;
  /** Enabled state of every task ever enabled or disabled, as the scheduler and the consumer see it now. */
  taskStates(): ReadonlyMap<string, TaskState>;
  /**
   * Enables or disables a task (recorded in the store, or on a fleet backend in the backend for
   * every daemon); this daemon's schedules and claims see it at once. Rejects with UnknownTaskError.
   */
  setEnabled(task: string, enabled: boolean, reason?: string): Promise<void>;
  /** Cancels a run by id or unique prefix, as `fluid cancel` does. Throws a StoreError for an unknown run or without a store. */
  cancel(idOrPrefix: string): Promise<CancelResult>;
  /** The next `n` fires over all enabled tasks (see `Scheduler.upcoming`). */
  upcoming(n?: number): UpcomingFire[];
  /** When each task's schedule last fired (epoch ms). */
  lastFires(): ReadonlyMap<string, number>;
  /** The pool's counters now, or null without cpu-bound tasks. */
  poolStats(): PoolStats | null;
  /** The fleet backend now (up, or down since when and why); undefined without a backend. */
  backend(): BackendHealth | undefined;
  /**
   * Resolves when the daemon has stopped; rejects when it stopped on its own because it cannot
   * go on: its lease was taken by another daemon (FLUID_LEASE_LOST) or its store file was
   * deleted or replaced (FLUID_STORE_GONE).
   */
  readonly done: Promise<void>;
}

/**
 * Starts the daemon: loads the project, takes the lease on the store (before migrating it),
 * puts back runs a dead daemon left behind, fires schedules and consumes the queue until
 * `stop()`, or until it loses the lease or its store file (then `done` rejects).
 */
export async function serve(options: ServeOptions = {}): Promise<Daemon> {
  const listeners = new Set<(event: DaemonEvent) => void>();
  const emit = (event: DaemonEvent): void => {
    callListener(options.onEvent, event);
    for (const listener of listeners) callListener(listener, event);
  };
  const startedAt = Date.now();
  let project: Project = await loadProject(options);
  options.validate?.(project.config);
  const [routingProblem] = routingProblems(options.routing, project.registry);
  if (routingProblem) throw routingProblem;
  const serves = routingPredicate(options.routing, () => project.registry);
  const firesSchedules = options.schedules !== false;
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
  // A loss reported before the daemon is built waits here; afterwards it stops the daemon.
  let onLost = (error: FluidError): void => void (lostEarly ??= error);
  let lostEarly: FluidError | undefined;
  /** Why the daemon stopped on its own (lease lost, store gone). */
  let failure: FluidError | undefined;
  try {
    const storeFile = project.config.store && project.config.store.path !== ":memory:" ? resolve(project.config.store.path) : undefined;
    let lease: DaemonLease | undefined;
    if (storeFile !== undefined) {
      // Before the store opens: the lease holder alone migrates the file.
      lease = takeDaemonLease(storeFile, {
        ...leaseTiming(options.env ?? process.env),
        ...options.lease,
        onLost: (error) => onLost(error),
        onError: (message, error) => emit({ type: "error", message, error }),
      });
      releasers.push(() => lease!.release());
    }
    const local = await openProjectStore(project.config);
    if (local) releasers.push(() => local.close());
    const backend = options.backend !== undefined ? { ...project.config.backend, url: options.backend } : project.config.backend;
    const kind = options.broker ?? (backend ? "bullmq" : local && local.path !== ":memory:" ? "sqlite" : "memory");
    if (kind === "bullmq" && !backend) {
      throw new ConfigError("the bullmq broker needs a backend", { hint: "set `backend` in the config, FLUID_BACKEND_URL, or --backend redis://127.0.0.1:6379/0" });
    }
    if (kind === "sqlite" && (!local || local.path === ":memory:")) {
      throw new ConfigError("the SQLite broker needs a store file", { hint: "set store.path in the config, or use --broker memory" });
    }
    /** The fleet's run history, once opened below (on a backend). */
    const fleetRuns: { history?: FleetHistory } = {};
    // Alerts of failed and recovered runs, in the background; shutdown waits for them briefly.
    const notifier = createNotifier({
      config: () => project.config.notify,
      task: (name) => (project.registry.has(name) ? project.registry.get(name) : undefined),
      // On a fleet backend the health is the fleet's, read again at every end: other daemons run the task too.
      ...(kind === "bullmq"
        ? { sharedHealth: true, previous: (task: string, runId: string) => {
          const h = fleetRuns.history;
          return h ? previousFleetHealth(h, task, runId, () => h.flush()) : undefined;
        } }
        : local ? { previous: (task: string, runId: string) => previousHealth(local, task, runId) } : {}),
      onFailure: (failure) => emit({ type: "notify-failed", failure }),
      cwd: project.root,
    });
    releasers.push(() => notifier.close(options.notifyWaitMs ?? 5_000));
    // A fleet backend that goes away: one line when it does, one when it is back (not one per poll).
    let backendDown = false;
    let health: BackendHealth | undefined = backend && kind === "bullmq" ? { url: backendDisplay(backend), state: "up", since: startedAt } : undefined;
    const broker = await openBroker(kind, local?.path, lease?.owner, backend && {
      ...backend, maxAttempts: (name) => (project.registry.has(name) ? (project.registry.get(name).retry?.attempts ?? 1) : 1),
      onStatus: (status) => {
        backendDown = status.state === "down";
        if (health) health = { url: health.url, state: status.state, since: Date.now(), message: status.message };
        emit({ type: "backend", ...status });
      },
    });
    releasers.push(() => broker.close());
    // On a fleet backend every attempt and log line also goes to the fleet's run history (docs/fleet.md),
    // also from a daemon without a local store (store: false): the history lives in the backend.
    const history = kind === "bullmq" ? await openProjectHistory(project.config, {
      // A warning: the backend's outage is already said by the broker's `backend` lines.
      backend, onError: (message) => emit({ type: "warning", message }),
    }) : undefined;
    if (history) releasers.push(() => history.close());
    fleetRuns.history = history;
    const store = history ? (local ? withHistory(local, history) : historyOnly(history)) : local;

    // A daemon that died left claimed runs and `running` rows: put them back and say so. Only
    // runs claimed by someone other than the lease holder (us) go back, and the broker is fenced
    // by our lease: a daemon that lost the lease by now recovers nothing.
    const recovered = await broker.recover();
    const interrupted = store?.markInterrupted({ host: thisHost(), pidAlive: isStarterAlive }) ?? [];
    const previous = lease?.previous?.holder;
    if (store && previous && previous.host !== thisHost()) {
      // The stale lease we took was another host's: its daemon is gone, and so are its attempts.
      interrupted.push(...store.markInterrupted({ host: previous.host, pidAlive: (pid) => pid !== previous.pid }));
    }
    if (recovered.length || interrupted.length) emit({ type: "recovered", runs: recovered.length, interrupted: interrupted.length });

    // On a fleet backend, task state, last fires and fleet-wide limits live in the backend (docs/fleet.md).
    let fleet: FleetTaskState | undefined;
    if (kind === "bullmq") {
      // While the backend is down its failures are that outage, already said once.
      fleet = await openFleetTaskState(backend!, (message, error) => void (backendDown || emit({ type: "error", message, error })));
      releasers.push(() => fleet!.close());
    }
    let states = store?.taskStates() ?? new Map();
    const taskStates = (): ReadonlyMap<string, TaskState> => (fleet ? fleet.states() : states);
    const isEnabled = (task: string): boolean => taskStates().get(task)?.enabled !== false;
    // Read again when another process changes the store (fluid enable/disable), at most once a second.
    if (store && !fleet) releasers.push(onStoreChange(store.path, () => (states = store.taskStates()), 1000));

    const concurrency = options.concurrency ?? project.config.concurrency;
    const graceMs = options.graceMs ?? 30_000;
    const deps = await resolveDeps(project);
    // Closed after the consumer has drained (releasers run in reverse), so no child outlives us.
    const pool = await openProjectPool(project, { onEvent: (event) => emit({ type: "pool", event }) });
    if (pool) releasers.push(() => pool.close(graceMs));
    const consumer = createConsumer({
      registry: project.registry, broker, store, concurrency, deps, isEnabled, ...(pool ? { pool } : {}),
      ...(fleet ? { sharedLimit: fleet.sharedLimit } : {}), ...(serves ? { serves } : {}),
      ...(lease ? { owner: lease.owner } : {}),
      // A fleet backend is polled for other daemons' runs less often: each look is a round trip.
      pollMs: options.pollMs ?? (kind === "bullmq" ? 100 : 25),
      // Woken by other processes' commits to the store, so an idle daemon need not poll.
      ...(kind === "sqlite" && store ? { watch: store.path } : {}),
      // overlap "skip" and "queue" mean one run of the task at a time.
      taskLimit: (task) => (task.schedule && task.overlap !== "allow" ? 1 : Infinity),
      log: (line) => {
        notifier.log(line);
        emit({ type: "log", line });
      },
      onEvent: (e: ConsumerEvent) => {
        if (e.type === "start") {
          notifier.attemptStarted({ task: e.run.task, runId: e.run.id, attempt: e.run.attempt });
          emit({ type: "run-start", run: e.run });
        } else if (e.type === "end") {
          notifier.attemptEnded({ task: e.run.task, runId: e.run.id, attempt: e.run.attempt, trigger: e.run.trigger, state: e.state, durationMs: e.durationMs, ...(e.error ? { error: e.error } : {}), final: e.retryInMs === undefined });
          emit({ type: "run-end", run: e.run, state: e.state, durationMs: e.durationMs, ...(e.error ? { error: e.error } : {}), ...(e.retryInMs !== undefined ? { retryInMs: e.retryInMs } : {}) });
        } else if (isFluidError(e.error) && e.error.code === "FLUID_LEASE_LOST") {
          // The broker's fence saw it first: the heartbeat says who took the lease, once.
          lease?.check();
          if (!failure) onLost(e.error);
        } else if (!(backendDown && /^(claiming runs|taking a slot of \S+ \(its limit is shared by the fleet\)) failed/.test(e.message))) {
          // A claim that fails while the backend is down is that outage, already said once.
          emit({ type: "error", message: e.message, error: e.error });
        }
      },
    });

    const skippedFires = new Map<string, number>();
    const fire = async (f: Fire): Promise<void> => {
      const task = project.registry.has(f.task) ? project.registry.get(f.task) : undefined;
      if (!task) return;
      store?.setLastFire(task.name, f.scheduledAt);
      fleet?.recordFire(task.name, f.scheduledAt);
      lastFireAt.set(task.name, f.scheduledAt);
      // On a fleet backend another daemon's timer may have enqueued this very slot already: that
      // is this fire's run, not an overlap.
      const slot = broker.kind === "bullmq" ? slotRunId(task.name, f.scheduledAt) : undefined;
      if (task.overlap === "skip" && (consumer.runningCount(task.name) > 0 || (await broker.hasPending(task.name, slot)))) {
        const skipped = (skippedFires.get(task.name) ?? 0) + 1;
        skippedFires.set(task.name, skipped);
        const reason = "a run of the task was still queued or running (overlap: skip)";
        // Recorded as a cancelled run, so `fluid history` answers "why did it not run at 03:00?".
        const now = Date.now();
        store?.writeAttempt({
          id: newRunId(), attempt: 1, maxAttempts: task.retry?.attempts ?? 1, task: task.name, state: "cancelled", trigger: "schedule",
          params: redactParams(task.params, task.schedule?.params ?? {}), queuedAt: f.scheduledAt, endedAt: now, durationMs: 0,
          error: { name: "FireSkipped", code: "FLUID_SKIPPED", message: `fire skipped: ${reason}` }, host: thisHost(), pid: process.pid,
        });
        emit({ type: "fire-skipped", fire: f, reason, skipped });
        return;
      }
      await queueRun(task, task.schedule?.params ?? {}, "schedule", (runId) => emit({ type: "fire", fire: f, runId }), f.scheduledAt);
    };
    /** `announce` is told the run's id before the enqueue: the consumer may start the run before the enqueue's promise settles, and "queued" must come before "start". */
    const queueRun = async (task: Task, params: Record<string, unknown>, trigger: "schedule" | "queue", announce: (runId: string) => void, scheduledAt?: number): Promise<string> => {
      // On a fleet backend every daemon's timer enqueues the slot under the same id: one run results.
      const slotId = scheduledAt !== undefined && broker.kind === "bullmq" ? { id: slotRunId(task.name, scheduledAt) } : {};
      const run = newQueuedRun(task, params, { trigger, ...slotId, ...(scheduledAt !== undefined ? { scheduledAt } : {}) });
      announce(run.id);
      await enqueueRecorded(broker, store, task, run);
      return run.id;
    };

    // Routing does not change which schedules fire: on a backend each slot is one run whoever
    // fires it (slotRunId), so every daemon with schedules on fires all of them; --no-schedules none.
    const entries = (p: Project) =>
      p.registry.list().filter((t) => t.schedule && firesSchedules).map((t) => ({ task: t.name, schedule: t.schedule!, catchUp: t.catchUp }));
    const lastFireAt = new Map<string, number>(store?.lastFires() ?? []);
    // The fleet's last fires: a daemon new to a machine does not catch up slots other daemons fired.
    for (const [task, at] of fleet?.lastFires ?? []) lastFireAt.set(task, Math.max(at, lastFireAt.get(task) ?? -Infinity));
    const inFlight = new Set<Promise<void>>();
    const scheduler = createScheduler({
      entries: entries(project),
      lastFires: new Map(lastFireAt),
      isEnabled,
      onFire: (f) => {
        // Tracked so that stop() lets a fire under way enqueue before the broker closes.
        const firing = fire(f).catch((error: unknown) => emit({ type: "error", message: `firing ${f.task} failed: ${(error as Error).message}`, error }));
        inFlight.add(firing);
        void firing.finally(() => inFlight.delete(firing));
      },
      onEvent: (event) => emit({ type: "scheduler", event }),
    });

    const summary: DaemonSummary = {
      configFile: project.configFile,
      store: local?.path ?? "(none)",
      broker: broker.kind,
      ...(backend && broker.kind === "bullmq" ? { backend: backendDisplay(backend) } : {}),
      concurrency,
      tasks: project.registry.size,
      schedules: project.registry.list().filter((t) => t.schedule && firesSchedules).map((t) => {
        const next = t.schedule!.next(new Date());
        return { task: t.name, schedule: t.schedule!.describe(), next: next ? next.toISOString() : null };
      }),
      pid: process.pid,
      pool: pool ? pool.stats() : null,
      ...(serves ? { serves: project.registry.list().map((t) => t.name).filter(serves) } : {}),
      firesSchedules,
    };

    let stopping: Promise<void> | undefined;
    let resolveDone!: () => void;
    let rejectDone!: (error: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      resolveDone = resolve;
      rejectDone = reject;
    });
    done.catch(() => {}); // a caller that only awaits stop() must not see an unhandled rejection

    consumer.start();
    scheduler.start();
    emit({ type: "started", summary });
    const asPidOne = pidOneWarning(process.pid);
    if (asPidOne) emit({ type: "warning", ...asPidOne });
    // Retention: in the background, never before "started": a second after it, then hourly, one small transaction per turn.
    if (local && store) releasers.push(startPruning(store, { onError: (error) => emit({ type: "error", message: `pruning old runs failed: ${(error as Error).message}`, error }) }));
    // The fleet's history: one daemon of the fleet an hour (the turn is taken in the backend), a minute after start.
    if (history) releasers.push(history.startPruning());

    const daemon: Daemon = {
      summary,
      consumer,
      broker,
      store,
      runs: history ?? (local ? storeReader(local) : undefined),
      notifier,
      done,
      stop(reason = "stop requested") {
        stopping ??= (async () => {
          scheduler.stop();
          // Runs of a daemon that lost its lease belong to the new holder now: stop them at once.
          const grace = failure?.code === "FLUID_LEASE_LOST" ? 0 : graceMs;
          emit({ type: "stopping", reason, running: consumer.running().length, graceMs: grace });
          // Fires under way enqueue before the broker closes; at most 2 s (a backend that is down
          // must not hold the shutdown), none after a lost lease (their enqueue would be refused).
          if (grace > 0 && inFlight.size > 0) {
            let bound: NodeJS.Timeout | undefined;
            await Promise.race([Promise.all(inFlight), new Promise((r) => (bound = setTimeout(r, 2000)))]);
            clearTimeout(bound);
          }
          const result = await consumer.drain(grace);
          emit({ type: "stopped", ...result });
          await release();
          if (failure) rejectDone(failure);
          else resolveDone();
        })();
        return stopping;
      },
      async reload() {
        try {
          project = await loadProject(options);
          consumer.setRegistry(project.registry);
          pool?.reload(); // workers load the new code once their current run ends
          scheduler.replace(entries(project));
          if (serves) summary.serves = project.registry.list().map((t) => t.name).filter(serves);
          // The daemon goes on with the routing it was started with; a name the new code lost is said, not fatal.
          for (const problem of routingProblems(options.routing, project.registry)) emit({ type: "warning", message: problem.message, ...(problem.hint ? { hint: problem.hint } : {}) });
          emit({ type: "reloaded", tasks: project.registry.size });
        } catch (error) {
          emit({ type: "reload-failed", error });
        }
      },
      async queue(taskName, params = {}) {
        const task = project.registry.get(taskName);
        return queueRun(task, validateParams(task.name, task.params, params), "queue", (runId) => emit({ type: "queued", runId, task: task.name }));
      },
      startedAt,
      registry: () => project.registry,
      project: () => project,
      subscribe(listener) {
        listeners.add(listener);
        return () => void listeners.delete(listener);
      },
      taskStates,
      async setEnabled(taskName, enabled, reason) {
        const task = project.registry.get(taskName);
        if (fleet) {
          await fleet.setEnabled(task.name, enabled, reason);
        } else if (store) {
          store.setTaskEnabled(task.name, enabled, reason);
          states = store.taskStates();
        } else {
          states = new Map(states).set(task.name, { enabled, ...(reason ? { reason } : {}), changedAt: Date.now() });
        }
      },
      async cancel(idOrPrefix) {
        if (!store) throw new StoreError("this daemon records no runs (store: false), so it cannot look a run up to cancel it");
        return cancelRun({ project, store, broker, runs: history ?? storeReader(store) }, idOrPrefix);
      },
      upcoming: (n) => scheduler.upcoming(n),
      lastFires: () => lastFireAt,
      poolStats: () => (pool ? pool.stats() : null),
      backend: () => health,
    };
    const fail = (error: FluidError): void => {
      if (failure || stopping) return;
      failure = error;
      emit({ type: "error", message: error.message, error });
      if (error.code === "FLUID_STORE_GONE") emit({ type: "error", message: lostRuns(store, consumer), error });
      void daemon.stop(error.code === "FLUID_LEASE_LOST" ? "the lease on the store was lost" : "the store file is gone");
    };
    onLost = fail;
    if (lostEarly) fail(lostEarly);
    return daemon;
  } catch (error) {
    await release();
    throw error;
  }
}

/** What a deleted store took with it, by run id, so no run is lost without a word. */
function lostRuns(store: Store | undefined, consumer: Consumer): string {
  let queued: string[] = [];
  try {
    queued = store?.listRuns({ state: "queued", limit: Infinity }).map((r) => r.id) ?? [];
  } catch {} // the file is gone, so its queued runs cannot be listed: the message says none
  const running = consumer.running().map((r) => r.run.id);
  const list = (ids: string[]): string => (ids.length > 20 ? `${ids.slice(0, 20).join(" ")} and ${ids.length - 20} more` : ids.join(" ") || "none");
  return `the old store file held ${queued.length} queued run(s) (${list(queued)}), lost with it, and ${running.length} running here (${list(running)}), whose outcome is only in this log; queue them again if they must run`;
}

/** A backend for the start-up summary: the URL without its password, and the namespace. */
function backendDisplay(backend: { url: string; prefix?: string }): string {
  const url = backend.url.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/i, "$1***@");
  return backend.prefix ? `${url}, prefix ${backend.prefix}` : url;
}
