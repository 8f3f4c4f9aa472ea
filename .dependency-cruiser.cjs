// The layer rules of fluid-tasks (docs/architecture.md), checked by `npm run lint:deps`:
//
//   cli -> daemon | http -> scheduler (schedule/timer) | consumer | notify -> executor | broker | store
//       -> persistence -> config -> task | schedule -> core
//
// A module may import its own folder and any layer below its own; never a layer above, never
// a sibling layer ("|"), never in a cycle. src/startup/ (start-up speed on Node 20) is imported
// only by cli/, and by the few narrow seams listed in STARTUP_SEAMS. The public barrel
// src/index.ts is imported by nothing but the process entries that publish it for task modules.

/** Layers, lowest first; a layer may import the layers of a lower rank. */
const LAYERS = [
  // rank 0: vocabulary, errors, the run record, retry policy, and small helpers
  { name: "core", rank: 0, path: "^src/(core/|package-root\\.ts$|process-tree\\.ts$|suggest\\.ts$)" },
  // rank 1: definitions (schedule definitions: what every(), crontab() and cron() make)
  { name: "task", rank: 1, path: "^src/task/" },
  { name: "schedule", rank: 1, path: "^src/schedule/(at-start|brand|calendar|cron|crontab[^/]*|every|fire-times|index|next-runs|validate|wall-clock)\\.ts$" },
  // rank 2: loading a project; the SQLite layer under the store and the broker
  { name: "config", rank: 2, path: "^src/config/" },
  { name: "persistence", rank: 2, path: "^src/persistence/" },
  // the fleet backend (Redis or PostgreSQL through BullMQ 6) under the broker: URL, checks, connections
  { name: "fleet", rank: 2, path: "^src/fleet/" },
  // rank 3
  { name: "executor", rank: 3, path: "^src/executor/" },
  { name: "broker", rank: 3, path: "^src/broker/" },
  { name: "store", rank: 3, path: "^src/store/" },
  // rank 4: the scheduler is every file of schedule/ that is not a definition (the timer)
  { name: "consumer", rank: 4, path: "^src/consumer/" },
  // notify: alerts of finished runs; watches the consumer's events from above (daemon, cli), reads the store
  { name: "notify", rank: 4, path: "^src/notify/" },
  { name: "scheduler", rank: 4, path: "^src/schedule/(?!(at-start|brand|calendar|cron|crontab[^/]*|every|fire-times|index|next-runs|validate|wall-clock)\\.ts$)" },
  // rank 5
  { name: "daemon", rank: 5, path: "^src/daemon/" },
  { name: "http", rank: 5, path: "^src/http/" },
  // rank 6
  { name: "cli", rank: 6, path: "^src/cli/" },
];

/**
 * The only imports of src/startup/ from outside cli/: the narrow interface the config layer
 * compiles and loads task modules through (the shared zod, esbuild from its pre-bundle, stack
 * traces mapped to .ts), and better-sqlite3 from its pre-bundle. See src/startup/README.md.
 */
const STARTUP_SEAMS = "^src/(config/(compile|load)\\.ts|persistence/open-database\\.ts)$";

/** Process entries that publish the public API for the task modules they load. */
const API_PUBLISHERS = "^src/(cli/main|executor/child|index)\\.ts$";

const layerRules = LAYERS.filter((layer) => LAYERS.some((other) => other !== layer && other.rank >= layer.rank)).map((layer) => ({
  name: `layer-${layer.name}`,
  comment: `${layer.name} imports only its own folder and layers below rank ${layer.rank}`,
  severity: "error",
  from: { path: layer.path },
  to: { path: LAYERS.filter((other) => other !== layer && other.rank >= layer.rank).map((other) => other.path) },
}));

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "a cycle between files is a defect (index.ts imports itself to publish itself: not a cycle)",
      severity: "error",
      from: {},
      to: { circular: true, pathNot: "^src/index\\.ts$" },
    },
    ...layerRules,
    {
      name: "nothing-imports-cli",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/cli/" },
      to: { path: "^src/cli/" },
    },
    {
      name: "startup-only-from-cli",
      comment: "no domain module imports start-up machinery, but the narrow seams named in STARTUP_SEAMS",
      severity: "error",
      from: { path: "^src/", pathNot: ["^src/(cli|startup)/", STARTUP_SEAMS] },
      to: { path: "^src/startup/" },
    },
    {
      name: "seams-use-only-their-startup-modules",
      severity: "error",
      from: { path: STARTUP_SEAMS },
      to: { path: "^src/startup/", pathNot: "^src/startup/(zod|prebundle|stack-map)\\.ts$" },
    },
    {
      name: "startup-imports-core-only",
      severity: "error",
      from: { path: "^src/startup/" },
      to: { path: "^src/", pathNot: ["^src/startup/", LAYERS[0].path] },
    },
    {
      name: "index-is-imported-by-no-module",
      comment: "src/index.ts is the public API; only process entries import it, to publish it for task modules",
      severity: "error",
      from: { path: "^src/", pathNot: API_PUBLISHERS },
      to: { path: "^src/index\\.ts$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|dist)/" },
    // type-only imports count too: a layer must not even know the types of the layers above it
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
  },
};
