import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { codeCacheDir, requireCached } from "../startup/code-cache.js";
import { provideImport } from "../core/dynamic-import.js";

/**
 * What bin/fluid.js loads: a few lines that run the CLI, which is built as one CommonJS file
 * (dist/cli/bundle.js) so that it loads through V8's code cache (src/startup/code-cache.ts).
 * Resolves with the exit code.
 */
export async function runCli(argv: string[]): Promise<number> {
  provideImport((specifier) => import(specifier));
  const dist = join(dirname(fileURLToPath(import.meta.url)), ".."); // this file is dist/cli/boot.js
  const cli = requireCached(join(dist, "cli", "bundle.js"), codeCacheDir(dirname(dist))) as { main(argv: string[]): Promise<number> };
  return cli.main(argv);
}
