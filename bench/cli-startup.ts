/**
 * bench/cli-startup: wall time of `fluid run say_hi --name bob` (warm caches: compiled task
 * modules, V8 code cache, pre-bundled zod and better-sqlite3) against `node -e 0`, against the
 * same task file run through tsx, against loading the config and task through jiti instead of
 * fluid's esbuild cache, and against what a plain ES module importing zod costs. Commands are
 * interleaved, several rounds; medians and ratios to `node -e 0`. Target: fluid <= 2x node -e 0
 * for the command as a user types it (it records the run in the store).
 *
 * Run: npm run build && npx tsx bench/cli-startup.ts [rounds]
 * The recorded row writes runs into the repo's .fluid/fluid.db.
 */
import { join } from "node:path";
import { median, printTable, timeCommand } from "./stats.ts";

const root = join(import.meta.dirname, "..");
const rounds = Number(process.argv[2] ?? 15);
const env = { ...process.env, NO_COLOR: "1", FLUID_CONFIG: "" };
const commands: Record<string, [string, string[]]> = {
  "node -e 0": ["node", ["-e", "0"]],
  "node + import zod (plain ESM)": ["node", [join(root, "bench/fixtures/zod-floor.mjs")]],
  "fluid run say_hi --name bob": ["node", [join(root, "bin/fluid.js"), "run", "say_hi", "--name", "bob"]],
  "  the same, --no-record": ["node", [join(root, "bin/fluid.js"), "run", "say_hi", "--name", "bob", "--no-record"]],
  "fluid --version": ["node", [join(root, "bin/fluid.js"), "--version"]],
  "tsx tasks/say_hi.ts (peer)": ["node", ["--import", "tsx", join(root, "bench/fixtures/tsx-say-hi.ts")]],
  "jiti load + run (loader alternative)": ["node", [join(root, "bench/fixtures/jiti-say-hi.mjs")]],
};

// Warm every cache once (fluid's compile cache, jiti's cache, the OS file cache).
for (const [cmd, args] of Object.values(commands)) timeCommand(cmd, args, root, env);
const times: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
for (let i = 0; i < rounds; i++) {
  for (const [name, [cmd, args]] of Object.entries(commands)) times[name]!.push(timeCommand(cmd, args, root, env));
}
const base = median(times["node -e 0"]!);
console.log(`cli-startup: ${rounds} rounds, median wall time, node ${process.version}`);
printTable(
  ["command", "median ms", "x node -e 0"],
  Object.entries(times).map(([name, t]) => [name, median(t).toFixed(1), (median(t) / base).toFixed(2)]),
);
const fluid = median(times["fluid run say_hi --name bob"]!);
const unrecorded = median(times["  the same, --no-record"]!);
console.log(`fluid vs tsx peer: ${(fluid / median(times["tsx tasks/say_hi.ts (peer)"]!)).toFixed(2)}x`);
console.log(`target fluid run <= 2.00x node -e 0: ${(fluid / base).toFixed(2)}x ${fluid / base <= 2 ? "met" : "NOT met"} (--no-record ${(unrecorded / base).toFixed(2)}x)`);
