import { UsageError } from "../core/errors.js";
import type { Registry } from "../config/registry.js";
import { suggest } from "../suggest.js";

/**
 * Which tasks a daemon runs (`fluid serve --tasks a,b --tags heavy`, docs/fleet.md, Routing):
 * the tasks named in `tasks` and the tasks with any of `tags`. Without either, every task.
 */
export interface Routing {
  tasks?: readonly string[];
  tags?: readonly string[];
}

/** True when `routing` restricts the daemon to some tasks. */
export function isRouted(routing: Routing | undefined): boolean {
  return (routing?.tasks?.length ?? 0) > 0 || (routing?.tags?.length ?? 0) > 0;
}

/**
 * The predicate "does this daemon run the runs of `task`?" against the registry `current()`
 * returns now (a reload may add a task with a served tag). Undefined without routing.
 */
export function routingPredicate(routing: Routing | undefined, current: () => Registry): ((task: string) => boolean) | undefined {
  if (!isRouted(routing)) return undefined;
  const names = new Set(routing!.tasks ?? []);
  const tags = new Set(routing!.tags ?? []);
  return (task) => {
    if (names.has(task)) return true;
    if (tags.size === 0) return false;
    const registry = current();
    return registry.has(task) && registry.get(task).tags.some((tag) => tags.has(tag));
  };
}

/**
 * What is wrong with `routing` against `registry`: a task name no task has, a tag no task
 * carries. Each is a UsageError (a typo in a daemon's flags must not leave it idle without a
 * word); `serve` throws the first at start and only warns after a reload.
 */
export function routingProblems(routing: Routing | undefined, registry: Registry): UsageError[] {
  if (!isRouted(routing)) return [];
  const problems: UsageError[] = [];
  const names = registry.list().map((t) => t.name);
  for (const task of routing!.tasks ?? []) {
    if (registry.has(task)) continue;
    const near = suggest(task, names);
    problems.push(new UsageError(`--tasks names an unknown task "${task}"`, {
      hint: near ? `did you mean "${near}"? (fluid ls lists the tasks)` : "fluid ls lists the tasks",
    }));
  }
  const known = [...new Set(registry.list().flatMap((t) => t.tags))].sort();
  for (const tag of routing!.tags ?? []) {
    if (known.includes(tag)) continue;
    const near = suggest(tag, known);
    problems.push(new UsageError(`--tags names a tag no task has: "${tag}"`, {
      hint: near ? `did you mean "${near}"? tags: ${known.join(", ")}` : known.length ? `tags of the tasks: ${known.join(", ")}` : "no task has tags (task option `tags`)",
    }));
  }
  return problems;
}

/** Splits a comma-separated flag value ("a, b,,c") into its non-empty items. */
export function splitList(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(",").map((s) => s.trim()).filter((s) => s !== "");
}
