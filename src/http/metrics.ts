import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import type { DaemonView, ViewEvent } from "./view.js";

/** Upper bounds (seconds) of the run duration histogram's buckets. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

/** How often the event-loop monitor samples, ms (50 samples a second: enough for a p99, cheap). */
const LAG_RESOLUTION_MS = 20;

/**
 * An event-loop delay in seconds from a value of Node's monitor (ns). The monitor records the
 * whole time between two of its timer's wakes, sampling interval included (an idle loop reads
 * ~20 ms): the delay is what exceeds the interval.
 */
export function lagSeconds(ns: number, resolutionMs = LAG_RESOLUTION_MS): number {
  return Math.max(0, ns / 1e6 - resolutionMs) / 1000;
}

/** Event-loop delay percentiles of the last complete window, seconds. */
interface LagWindow {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Options of `Metrics`. */
export interface MetricsOptions {
  /** The clock, epoch ms. Default Date.now. */
  now?: () => number;
  /**
   * Event-loop delay percentiles are over windows of this length, ms.
   * @default 10000
   */
  lagWindowMs?: number;
}

/**
 * The daemon's Prometheus metrics. Counters live in memory, fed by the daemon's events; a
 * scrape never scans the runs table: it reads the queue counts (the broker's small queue
 * table), the pool's and scheduler's state, and these counters. The last success of each task
 * is seeded once from the store (one indexed query per task), so it survives a restart.
 */
export class Metrics {
  private readonly runs = new Map<string, Map<string, number>>();
  private readonly durations = new Map<string, Histogram>();
  private readonly skipped = new Map<string, number>();
  private readonly lastSuccess = new Map<string, number>();
  private readonly lag: IntervalHistogram;
  private lagWindow: LagWindow = { p50: 0, p90: 0, p99: 0, max: 0 };
  private lagTotal = { sum: 0, count: 0 };
  private readonly lagTimer: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(private readonly view: DaemonView, options: MetricsOptions = {}) {
    this.now = options.now ?? Date.now;
    this.lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
    this.lag.enable();
    this.lagTimer = setInterval(() => this.rollLag(), options.lagWindowMs ?? 10_000).unref();
    this.seed();
  }

  /** Last success per task from the store, once. */
  private seed(): void {
    const store = this.view.store;
    if (!store) return;
    for (const task of this.view.tasks()) {
      try {
        const at = store.lastSuccessAt(task.name);
        if (at !== undefined) this.lastSuccess.set(task.name, at);
      } catch {
        return; // an unreadable store: readiness says so; metrics start empty
      }
    }
  }

  /** Counts what an event says. */
  observe(event: ViewEvent): void {
    if (event.type === "run-end") {
      const task = event.run.task;
      let states = this.runs.get(task);
      if (!states) this.runs.set(task, (states = new Map()));
      states.set(event.state, (states.get(event.state) ?? 0) + 1);
      let h = this.durations.get(task);
      if (!h) this.durations.set(task, (h = { counts: DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 }));
      const seconds = event.durationMs / 1000;
      for (let i = 0; i < DURATION_BUCKETS.length; i++) if (seconds <= DURATION_BUCKETS[i]!) h.counts[i]!++;
      h.sum += seconds;
      h.count++;
      if (event.state === "success") this.lastSuccess.set(task, this.now());
    } else if (event.type === "fire-skipped") {
      this.skipped.set(event.fire.task, (this.skipped.get(event.fire.task) ?? 0) + 1);
    }
  }

  /** Event-loop delay p99 of the last window, ms. */
  lagP99Ms(): number {
    const h = this.lag;
    return (this.lagTotal.count === 0 && h.count > 0 ? lagSeconds(h.percentile(99)) : this.lagWindow.p99) * 1000;
  }

  private rollLag(): void {
    const h = this.lag;
    if (h.count > 0) {
      this.lagWindow = lagWindowOf(h);
      this.lagTotal.sum += lagSeconds(h.mean) * h.count;
      this.lagTotal.count += h.count;
    }
    h.reset();
  }

  /** Stops the event-loop monitor. */
  close(): void {
    clearInterval(this.lagTimer);
    this.lag.disable();
  }

