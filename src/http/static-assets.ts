import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { packageRoot } from "../package-root.js";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};

/** Content-Security-Policy of the dashboard's pages: its own scripts only, no inline script. */
export const DASHBOARD_CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";

/**
 * The directory of the dashboard's files: beside this module when it runs from src/ (tests),
 * else `dist/http/dashboard` of the package (where scripts/build.mjs copies them), else
 * `src/http/dashboard`. Undefined when none exists.
 */
export function dashboardDir(): string | undefined {
  const candidates = [join(dirname(fileURLToPath(import.meta.url)), "dashboard")];
  try {
    const root = packageRoot().dir;
    candidates.push(join(root, "dist", "http", "dashboard"), join(root, "src", "http", "dashboard"));
  } catch {} // no package root found: only the directory beside this module is tried
  return candidates.find((dir) => existsSync(join(dir, "index.html")));
}

/** A static file to answer with. */
export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * The file of `urlPath` under `dir` ("/" is index.html), or undefined when there is none or the
 * path leaves the directory. Read at each request: the files are small and may change while
 * the daemon runs (a new build).
 */
export async function readAsset(dir: string, urlPath: string): Promise<Asset | undefined> {
  let path: string;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (path.includes("\0")) return undefined;
  if (path.endsWith("/")) path += "index.html";
  const root = resolve(dir);
  const file = resolve(root, "." + path);
  if (!file.startsWith(root + sep)) return undefined;
  try {
    const s = await stat(file);
    if (!s.isFile()) return undefined;
    return { body: await readFile(file), type: TYPES[extname(file).toLowerCase()] ?? "application/octet-stream", etag: `W/"${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}"` };
  } catch {
    return undefined;
  }
}
