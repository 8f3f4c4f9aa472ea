import type { z as Z } from "zod";
import { httpZod } from "./zod.js";

const STATES = ["queued", "running", "success", "failure", "aborted", "timeout", "cancelled", "rate_limited", "interrupted"] as const;

/**
 * The zod schemas of the API: request queries and bodies (validated with them) and responses
 * (the OpenAPI document is generated from them, and the contract tests check responses against
 * that document). Built once, from the zod the project's tasks use.
 */
function build(z: typeof Z) {
  const reg = z.registry<{ id: string; description?: string }>();
  const named = <T extends Z.ZodType>(id: string, schema: T, description?: string): T => {
    reg.add(schema, { id, ...(description ? { description } : {}) });
    return schema;
  };
  const epochMs = z.number().int().describe("epoch milliseconds");
  const RunState = named("RunState", z.enum(STATES));
  const ErrorInfo = named(
    "ErrorInfo",
    z.object({ name: z.string(), message: z.string(), code: z.string().optional(), cause: z.unknown().optional() }),
    "how an attempt failed (the stack is not served; `fluid show <id>` prints it)",
  );
  const Run = named(
    "Run",
    z.object({
      id: z.string(), attempt: z.number().int(), maxAttempts: z.number().int(), task: z.string(), state: RunState,
      trigger: z.string().describe("cli, schedule, queue (also the API) or retry"),
      params: z.unknown().describe("as recorded: secret params redacted"),
      result: z.unknown().optional(), error: ErrorInfo.optional(),
      queuedAt: epochMs.optional(), startedAt: epochMs.optional(), endedAt: epochMs.optional(), durationMs: z.number().optional(),
      fromRunId: z.string().optional(), rootRunId: z.string().optional(), host: z.string(), pid: z.number().int(), exitCode: z.number().int().optional(),
    }),
    "one attempt of a run (in lists: the latest attempt)",
  );
  const LogLine = named("LogLine", z.object({
    ts: epochMs, level: z.enum(["debug", "info", "warn", "error", "stdout", "stderr"]), message: z.string(), attempt: z.number().int(),
  }));
  const Schedule = named("Schedule", z.object({
    kind: z.enum(["every", "crontab", "cron", "start"]), source: z.string(), describe: z.string(), timezone: z.string().nullable(),
  }));
  const TaskSummary = named("TaskSummary", z.object({
    name: z.string(), description: z.string(), tags: z.array(z.string()), cpuBound: z.boolean(), priority: z.enum(["high", "medium", "low"]),
    schedule: Schedule.nullable(), nextFire: epochMs.nullable(),
    enabled: z.boolean(), disabledReason: z.string().nullable(), enabledChangedAt: epochMs.nullable(),
    lastRun: Run.nullable(), running: z.number().int(),
  }));
  const TaskDetail = named("TaskDetail", TaskSummary.extend({
    nextFires: z.array(epochMs), paramsSchema: z.record(z.string(), z.unknown()).describe("JSON Schema (draft 2020-12) of the task's params, from its zod schema"),
    timeoutMs: z.number(), retry: z.record(z.string(), z.unknown()).nullable(), overlap: z.enum(["skip", "queue", "allow"]),
    maxConcurrency: z.number().int().nullable(), recentRuns: z.array(Run),
  }));
  const RunDetail = named("RunDetail", z.object({
    run: Run, attempts: z.array(Run), logs: z.array(LogLine), droppedLogLines: z.number().int(), droppedLogBytes: z.number().int(),
    parent: Run.nullable(), root: Run.nullable(), children: z.array(Run),
  }));
  const Issue = named("Issue", z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string(), code: z.string().optional() }));
  const ApiError = named("ApiError", z.object({
    error: z.object({ code: z.string(), message: z.string(), hint: z.string().optional(), issues: z.array(Issue).optional() }),
  }));
  const PoolStats = named("PoolStats", z.object({
    workers: z.number().int(), busy: z.number().int(), idle: z.number().int(), starting: z.number().int(), spawned: z.number().int(),
    recycled: z.number().int(), reaped: z.number().int(), crashed: z.number().int(), killed: z.number().int(), queued: z.number().int(),
    prefetched: z.number().int(),
  }));
  const Status = named("Status", z.object({
    daemon: z.object({
      pid: z.number().int(), host: z.string(), version: z.string(), startedAt: epochMs, uptimeMs: z.number(), configFile: z.string(),
      store: z.string(), broker: z.string(), concurrency: z.number().int(), tasks: z.number().int(),
      serves: z.array(z.string()).nullable().describe("the tasks this daemon runs when routed (fluid serve --tasks/--tags); null: every task"),
      firesSchedules: z.boolean().describe("false when the daemon fires no schedule (fluid serve --no-schedules)"),
    }),
    backend: z.object({
      url: z.string(), state: z.enum(["up", "down"]), since: epochMs.describe("when it went up or down (the daemon's start while always up)"), message: z.string().optional(),
    }).nullable().describe("the fleet backend as the daemon sees it; null without one"),
    queue: z.object({ ready: z.number().int(), delayed: z.number().int(), claimed: z.number().int() }).nullable()
      .describe("null when the backend is down or does not answer within 2 s"),
    running: z.array(z.object({ id: z.string(), task: z.string(), attempt: z.number().int(), startedAt: epochMs })),
    pool: PoolStats.nullable(),
    upcoming: z.array(z.object({ task: z.string(), at: epochMs })),
    eventLoopLagMs: z.number(),
    sseClients: z.number().int(),
  }));
  const Check = named("Check", z.object({ name: z.enum(["schedules", "store", "backend"]), ok: z.boolean(), detail: z.string().optional() }));
  const Ready = named("Ready", z.object({ ready: z.boolean(), reasons: z.array(z.string()).optional(), checks: z.array(Check) }));
  const Health = named("Health", z.object({ status: z.literal("ok"), uptimeMs: z.number() }));
  const RunList = named("RunList", z.object({ runs: z.array(Run), nextCursor: z.string().nullable() }));
  const TaskList = named("TaskList", z.object({ tasks: z.array(TaskSummary) }));
  const RunLogs = named("RunLogs", z.object({ id: z.string(), logs: z.array(LogLine), droppedLogLines: z.number().int() }));
  const Queued = named("Queued", z.object({ run: Run, timedOut: z.boolean().optional() }));
  const Cancelled = named("Cancelled", z.object({ outcome: z.enum(["removed", "flagged", "ended"]), run: Run }));

  // Requests.
  const RunsQuery = z.object({
    task: z.string().min(1).optional(),
    state: RunState.optional(),
    since: z.string().min(1).optional().describe("epoch ms, an ISO 8601 date, or a duration back from now (2h, 3d)"),
    until: z.string().min(1).optional().describe("epoch ms, an ISO 8601 date, or a duration back from now"),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().min(1).optional().describe("`nextCursor` of the previous page"),
  }).strict();
  const QueueQuery = z.object({ wait: z.string().min(1).optional().describe('wait for the outcome: "30s", "2m" or ms, at most 10m') }).strict();
  const QueueBody = named("QueueBody", z.object({ params: z.record(z.string(), z.unknown()).optional() }).strict());
  const PatchTaskBody = named("PatchTaskBody", z.object({ enabled: z.boolean(), reason: z.string().max(500).optional() }).strict());
  const NoQuery = z.object({}).strict();
  return {
    registry: reg, Run, LogLine, TaskSummary, TaskDetail, RunDetail, ApiError, Status, Ready, Health, RunList, TaskList, RunLogs, Queued,
    Cancelled, RunsQuery, QueueQuery, QueueBody, PatchTaskBody, NoQuery,
  };
}

/** The API's schemas (see `build`). */
export type ApiSchemas = ReturnType<typeof build>;

let built: { z: unknown; schemas: ApiSchemas } | undefined;

/** The API's schemas, built on first use (again if another zod was handed over since). */
export function apiSchemas(): ApiSchemas {
  const z = httpZod();
  if (built?.z !== z) built = { z, schemas: build(z) };
  return built.schemas;
}

/** A run as the API serves it. */
export type RunJson = Z.infer<ApiSchemas["Run"]>;
/** A task in the list. */
export type TaskSummaryJson = Z.infer<ApiSchemas["TaskSummary"]>;
/** A task with its params schema and recent runs. */
export type TaskDetailJson = Z.infer<ApiSchemas["TaskDetail"]>;
/** GET /api/status. */
export type StatusJson = Z.infer<ApiSchemas["Status"]>;
/** GET /readyz. */
export type ReadyJson = Z.infer<ApiSchemas["Ready"]>;
