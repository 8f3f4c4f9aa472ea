import { loadProject } from "../config/load.js";
import { UsageError } from "../core/errors.js";
import { fireTimes } from "../schedule/fire-times.js";
import { projectTaskStates } from "./fleet-access.js";
import { table, type Output } from "./output.js";
import { readStore } from "./store-access.js";

/** Options of `fluid next`. */
export interface NextOptions {
  config?: string;
  count?: string;
  tz?: string;
  json?: boolean;
}

/** `fluid next <task>`: the next fire times of a task's schedule, local and UTC, DST changes marked. */
export async function nextCommand(name: string, o: NextOptions, io: Output): Promise<number> {
  const n = o.count === undefined ? 10 : Number(o.count);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new UsageError(`-n must be a whole number from 1 to 10000, got "${o.count}"`);
  const project = await loadProject({ ...(o.config ? { config: o.config } : {}), task: name });
  const task = project.registry.get(name);
  if (!task.schedule) {
    throw new UsageError(`task "${task.name}" has no schedule`, { hint: 'give it one: task({ schedule: every("5m") }, ...); `fluid ls` shows which tasks have one' });
  }
  if (task.schedule.kind === "start") {
    // atStart() (cron's @reboot) has no calendar time: say when it fires instead of an empty table.
    if (o.json) io.out.write("[]\n");
    else io.err.write(`${task.name}: ${task.schedule.describe()} (no calendar times)\n`);
    return 0;
  }
  const fires = fireTimes(task.schedule, n, new Date(), o.tz);
  // The task's state (the fleet's with a backend): a disabled task's fires go out but start no run.
  const state = (await projectTaskStates(project, async () => {
    const store = await readStore(project);
    try {
      return store?.taskStates() ?? new Map();
    } finally {
      store?.close();
    }
  })).get(task.name);
  const off = state && !state.enabled ? `disabled${state.reason ? ` (${state.reason})` : ""}: these fires start no run until \`fluid enable ${task.name}\`` : undefined;
  if (o.json) {
    io.out.write(JSON.stringify(fires.map((f) => f.iso)) + "\n");
    if (off) io.err.write(`${task.name}: ${off}\n`);
    return 0;
  }
  const c = io.out.c;
  io.err.write(`${task.name}: ${task.schedule.describe()}${off ? ` ${io.err.c.yellow(`(${off})`)}` : ""}\n`);
  io.out.write(table(c, ["#", "LOCAL", "UTC", ""], fires.map((f, i) => [
    String(i + 1), f.local, f.utc, f.dstChange ? c.yellow(f.dstChange === "spring-forward" ? "DST starts (clocks forward)" : "DST ends (clocks back)") : "",
  ])));
  return 0;
}
