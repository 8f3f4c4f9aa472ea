import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { startApi, type TestApi } from "./helpers.js";

// /metrics parsed back, and checked by Prometheus's own linter (promtool, Debian's prometheus).

const TASKS = `
import { task, every } from "fluid-tasks";
export const ok = task({}, async () => "fine");
export const bad = task({ notify: { command: "exit 3" } }, async () => { throw new Error("no"); });
export const often = task({ schedule: every("1h") }, async () => {});
`;

/** Samples of the text format: name{labels} value, as objects. */
function parse(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

describe("GET /metrics", () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(TASKS);
    for (const task of ["ok", "ok", "ok", "bad"]) await api.call(`/api/tasks/${task}/runs?wait=10s`, { method: "POST", auth: true });
  });
  afterAll(async () => {
    await api?.close();
  });

  it("counts runs by task and state, durations, last success, next fire, queue and pool", async () => {
    const res = await api.call("/metrics");
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parse(await res.text());
    const one = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(one("fluid_runs_total", { task: "ok", state: "success" })).toBe(3);
    expect(one("fluid_runs_total", { task: "bad", state: "failure" })).toBe(1);
    expect(one("fluid_runs_total", { task: "often", state: "success" })).toBe(0);
    expect(one("fluid_run_duration_seconds_count", { task: "ok" })).toBe(3);
    expect(one("fluid_run_duration_seconds_bucket", { task: "ok", le: "+Inf" })).toBe(3);
    const lastSuccess = one("fluid_task_last_success_timestamp_seconds", { task: "ok" })!;
    expect(Math.abs(lastSuccess - Date.now() / 1000)).toBeLessThan(60);
    expect(one("fluid_task_last_success_timestamp_seconds", { task: "bad" })).toBeUndefined();
    expect(one("fluid_task_next_fire_timestamp_seconds", { task: "often" })! * 1000).toBeGreaterThan(Date.now());
    expect(one("fluid_task_enabled", { task: "often" })).toBe(1);
    expect(one("fluid_schedule_skipped_fires_total", { task: "often" })).toBe(0);
    expect(one("fluid_queue_runs", { state: "ready" })).toBe(0);
    expect(one("fluid_pool_workers", { state: "busy" })).toBe(0);
    expect(one("fluid_event_loop_lag_seconds", { quantile: "0.99" })).toBeGreaterThanOrEqual(0);
    // The delay past the monitor's 20 ms sampling interval (an idle loop read 0.020 before).
    expect(one("fluid_event_loop_lag_seconds", { quantile: "0.5" })).toBeLessThan(0.02);
    expect(one("fluid_running_runs")).toBe(0);
  });

  it("counts the alerts and their deliveries: bad's command notifier fails, and is counted", async () => {
    let samples: ReturnType<typeof parse> = [];
    const one = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    for (let i = 0; i < 100; i++) {
      samples = parse(await (await api.call("/metrics")).text());
      if (one("fluid_notify_deliveries_total", { notifier: "command", outcome: "failed" }) === 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(one("fluid_notify_alerts_total", { kind: "failure" })).toBe(1);
    expect(one("fluid_notify_deliveries_total", { notifier: "command", outcome: "failed" })).toBe(1);
    expect(one("fluid_notify_deliveries_total", { notifier: "command", outcome: "sent" })).toBe(0);
    expect(one("fluid_notify_dropped_total")).toBe(0);
  });

  it("passes promtool check metrics", async () => {
    const text = await (await api.call("/metrics")).text();
    const result = await execa("promtool", ["check", "metrics"], { input: text, reject: false });
    expect(result.stderr + result.stdout).toBe("");
    expect(result.exitCode).toBe(0);
  });

  it("seeds the last success of each task from the store when it starts", async () => {
    // A server started again on the same daemon's store sees the successes recorded before it.
    const { startHttpServer } = await import("../../src/http/server.js");
    const { daemonView } = await import("../../src/cli/http-view.js");
    const again = await startHttpServer(daemonView(api.d.daemon), { host: "127.0.0.1", port: 0 });
    try {
      const samples = parse(await (await fetch(`${again.url}metrics`)).text());
      expect(samples.find((s) => s.name === "fluid_task_last_success_timestamp_seconds" && s.labels.task === "ok")).toBeDefined();
      // Counters start at zero in a new server: they count what it saw.
      expect(samples.find((s) => s.name === "fluid_runs_total" && s.labels.task === "ok" && s.labels.state === "success")!.value).toBe(0);
    } finally {
      await again.close();
    }
  });
});
