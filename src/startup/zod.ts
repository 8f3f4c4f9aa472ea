import { createRequire } from "node:module";
import { join } from "node:path";
import { packageRoot } from "../package-root.js";
import { exportProperties } from "../core/facade.js";
import { ConfigError } from "../core/errors.js";
import { buildPrebundle, requirePrebundled } from "./prebundle.js";

/**
 * zod, loaded fast (src/startup/prebundle.ts): every task module imports it, and its ~100
 * files were most of a `fluid run` after Node's own start. The CLI, the library and the task
 * modules' `import "zod"` (a facade compiled into their bundle) share one instance per
 * installation.
 */

export type ZodModule = typeof import("zod");

/** The path of the zod entry `require("zod")` resolves to from `fromDir`, or undefined. */
export function resolveZod(fromDir: string): string | undefined {
  try {
    return createRequire(join(fromDir, "noop.js")).resolve("zod");
  } catch {
    return undefined;
  }
}

/**
 * Loads the zod installation whose CommonJS entry is `entry` (see resolveZod). The bundle
 * leaves out `z.locales` (more than half of zod's code; only `z.config(z.locales.xx())`
 * uses it): it loads from zod's own files on first use. English messages, the default,
 * are in the bundle.
 */
export function loadZod(entry: string): ZodModule {
  return requirePrebundled(entry, ZOD_BUNDLE) as ZodModule;
}

const ZOD_BUNDLE = { lazy: /[\\/]v4[\\/]locales[\\/]index\.c?js$/ };

/** Makes the bundle loadZod uses (compiling task modules that import zod calls it). */
export function prepareZod(entry: string): Promise<void> {
  return buildPrebundle(entry, ZOD_BUNDLE);
}

// The facades call it through a global: the CLI bundle and the library may both be loaded.
const LOADER = Symbol.for("fluid-tasks.load-zod");
const shared = ((globalThis as Record<symbol, unknown>)[LOADER] ??= loadZod) as typeof loadZod;

let own: ZodModule | undefined;

/** zod as this package resolves it (for the schema of tasks without params). */
export function ownZod(): ZodModule {
  if (own) return own;
  const entry = resolveZod(packageRoot().dir);
  if (!entry) throw new ConfigError("cannot find zod, which fluid-tasks needs for params schemas", { hint: "install it in your project: npm install zod" });
  return (own = shared(entry));
}

/** The source of an ES module that re-exports the zod at `entry` through the shared loader. */
export function zodFacade(entry: string): string {
  return [
    `import { createRequire } from "node:module";`,
    `const entry = ${JSON.stringify(entry)};`,
    `const load = globalThis[Symbol.for("fluid-tasks.load-zod")];`,
    `const zod = load ? load(entry) : createRequire(entry)(entry);`,
    `export default zod.default ?? zod;`,
    exportProperties("zod", Object.keys(shared(entry))),
  ].join("\n");
}
