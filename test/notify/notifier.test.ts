import { afterEach, describe, expect, it } from "vitest";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { createNotifier, type Notifier, type NotifierOptions, type NotifyFailure, type RunEnd } from "../../src/notify/notifier.js";
import type { NotifyOptions } from "../../src/task/notify-options.js";
import type { TaskHealth } from "../../src/notify/decide.js";
import { task } from "../../src/task/task.js";
import { useHookServers } from "./hook-server.js";

const startServer = useHookServers();
const notifiers: Notifier[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const n of notifiers.splice(0)) await n.close(1000);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "fluid-notify-"));
  dirs.push(dir);
  return dir;
}

/** A notifier for one task "backup" with these notify settings; failures are collected. */
function notifierFor(notify: NotifyOptions, more: Partial<NotifierOptions> & { retry?: number } = {}): { n: Notifier; failures: NotifyFailure[] } {
  const failures: NotifyFailure[] = [];
  const t = task({ name: "backup", notify, ...(more.retry ? { retry: { attempts: more.retry } } : {}) }, async () => {});
  const n = createNotifier({ task: (name) => (name === "backup" ? t : undefined), onFailure: (f) => failures.push(f), ...more });
  notifiers.push(n);
  return { n, failures };
}

let seq = 0;
/** One attempt of a run: start, some log lines, end. */
function run(n: Notifier, state: RunEnd["state"], o: { final?: boolean; lines?: number; id?: string; attempt?: number; error?: string } = {}): string {
  const runId = o.id ?? `run${++seq}`;
  const attempt = o.attempt ?? 1;
  n.attemptStarted({ task: "backup", runId, attempt, startedAt: 1_000 });
  for (let i = 1; i <= (o.lines ?? 0); i++) n.log({ ts: 1_000 + i, level: i % 2 ? "info" : "stderr", message: `line ${i}`, task: "backup", runId, attempt });
  n.attemptEnded({
    task: "backup", runId, attempt, state, trigger: "schedule", startedAt: 1_000, endedAt: 2_500, final: o.final ?? true,
    ...(state === "success" ? {} : { error: { name: "ExecError", message: o.error ?? "pg_dump exited with code 1" } }),
  });
  return runId;
}

