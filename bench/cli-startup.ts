/**
 * bench/cli-startup: wall time of `fluid run say_hi --name bob` (warm caches: compiled task
 * modules, V8 code cache, pre-bundled zod and better-sqlite3) against `node -e 0`, against the
 * same task file run through tsx, against loading the config and task through jiti instead of
 * fluid's esbuild cache, and against what a plain ES module importing zod costs. Commands are
 * interleaved, several rounds; medians and ratios to `node -e 0`. Target: fluid <= 2x node -e 0
 * for the command as a user types it (it records the run in the store).
 *
 * The "N tasks in M modules" rows time `fluid run` of one task in a generated project (under
 * .fluid/bench-projects/, so zod resolves from this repo): each task has a params schema and
 * a cron schedule. A warm start there imports only the module of that task (the task index
 * kept with the compile cache), so the cost should not grow with the project.
 * Target: <= 2x node -e 0 with 1,000 tasks in 100 modules, the 10-task row no slower.
 *
 * Run: npm run build && npx tsx bench/cli-startup.ts [rounds]
 * The recorded rows write runs into the repo's .fluid/fluid.db and the generated projects' own.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { median, printTable, timeCommand } from "./stats.ts";

const root = join(import.meta.dirname, "..");
const rounds = Number(process.argv[2] ?? 15);
const env = { ...process.env, NO_COLOR: "1", FLUID_CONFIG: "" };

/** Writes a project of `modules` task modules with `perModule` tasks each (schema + cron schedule); returns its config file. */
function generateProject(modules: number, perModule: number): string {
  const dir = join(root, ".fluid", "bench-projects", `${modules * perModule}-tasks-${modules}-modules`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "tasks"), { recursive: true });
  writeFileSync(join(dir, "fluid.config.ts"), `import { defineConfig } from "fluid-tasks";\nexport default defineConfig({ tasks: ["./tasks/*.ts"], store: { path: ".fluid/fluid.db" } });\n`);
  for (let m = 0; m < modules; m++) {
    const lines = [`import { cron, task } from "fluid-tasks";`, `import { z } from "zod";`, ""];
    for (let t = 0; t < perModule; t++) {
      const name = `task_${m}_${t}`;
      lines.push(
        `export const ${name} = task(`,
        `  { params: z.object({ name: z.string().default("bob"), count: z.number().int().min(1).default(${t + 1}), tags: z.array(z.string()).optional() }), schedule: cron("${t % 60} ${m % 24} * * *") },`,
        `  async (ctx) => \`\${ctx.params.name} x\${ctx.params.count}\`,`,
        `);`,
      );
    }
    writeFileSync(join(dir, "tasks", `m${m}.ts`), lines.join("\n") + "\n");
  }
  return join(dir, "fluid.config.ts");
}
const project100 = generateProject(10, 10);
const project1000 = generateProject(100, 10);

const commands: Record<string, [string, string[]]> = {
  "node -e 0": ["node", ["-e", "0"]],
  "node + import zod (plain ESM)": ["node", [join(root, "bench/fixtures/zod-floor.mjs")]],
  "fluid run say_hi --name bob": ["node", [join(root, "bin/fluid.js"), "run", "say_hi", "--name", "bob"]],
  "  the same, --no-record": ["node", [join(root, "bin/fluid.js"), "run", "say_hi", "--name", "bob", "--no-record"]],
  "fluid run (100 tasks, 10 modules)": ["node", [join(root, "bin/fluid.js"), "run", "task_7_3", "--config", project100]],
  "fluid run (1,000 tasks, 100 modules)": ["node", [join(root, "bin/fluid.js"), "run", "task_57_3", "--config", project1000]],
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
const big = median(times["fluid run (1,000 tasks, 100 modules)"]!) / base;
console.log(`target fluid run with 1,000 tasks in 100 modules <= 2.00x node -e 0: ${big.toFixed(2)}x ${big <= 2 ? "met" : "NOT met"}`);
