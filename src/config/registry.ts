import { UnknownTaskError } from "../core/errors.js";
import { suggest } from "../suggest.js";
import type { Task } from "../task/task.js";

/** Where a task was defined. */
export interface TaskOrigin {
  file: string;
  exportName: string;
}

/** The set of tasks loaded from the config, by name. */
export class Registry {
  private readonly tasks = new Map<string, Task>();
  private readonly origins = new Map<string, TaskOrigin>();
  private sorted: Task[] | undefined;

  /** Adds a task; the caller checks for duplicate names first. */
  add(task: Task, origin: TaskOrigin): void {
    this.tasks.set(task.name, task);
    this.origins.set(task.name, origin);
    this.sorted = undefined;
  }

  has(name: string): boolean {
    return this.tasks.has(name);
  }

  /** The task of that name, or an UnknownTaskError with a "did you mean" hint. */
  get(name: string): Task {
    const task = this.tasks.get(name);
    if (task) return task;
    const close = suggest(name, [...this.tasks.keys()]);
    throw new UnknownTaskError(name, {
      hint: close ? `did you mean "${close}"? (\`fluid ls\` lists the tasks)` : "`fluid ls` lists the tasks",
    });
  }

  /** Where a task was defined. */
  origin(name: string): TaskOrigin | undefined {
    return this.origins.get(name);
  }

  /** Every task, sorted by name (computed once; the consumer asks on every claim). */
  list(): readonly Task[] {
    this.sorted ??= [...this.tasks.values()].sort((a, b) => a.name.localeCompare(b.name));
    return this.sorted;
  }

  get size(): number {
    return this.tasks.size;
  }
}

