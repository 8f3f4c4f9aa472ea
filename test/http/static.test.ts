import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { daemonView } from "../../src/cli/http-view.js";
import { startHttpServer, type HttpServer } from "../../src/http/server.js";
import { startApi, TOKEN, type TestApi } from "./helpers.js";

// The dashboard's static files: served at /, without the token, never outside their directory.

describe("dashboard files", () => {
  let api: TestApi;
  let open: HttpServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "fluid-dash-"));
    mkdirSync(join(dir, "lib"));
    writeFileSync(join(dir, "index.html"), "<!doctype html><title>fluid</title>");
    writeFileSync(join(dir, "app.js"), "export const x = 1;");
    writeFileSync(join(dir, "lib", "chart.js"), "export {};");
    api = await startApi(`import { task } from "fluid-tasks";\nexport const t = task({}, async () => {});\n`, { dashboardDir: dir });
    open = await startHttpServer(daemonView(api.d.daemon), { host: "0.0.0.0", port: 0, token: TOKEN, dashboardDir: dir });
  });
  afterAll(async () => {
    await open?.close();
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves index.html at / with a CSP, other files by name, with an ETag", async () => {
    const index = await api.call("/");
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(index.headers.get("content-security-policy")).toMatch(/default-src 'self'/);
    expect(await index.text()).toContain("<title>fluid</title>");
    const js = await api.call("/lib/chart.js");
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const etag = js.headers.get("etag")!;
    expect((await api.call("/lib/chart.js", { headers: { "if-none-match": etag } })).status).toBe(304);
  });

  it("answers 404 JSON outside the directory and for unknown files", async () => {
    for (const path of ["/../package.json", "/%2e%2e/package.json", "/lib/../../x", "/nope.js"]) {
      const res = await api.call(path);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: { code: "not_found" } });
    }
  });

  it("needs no token for the files even where every route needs it", async () => {
    const base = `http://127.0.0.1:${open.port}`;
    expect((await fetch(`${base}/app.js`)).status).toBe(200);
    expect((await fetch(`${base}/api/tasks`)).status).toBe(401);
  });
});
