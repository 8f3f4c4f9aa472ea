// Builds dist/: type declarations with tsc, JavaScript with esbuild.
// - The library (dist/index.js) and the worker process (dist/executor/child.js) are ES modules
//   sharing chunks; pure-JS dependencies are bundled, native or large ones stay external.
// - The CLI is one CommonJS file (dist/cli/bundle.js, all but native packages bundled), run
//   by dist/cli/boot.js through V8's code cache: Node 20 has no compile cache for ES modules,
//   and parsing the CLI anew was a large part of every `fluid` start (src/startup/code-cache.ts).
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, renameSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { build } from "esbuild";

const WRAPPER = ["(function (exports, require, module, __filename, __dirname) {", "\n})"]; // src/startup/code-cache.ts

// Build beside dist/ and swap at the end, so a `fluid` process running meanwhile never sees
// a half-empty dist/ (and no stale chunk survives).
const out = `dist.build-${process.pid}`;
rmSync(out, { recursive: true, force: true });
process.on("exit", () => rmSync(out, { recursive: true, force: true })); // after a failed step too
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json", "--emitDeclarationOnly", "--outDir", out], { stdio: "inherit" });
const common = { bundle: true, platform: "node", target: "node20", logLevel: "warning" };
await build({
  ...common,
  // http/server.js: the HTTP API (with hono), loaded by `fluid serve --http` only, out of the CLI bundle.
  entryPoints: ["src/index.ts", "src/executor/child.ts", "src/executor/watchdog.ts", "src/http/server.ts"],
  outdir: out,
  outbase: "src",
  splitting: true,
  format: "esm",
  sourcemap: true,
  chunkNames: "chunks/[name]-[hash]",
  external: ["zod", "esbuild", "better-sqlite3", "execa"],
  // commander is CommonJS and requires Node built-ins; give the ESM bundle a real `require`.
  banner: { js: "import { createRequire as __fluidRequire } from 'node:module'; const require = __fluidRequire(import.meta.url);" },
});
await build({ ...common, entryPoints: ["src/cli/boot.ts"], outfile: `${out}/cli/boot.js`, format: "esm" });
// commander requires child_process (for executable subcommands, which fluid has none of);
// loading it costs a `fluid` start milliseconds. Its copy in the CLI loads it when used.
const lazyChildProcess = {
  name: "lazy-child-process",
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: "child_process", namespace: "lazy" } : undefined);
    b.onLoad({ filter: /.*/, namespace: "lazy" }, () => ({
      contents: `module.exports = new Proxy({}, { get: (_, key) => require("node:child_process")[key] });`,
      loader: "js",
    }));
  },
};
// The fleet's packages (three quarters of the CLI's code) go into dist/cli/vendor.js, which the
// CLI loads (src/cli/vendor.ts) only when a command uses a fleet backend.
const VENDOR = ["bullmq", "ioredis", "pg"];
const vendorStubs = {
  name: "vendor-stubs",
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(${VENDOR.join("|")})$`) }, (args) => ({ path: args.path, namespace: "vendor" }));
    b.onLoad({ filter: /.*/, namespace: "vendor" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(resolve("src/cli/vendor.ts"))}).vendorModule(${JSON.stringify(args.path)});`,
      resolveDir: resolve("src/cli"),
      loader: "js",
    }));
  },
};
const cliBundle = {
  ...common,
  format: "cjs",
  minify: !process.env.NOMIN, // half the bytes to read at every start
  keepNames: true, // error classes name themselves from new.target.name
  footer: { js: WRAPPER[1] },
};
await build({
  ...cliBundle,
  stdin: {
    contents: `exports.load = (name) => { switch (name) { ${VENDOR.map((v) => `case ${JSON.stringify(v)}: return require(${JSON.stringify(v)});`).join(" ")} } };`,
    resolveDir: resolve("."),
    sourcefile: "vendor-entry.js",
    loader: "js",
  },
  outfile: `${out}/cli/vendor.js`,
  banner: { js: WRAPPER[0] },
});
await build({
  ...cliBundle,
  entryPoints: ["src/cli/main.ts"],
  plugins: [lazyChildProcess, vendorStubs],
  outfile: `${out}/cli/bundle.js`,
  // Loaded on demand (src/core/dynamic-import.ts): the cpu-bound pool, the spinner, globbing.
  external: ["zod", "esbuild", "better-sqlite3", "execa", "tinyglobby"],
  // Bundled ES modules read import.meta.url (to find this package's root, for instance).
  define: { "import.meta.url": "__fluidImportMetaUrl" },
  // The file is the module already in Node's CommonJS wrapper (see requireCached).
  banner: { js: `${WRAPPER[0]}var __fluidImportMetaUrl = require('node:url').pathToFileURL(__filename).href;` },
});
// The dashboard's static files (src/http/dashboard/), served by `fluid serve --http` as they are.
if (existsSync("src/http/dashboard")) cpSync("src/http/dashboard", `${out}/http/dashboard`, { recursive: true });
rmSync("dist", { recursive: true, force: true });
renameSync(out, "dist");
