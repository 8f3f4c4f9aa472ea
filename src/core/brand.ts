/**
 * The brand every schedule carries. `Symbol.for` puts it in the global symbol registry, so a
 * schedule made by one copy of fluid-tasks (say, in a task module's own node_modules) is still
 * recognised by another copy (the daemon's).
 */
export const SCHEDULE_BRAND: unique symbol = Symbol.for("fluid-tasks.schedule") as never;
