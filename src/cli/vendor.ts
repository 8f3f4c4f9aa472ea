import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { codeCacheDir, requireCached } from "../startup/code-cache.js";

/**
 * The fleet's packages (bullmq, ioredis, pg: three quarters of the CLI's code, 1.4 MB of
 * 1.8 MB) live in their own file beside the CLI bundle, dist/cli/vendor.js, loaded through
 * the code cache the first time one of them is required: `fluid run` and the other commands
 * that never touch a fleet backend do not read them at every start. Only the CLI bundle
 * uses this: scripts/build.mjs replaces `require("bullmq")` (and the others) there by
 * `vendorModule("bullmq")`.
 */

interface Vendor {
  load(name: string): unknown;
}

let vendor: Vendor | undefined;

/** The package `name` (as `require(name)` returns it) from dist/cli/vendor.js. */
export function vendorModule(name: string): unknown {
  if (!vendor) {
    const dir = dirname(fileURLToPath(import.meta.url)); // dist/cli in the bundle
    vendor = requireCached(join(dir, "vendor.js"), codeCacheDir(dirname(dirname(dir)))) as Vendor;
  }
  return vendor.load(name);
}
