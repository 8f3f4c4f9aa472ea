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
  /** When it holds part of the project: every task's module (the task index), and how to load one. */
  private part: { index: Readonly<Record<string, string>>; load: (file: string) => Promise<Registry> } | undefined;

  /** Adds a task; the caller checks for duplicate names first. */
  add(task: Task, origin: TaskOrigin): void {
    this.tasks.set(task.name, task);
    this.origins.set(task.name, origin);
    this.sorted = undefined;
  }

  has(name: string): boolean {
    return this.tasks.has(name);
  }

  /**
   * Marks the registry as holding only some modules of the project (`loadProject` with
   * `task`): `index` names the module of every task, `load` loads one module's tasks.
   */
  holdPart(index: Readonly<Record<string, string>>, load: (file: string) => Promise<Registry>): void {
    this.part = { index, load };
  }

  /** The task index (task name -> module) when the registry holds only some modules; undefined when it holds all. */
  get partIndex(): Readonly<Record<string, string>> | undefined {
    return this.part?.index;
  }

  /** False when the registry holds only some modules of the project (see `ensure`). */
  get complete(): boolean {
    return this.part === undefined;
  }

  /**
   * Makes sure the task `name` is here if the project has it: a registry that holds only some
   * modules loads the one that defines it. Call it before `get` where a name may be any task.
   */
  async ensure(name: string): Promise<void> {
    if (this.tasks.has(name) || !this.part || !Object.hasOwn(this.part.index, name)) return;
    const more = await this.part.load(this.part.index[name]!);
    for (const task of more.list()) if (!this.tasks.has(task.name)) this.add(task, more.origin(task.name)!);
  }

  /** The task of that name, or an UnknownTaskError with a "did you mean" hint. */
  get(name: string): Task {
    const task = this.tasks.get(name);
    if (task) return task;
    const close = suggest(name, this.part ? Object.keys(this.part.index) : [...this.tasks.keys()]);
    throw new UnknownTaskError(name, {
      hint: close ? `did you mean "${close}"? (\`fluid ls\` lists the tasks)` : "`fluid ls` lists the tasks",
    });
  }

  /** Where a task was defined. */
  origin(name: string): TaskOrigin | undefined {
    return this.origins.get(name);
  }

  /** Every task held, sorted by name (computed once; the consumer asks on every claim). */
  list(): readonly Task[] {
    this.sorted ??= [...this.tasks.values()].sort((a, b) => a.name.localeCompare(b.name));
    return this.sorted;
  }

  get size(): number {
    return this.tasks.size;
  }
}

