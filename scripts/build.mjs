// Builds dist/: type declarations with tsc, JavaScript with esbuild. The CLI and the library
// share chunks (so a task module importing "fluid-tasks" reuses what the CLI loaded), pure-JS
// dependencies are bundled (fewer files to resolve and load at start-up), and packages that
// are native, large or loaded on demand stay external.
import { execFileSync } from "node:child_process";
import { renameSync, rmSync } from "node:fs";
import { build } from "esbuild";

// Build beside dist/ and swap at the end, so a `fluid` process running meanwhile never sees
// a half-empty dist/ (and no stale chunk survives).
const out = `dist.build-${process.pid}`;
rmSync(out, { recursive: true, force: true });
process.on("exit", () => rmSync(out, { recursive: true, force: true })); // after a failed step too
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json", "--emitDeclarationOnly", "--outDir", out], { stdio: "inherit" });
await build({
  entryPoints: ["src/index.ts", "src/cli/main.ts", "src/executor/child.ts"],
  outdir: out,
  outbase: "src",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: true,
  chunkNames: "chunks/[name]-[hash]",
  external: ["zod", "esbuild", "better-sqlite3", "ora", "execa"],
  // commander is CommonJS and requires Node built-ins; give the ESM bundle a real `require`.
  banner: { js: "import { createRequire as __fluidRequire } from 'node:module'; const require = __fluidRequire(import.meta.url);" },
  logLevel: "warning",
});
rmSync("dist", { recursive: true, force: true });
renameSync(out, "dist");
