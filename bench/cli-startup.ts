/**
 * bench/cli-startup: wall time of `fluid run say_hi --name bob` (warm compile cache) against
 * `node -e 0`, against the same task file run through tsx, and against loading the config and
 * task through jiti instead of fluid's esbuild cache, and against the floor every task module
 * pays: Node plus importing zod. Commands are interleaved, several rounds;
 * medians and ratios to `node -e 0`. Target: fluid <= 2x node -e 0.
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
  "node + import zod (floor)": ["node", [join(root, "bench/fixtures/zod-floor.mjs")]],
  "fluid run say_hi (warm cache)": ["node", [join(root, "bin/fluid.js"), "run", "say_hi", "--name", "bob", "--no-record"]],
  "fluid run say_hi, recorded": ["node", [join(root, "bin/fluid.js"), "run", "say_hi", "--name", "bob"]],
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
const fluid = median(times["fluid run say_hi (warm cache)"]!);
console.log(`fluid over the zod floor: +${(fluid - median(times["node + import zod (floor)"]!)).toFixed(1)} ms`);
console.log(`fluid vs tsx peer: ${(fluid / median(times["tsx tasks/say_hi.ts (peer)"]!)).toFixed(2)}x; target fluid <= 2.00x node -e 0: ${fluid / base <= 2 ? "met" : "NOT met"}`);