  /** The Prometheus text exposition (format 0.0.4). */
  async render(extra: { sseClients: number }): Promise<string> {
    const out: string[] = [];
    const now = this.now();
    const family = (name: string, type: string, help: string): void => void out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    const tasks = this.view.tasks();
    const states = this.view.taskStates();

    family("fluid_daemon_start_time_seconds", "gauge", "When the daemon started, seconds since the epoch.");
    out.push(`fluid_daemon_start_time_seconds ${this.view.facts.startedAt / 1000}`);

    family("fluid_runs_total", "counter", "Attempts that ended since the daemon started, by task and final state.");
    for (const task of tasks) {
      const byState = this.runs.get(task.name);
      const seen = new Set(["success", "failure"]);
      if (byState) for (const s of byState.keys()) seen.add(s);
      for (const s of seen) out.push(`fluid_runs_total{task="${label(task.name)}",state="${label(s)}"} ${byState?.get(s) ?? 0}`);
    }

    family("fluid_run_duration_seconds", "histogram", "How long attempts ran, by task.");
    for (const [task, h] of this.durations) {
      const t = label(task);
      for (let i = 0; i < DURATION_BUCKETS.length; i++) out.push(`fluid_run_duration_seconds_bucket{task="${t}",le="${DURATION_BUCKETS[i]}"} ${h.counts[i]}`);
      out.push(`fluid_run_duration_seconds_bucket{task="${t}",le="+Inf"} ${h.count}`, `fluid_run_duration_seconds_sum{task="${t}"} ${h.sum}`, `fluid_run_duration_seconds_count{task="${t}"} ${h.count}`);
    }

    family("fluid_task_last_success_timestamp_seconds", "gauge", "When the last successful run of the task ended, seconds since the epoch.");
    for (const task of tasks) {
      const at = this.lastSuccess.get(task.name);
      if (at !== undefined) out.push(`fluid_task_last_success_timestamp_seconds{task="${label(task.name)}"} ${at / 1000}`);
    }

    family("fluid_task_next_fire_timestamp_seconds", "gauge", "When the task's schedule fires next, seconds since the epoch (enabled scheduled tasks).");
    const at = new Date(now);
    for (const task of tasks) {
      if (!task.schedule || states.get(task.name)?.enabled === false) continue;
      const next = task.schedule.next(at);
      if (next) out.push(`fluid_task_next_fire_timestamp_seconds{task="${label(task.name)}"} ${next.getTime() / 1000}`);
    }

    family("fluid_task_enabled", "gauge", "1 when the task is enabled, 0 when disabled.");
    for (const task of tasks) out.push(`fluid_task_enabled{task="${label(task.name)}"} ${states.get(task.name)?.enabled === false ? 0 : 1}`);

    family("fluid_schedule_skipped_fires_total", "counter", "Schedule fires skipped since the daemon started (overlap: skip), by task.");
    for (const task of tasks) if (task.schedule) out.push(`fluid_schedule_skipped_fires_total{task="${label(task.name)}"} ${this.skipped.get(task.name) ?? 0}`);

    family("fluid_queue_runs", "gauge", "Runs in the queue: ready to run, delayed (retry backoff), claimed by a consumer.");
    try {
      const q = await this.view.queueCounts();
      out.push(`fluid_queue_runs{state="ready"} ${q.ready}`, `fluid_queue_runs{state="delayed"} ${q.delayed}`, `fluid_queue_runs{state="claimed"} ${q.claimed}`);
    } catch {
      // The backend is unreachable: /readyz says so; the series are absent meanwhile.
    }

    family("fluid_running_runs", "gauge", "Runs executing now in this daemon.");
    out.push(`fluid_running_runs ${this.view.running().length}`);

    const pool = this.view.poolStats();
    family("fluid_pool_workers", "gauge", "Child processes of cpu-bound tasks, by state.");
    out.push(`fluid_pool_workers{state="busy"} ${pool?.busy ?? 0}`, `fluid_pool_workers{state="idle"} ${pool?.idle ?? 0}`, `fluid_pool_workers{state="starting"} ${pool?.starting ?? 0}`);
    family("fluid_pool_waiting_runs", "gauge", "Cpu-bound runs waiting for a worker.");
    out.push(`fluid_pool_waiting_runs ${pool?.queued ?? 0}`);
    family("fluid_pool_worker_exits_total", "counter", "Worker processes that ended, by reason, since the daemon started.");
    for (const reason of ["recycled", "reaped", "crashed", "killed"] as const) out.push(`fluid_pool_worker_exits_total{reason="${reason}"} ${pool?.[reason] ?? 0}`);

    const notify = this.view.notifyStats?.();
    if (notify) {
      family("fluid_notify_alerts_total", "counter", "Alerts decided since the daemon started (each goes to every notifier of its task), by kind.");
      for (const [kind, n] of Object.entries(notify.alerts)) out.push(`fluid_notify_alerts_total{kind="${label(kind)}"} ${n}`);
      family("fluid_notify_deliveries_total", "counter", "Alert deliveries since the daemon started, by notifier and outcome (failed: for good, after its retries).");
      for (const [notifier, n] of Object.entries(notify.sent)) out.push(`fluid_notify_deliveries_total{notifier="${label(notifier)}",outcome="sent"} ${n}`);
      for (const [notifier, n] of Object.entries(notify.failed)) out.push(`fluid_notify_deliveries_total{notifier="${label(notifier)}",outcome="failed"} ${n}`);
      family("fluid_notify_dropped_total", "counter", "Alert deliveries dropped (queue full, or still waiting at shutdown) since the daemon started.");
      out.push(`fluid_notify_dropped_total ${notify.dropped}`);
    }

    family("fluid_event_loop_lag_seconds", "summary", "Event-loop delay of the daemon (perf_hooks), percentiles of the last 10 s window.");
    // Before the first window is complete, what the monitor has seen so far.
    const h = this.lag;
    const w = this.lagTotal.count === 0 && h.count > 0 ? lagWindowOf(h) : this.lagWindow;
    out.push(
      `fluid_event_loop_lag_seconds{quantile="0.5"} ${w.p50}`, `fluid_event_loop_lag_seconds{quantile="0.9"} ${w.p90}`,
      `fluid_event_loop_lag_seconds{quantile="0.99"} ${w.p99}`, `fluid_event_loop_lag_seconds_sum ${this.lagTotal.sum}`,
      `fluid_event_loop_lag_seconds_count ${this.lagTotal.count}`,
    );
    family("fluid_event_loop_lag_max_seconds", "gauge", "Longest event-loop delay of the last 10 s window.");
    out.push(`fluid_event_loop_lag_max_seconds ${w.max}`);

    family("fluid_http_sse_clients", "gauge", "Open event streams (dashboards) of the HTTP API.");
    out.push(`fluid_http_sse_clients ${extra.sseClients}`);
    return out.join("\n") + "\n";
  }
}

/** The delay percentiles the monitor `h` has seen, seconds. */
function lagWindowOf(h: IntervalHistogram): LagWindow {
  return { p50: lagSeconds(h.percentile(50)), p90: lagSeconds(h.percentile(90)), p99: lagSeconds(h.percentile(99)), max: lagSeconds(h.max) };
}

/** A label value escaped for the text format. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