const until = async (check: () => boolean, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("webhook", () => {
  it("POSTs a JSON body with the run, its error and its last log lines", async () => {
    const hook = await startServer();
    const { n } = notifierFor({ webhook: { url: `${hook.url}/fluid`, headers: { authorization: "Bearer t0k" } }, logLines: 3 }, { retry: 2 });
    const id = run(n, "failure", { lines: 5, attempt: 2 });
    const [got] = await hook.waitFor(1);
    expect(got!.method).toBe("POST");
    expect(got!.path).toBe("/fluid");
    expect(got!.headers["content-type"]).toBe("application/json");
    expect(got!.headers.authorization).toBe("Bearer t0k");
    expect(got!.json).toEqual({
      source: "fluid-tasks",
      kind: "failure",
      text: `backup failed on ${hostname()} (attempt 2/2, 1.50s): pg_dump exited with code 1`,
      task: "backup", runId: id, attempt: 2, maxAttempts: 2, trigger: "schedule", state: "failure",
      error: { name: "ExecError", message: "pg_dump exited with code 1" },
      host: hostname(),
      startedAt: new Date(1_000).toISOString(), endedAt: new Date(2_500).toISOString(), durationMs: 1_500,
      failures: 1, failingSince: new Date(2_500).toISOString(),
      logLines: [3, 4, 5].map((i) => ({ ts: new Date(1_000 + i).toISOString(), level: i % 2 ? "info" : "stderr", message: `line ${i}` })),
    });
    await until(() => n.stats().sent.webhook === 1);
  });

  it("tries again after a 500, with backoff, and counts one delivery", async () => {
    const hook = await startServer();
    hook.answer = (i) => (i < 2 ? 500 : 204);
    const { n, failures } = notifierFor({ webhook: { url: hook.url, retryDelay: 20 } });
    run(n, "timeout");
    const got = await hook.waitFor(3);
    expect(got.map((r) => r.json?.kind)).toEqual(["timeout", "timeout", "timeout"]);
    await until(() => n.stats().sent.webhook === 1);
    expect(failures).toEqual([]);
    expect(n.stats().failed.webhook).toBe(0);
  });

  it("gives up after its attempts when the server does not answer in time, and says so once", async () => {
    const hook = await startServer();
    hook.answer = () => "hang";
    const { n, failures } = notifierFor({ webhook: { url: hook.url, timeout: 150, attempts: 2, retryDelay: 10 } });
    const id = run(n, "failure");
    await until(() => failures.length === 1);
    expect(hook.received).toHaveLength(2);
    expect(failures[0]).toEqual({ notifier: "webhook", what: "failure", task: "backup", runId: id, message: `${hook.url}: no answer within 150 ms` });
    expect(n.stats().failed.webhook).toBe(1);
  });

  it("does not retry a 4xx other than 408 and 429", async () => {
    const hook = await startServer();
    hook.answer = () => 404;
    const { n, failures } = notifierFor({ webhook: { url: hook.url, retryDelay: 10 } });
    run(n, "failure");
    await until(() => failures.length === 1);
    expect(failures[0]!.message).toBe(`${hook.url}: HTTP 404 Not Found`);
    expect(hook.received).toHaveLength(1);
  });
});

describe("when alerts are sent", () => {
  it("none on success, one per failure, one on recovery, none on the success after it", async () => {
    const hook = await startServer();
    const { n } = notifierFor({ webhook: hook.url });
    run(n, "success");
    run(n, "failure");
    run(n, "timeout");
    run(n, "success");
    run(n, "success");
    run(n, "aborted");
    run(n, "cancelled");
    const got = await hook.waitFor(3);
    await new Promise((r) => setTimeout(r, 100));
    expect(hook.received.map((r) => [r.json?.kind, r.json?.failures])).toEqual([["failure", 1], ["timeout", 2], ["recovery", 2]]);
    expect(got[2]!.json).toMatchObject({ kind: "recovery", state: "success", error: null, text: expect.stringContaining("backup recovered") });
    expect(n.stats().alerts).toEqual({ failure: 1, timeout: 1, recovery: 1 });
  });

  it("none while a retry is pending: only the last attempt of a run alerts", async () => {
    const hook = await startServer();
    const { n } = notifierFor({ webhook: hook.url }, { retry: 3 });
    run(n, "failure", { id: "r1", attempt: 1, final: false, error: "first" });
    run(n, "failure", { id: "r1", attempt: 2, final: false, error: "second" });
    await new Promise((r) => setTimeout(r, 100));
    expect(hook.received).toHaveLength(0);
    run(n, "failure", { id: "r1", attempt: 3, error: "third" });
    const [got] = await hook.waitFor(1);
    expect(got!.json).toMatchObject({ kind: "failure", runId: "r1", attempt: 3, maxAttempts: 3, error: { message: "third" } });
    // A run that succeeds on a retry after failed attempts is no recovery: the task never failed.
    run(n, "failure", { id: "r2", attempt: 1, final: false });
    run(n, "success", { id: "r2", attempt: 2 });
    run(n, "success", { id: "r3" });
    await new Promise((r) => setTimeout(r, 100));
    expect(hook.received.map((r) => r.json?.kind)).toEqual(["failure", "recovery"]);
  });

  it("sees a recovery from the history the store had before this process (asked once per task)", async () => {
    const hook = await startServer();
    const asked: string[] = [];
    const previous = (t: string, except: string): TaskHealth => {
      asked.push(`${t}/${except}`);
      return { failing: true, failures: 4, since: 42 };
    };
    const { n } = notifierFor({ webhook: hook.url }, { previous });
    run(n, "success", { id: "ok1" });
    run(n, "success", { id: "ok2" });
    const [got] = await hook.waitFor(1);
    expect(got!.json).toMatchObject({ kind: "recovery", runId: "ok1", failures: 4, failingSince: new Date(42).toISOString() });
    expect(asked).toEqual(["backup/ok1"]);
  });

  it("with sharedHealth, asks the (async) health at every end, in order per task: another process's failure between two successes makes the second a recovery", async () => {
    const hook = await startServer();
    const asked: string[] = [];
    // What the fleet's history says before each end: healthy, then a failure another daemon recorded.
    const said: TaskHealth[] = [{ failing: false, failures: 0 }, { failing: true, failures: 1, since: 7 }];
    const previous = async (t: string, except: string): Promise<TaskHealth> => {
      asked.push(`${t}/${except}`);
      await new Promise((r) => setTimeout(r, 20));
      return said[asked.length - 1]!;
    };
    const { n } = notifierFor({ webhook: hook.url }, { previous, sharedHealth: true });
    run(n, "success", { id: "s1" });
    run(n, "success", { id: "s2" });
    const [got] = await hook.waitFor(1);
    expect(got!.json).toMatchObject({ kind: "recovery", runId: "s2", failures: 1 });
    expect(asked).toEqual(["backup/s1", "backup/s2"]);
    await n.close(1000);
    expect(hook.received).toHaveLength(1);
  });

  it("close waits for ends whose health is being read, then sends their alerts", async () => {
    const hook = await startServer();
    const previous = async (): Promise<TaskHealth> => {
      await new Promise((r) => setTimeout(r, 50));
      return { failing: false, failures: 0 };
    };
    const { n } = notifierFor({ webhook: hook.url }, { previous, sharedHealth: true });
    run(n, "failure", { id: "f1" });
    await n.close(2000);
    expect(hook.received.map((r) => r.json?.kind)).toEqual(["failure"]);
  });

  it("sends nothing for a task whose notify is false, and none after close", async () => {
    const hook = await startServer();
    const off = task({ name: "quiet", notify: false }, async () => {});
    const n = createNotifier({ config: () => ({ webhook: [{ url: hook.url, headers: {}, timeoutMs: 1000, attempts: 1, retryDelayMs: 0 }] }), task: () => off });
    notifiers.push(n);
    n.attemptEnded({ task: "quiet", runId: "q", attempt: 1, state: "failure", final: true });
    await n.close(100);
    n.attemptEnded({ task: "other", runId: "o", attempt: 1, state: "failure", final: true });
    expect(hook.received).toHaveLength(0);
    expect(n.stats().alerts.failure).toBe(0);
  });
});

describe("command", () => {
  it("runs with the run's information in FLUID_* variables and the JSON body on stdin", async () => {
    const dir = tempDir();
    const out = join(dir, "env.txt");
    const { n } = notifierFor({ command: `env | grep '^FLUID_' | sort > ${out}.tmp; cat > ${join(dir, "stdin.json")}; mv ${out}.tmp ${out}` });
    const id = run(n, "failure", { lines: 2, error: "disk full; $(touch pwned)" });
    await until(() => existsSync(out));
    const env = Object.fromEntries(readFileSync(out, "utf8").trim().split("\n").filter((l) => /^FLUID_\w+=/.test(l)).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    expect(env).toMatchObject({
      FLUID_KIND: "failure", FLUID_TASK: "backup", FLUID_RUN_ID: id, FLUID_STATE: "failure", FLUID_ATTEMPT: "1", FLUID_MAX_ATTEMPTS: "1",
      FLUID_ERROR: "disk full; $(touch pwned)", FLUID_ERROR_NAME: "ExecError", FLUID_HOST: hostname(), FLUID_DURATION_MS: "1500",
      FLUID_STARTED_AT: new Date(1_000).toISOString(), FLUID_ENDED_AT: new Date(2_500).toISOString(), FLUID_TRIGGER: "schedule",
    });
    expect(env.FLUID_TEXT).toContain("backup failed");
    expect(JSON.parse(readFileSync(join(dir, "stdin.json"), "utf8"))).toMatchObject({ kind: "failure", runId: id });
    expect(existsSync(join(dir, "pwned"))).toBe(false);
    await until(() => n.stats().sent.command === 1);
  });

  it("a command that fails is reported with its exit code and stderr", async () => {
    const { n, failures } = notifierFor({ command: "echo 'no route to pager' >&2; exit 3" });
    run(n, "failure");
    await until(() => failures.length === 1);
    expect(failures[0]).toMatchObject({ notifier: "command", message: "exited with code 3: no route to pager" });
  });

  it("a command over its timeout is killed with its process group", async () => {
    const { n, failures } = notifierFor({ command: { run: "sleep 30 & sleep 30; wait", timeout: 200 } });
    run(n, "failure");
    await until(() => failures.length === 1);
    expect(failures[0]!.message).toBe("did not finish within 200 ms");
  });
});

describe("mailto", () => {
  it("mails through the sendmail found first on PATH: cron's subject, the report and the last log lines", async () => {
    const bin = tempDir();
    const record = join(bin, "mail.txt");
    writeFileSync(join(bin, "sendmail"), `#!/bin/sh\nprintf '%s\\n' "$@" > ${record}.args\ncat > ${record}.tmp\nmv ${record}.tmp ${record}\n`);
    chmodSync(join(bin, "sendmail"), 0o755);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` };
    const { n } = notifierFor({ mailto: "ops@example.com, root" }, { env });
    const id = run(n, "failure", { lines: 3, error: "disk full\nsecond line" });
    await until(() => existsSync(record));
    expect(readFileSync(`${record}.args`, "utf8").trim().split("\n")).toEqual(["-oi", "ops@example.com", "root"]);
    const mail = readFileSync(record, "utf8");
    const [head, body] = [mail.slice(0, mail.indexOf("\n\n")), mail.slice(mail.indexOf("\n\n") + 2)];
    expect(head).toContain("To: ops@example.com, root");
    expect(head).toMatch(new RegExp(`^Subject: fluid <[^@>]+@${hostname()}> backup failed: disk full$`, "m"));
    expect(head).toContain("Auto-Submitted: auto-generated");
    expect(head).toContain(`X-Fluid-Run-Id: ${id}`);
    expect(body).toContain(`run           ${id}`);
    expect(body).toContain("error         ExecError: disk full\nsecond line");
    expect(body).toContain("Last 3 log lines:");
    expect(body).toContain(`${new Date(1_003).toISOString()} info line 3`);
    await until(() => n.stats().sent.mailto === 1);
  });

  it("a missing sendmail is a reported failure, not a crash", async () => {
    const { n, failures } = notifierFor({ mailto: "ops@example.com", sendmail: "/nonexistent/sendmail" });
    run(n, "failure");
    await until(() => failures.length === 1);
    expect(failures[0]).toMatchObject({ notifier: "mailto", message: expect.stringContaining("ENOENT") });
  });
});

describe("healthchecks", () => {
  it("pings start, then success or fail, in order per task, on every run", async () => {
    const hook = await startServer();
    // The first start ping fails once: the success ping after it still waits its turn.
    hook.answer = (i) => (i === 0 ? 500 : 200);
    const { n } = notifierFor({ healthchecks: `${hook.url}/ping/abc` });
    run(n, "success", { lines: 1 });
    run(n, "failure", { lines: 2 });
    run(n, "failure", { final: false });
    const got = await hook.waitFor(6);
    expect(got.map((r) => r.path)).toEqual(["/ping/abc/start", "/ping/abc/start", "/ping/abc", "/ping/abc/start", "/ping/abc/fail", "/ping/abc/start"]);
    expect(got[4]!.body).toContain("backup failed");
    expect(got[4]!.body).toContain("line 2");
    expect(got[2]!.body).toContain("line 1");
  });
});

describe("the queue", () => {
  it("is bounded: beyond it alerts are dropped, counted and reported once; close waits a bounded time", async () => {
    const hook = await startServer();
    hook.answer = () => "hang";
    const { n, failures } = notifierFor({ webhook: { url: hook.url, timeout: "1m", attempts: 1 } }, { concurrency: 1, maxQueued: 2 });
    for (let i = 0; i < 6; i++) run(n, "failure");
    await hook.waitFor(1);
    expect(n.stats()).toMatchObject({ queued: 2, inFlight: 1, dropped: 3 });
    expect(failures.map((f) => f.message)).toEqual(["the alert queue is full: dropped (1 dropped so far)"]);
    const started = Date.now();
    await n.close(200);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(n.stats()).toMatchObject({ queued: 0, inFlight: 0, dropped: 5 });
    // The delivery under way was stopped and said so; the two still waiting were dropped.
    expect(failures.map((f) => f.message)).toEqual([
      "the alert queue is full: dropped (1 dropped so far)",
      `${hook.url}: not delivered before fluid stopped waiting (shutdown or exit)`,
    ]);
    expect(n.stats().failed.webhook).toBe(1);
  });
});
