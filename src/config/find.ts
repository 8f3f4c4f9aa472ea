import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ConfigError } from "../core/errors.js";

/** Names a config file may have, in order of preference. */
export const CONFIG_NAMES = ["fluid.config.ts", "fluid.config.mts", "fluid.config.js", "fluid.config.mjs"];

/**
 * Finds the config file: an explicit path (from --config or FLUID_CONFIG) when given,
 * else the first CONFIG_NAMES file in `cwd` or any parent directory.
 */
export function findConfig(cwd: string, explicit?: string): string {
  if (explicit) {
    const path = resolve(cwd, explicit);
    if (!existsSync(path)) {
      throw new ConfigError(`config file not found: ${path}`, { hint: "check the --config option or the FLUID_CONFIG variable" });
    }
    if (statSync(path).isDirectory()) {
      for (const name of CONFIG_NAMES) if (existsSync(join(path, name))) return join(path, name);
      throw new ConfigError(`no ${CONFIG_NAMES[0]} in ${path}`, { hint: "point --config at the config file itself" });
    }
    return path;
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    for (const name of CONFIG_NAMES) {
      const path = join(dir, name);
      if (existsSync(path)) return path;
    }
    if (dirname(dir) === dir) break;
  }
  throw new ConfigError(`no fluid.config.ts found in ${resolve(cwd)} or any parent directory`, {
    hint: 'create one: export default defineConfig({ tasks: ["./tasks/*.ts"] }), or pass --config <path>',
  });
}
