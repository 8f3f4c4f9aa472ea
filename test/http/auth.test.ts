import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "node:http";
import { startHttpServer } from "../../src/http/server.js";
import { daemonView } from "../../src/cli/http-view.js";
import { startApi, TOKEN, type TestApi } from "./helpers.js";

// Who may do what, and the clear 4xx answers to requests the API cannot take.

const TASKS = `
import { task } from "fluid-tasks";
import { z } from "zod";
export const echo = task({ params: z.object({ v: z.number() }) }, async (ctx) => ctx.params.v);
`;

/** A raw request (fetch would not send a chunked body without a length, or a bad method). */
function raw(base: string, method: string, path: string, headers: Record<string, string>, body?: string | string[]): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, { method, headers }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined, headers: res.headers }));
    });
    req.on("error", reject);
    for (const chunk of Array.isArray(body) ? body : body !== undefined ? [body] : []) req.write(chunk);
    req.end();
  });
}

describe("HTTP API on loopback with a token", () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(TASKS, { bodyLimit: 1024 });
  });
  afterAll(async () => {
    await api?.close();
  });

  it("reads are open; a change without the token is 401 (with WWW-Authenticate), with a wrong one 403", async () => {
    expect((await api.call("/api/tasks")).status).toBe(200);
    const missing = await api.call("/api/tasks/echo/runs", { method: "POST", json: { params: { v: 1 } } });
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await missing.json()).toMatchObject({ error: { code: "unauthorized" } });
    const wrong = await api.call("/api/tasks/echo/runs", { method: "POST", json: { params: { v: 1 } }, headers: { authorization: `Bearer ${TOKEN}x` } });
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ error: { code: "forbidden", message: "wrong API token" } });
    // The token is not taken from the query for a change (it would end up in logs and history).
    expect((await api.call(`/api/tasks/echo/runs?token=${TOKEN}`, { method: "POST", json: { params: { v: 1 } } })).status).toBe(401);
    expect((await api.call("/api/tasks/echo/runs", { method: "POST", json: { params: { v: 1 } }, auth: true })).status).toBe(201);
  });

  it("malformed JSON, another content type, an unknown key: 400 with a message", async () => {
    const malformed = await raw(api.base, "POST", "/api/tasks/echo/runs", { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, "{params:");
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatchObject({ code: "bad_request", message: expect.stringMatching(/^malformed JSON body/) });
    const form = await raw(api.base, "POST", "/api/tasks/echo/runs", { authorization: `Bearer ${TOKEN}`, "content-type": "application/x-www-form-urlencoded" }, "v=1");
    expect(form.status).toBe(400);
    expect(form.body.error.message).toMatch(/must be JSON/);
    const extra = await api.call("/api/tasks/echo/runs", { method: "POST", auth: true, json: { params: { v: 1 }, priority: "high" } });
    expect(extra.status).toBe(400);
    expect(((await extra.json()) as any).error.issues[0]).toMatchObject({ code: "unrecognized_keys" });
    const query = await api.call("/api/runs?limit=0&colour=red");
    expect(query.status).toBe(400);
    const wait = await api.call("/api/tasks/echo/runs?wait=forever", { method: "POST", auth: true, json: { params: { v: 1 } } });
    expect(wait.status).toBe(400);
  });

  it("a body over the limit is 413, declared or chunked", async () => {
    const big = JSON.stringify({ params: { v: 1, pad: "x".repeat(2000) } });
    const declared = await raw(api.base, "POST", "/api/tasks/echo/runs", { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", "content-length": String(big.length) }, big);
    expect(declared.status).toBe(413);
    expect(declared.body.error.code).toBe("payload_too_large");
    const chunked = await raw(api.base, "POST", "/api/tasks/echo/runs", { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", "transfer-encoding": "chunked" }, [big.slice(0, 900), big.slice(900)]);
    expect(chunked.status).toBe(413);
  });

  it("unknown routes are 404 JSON; a wrong method is 405 with Allow", async () => {
    const nf = await api.call("/api/nothing");
    expect(nf.status).toBe(404);
    expect(await nf.json()).toMatchObject({ error: { code: "not_found", message: "no route GET /api/nothing" } });
    const wrong = await api.call("/api/tasks/echo", { method: "DELETE", auth: true });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET, HEAD, PATCH");
    expect(await wrong.json()).toMatchObject({ error: { code: "method_not_allowed" } });
    const get = await api.call("/api/runs/abc/cancel");
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });

  it("sends no CORS headers (same origin only)", async () => {
    const res = await api.call("/api/tasks", { headers: { origin: "https://evil.example" } });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("HTTP API without a token, and on a public address", () => {
  it("without a token the API is read-only: a change is 403 saying how to set one", async () => {
    const api = await startApi(TASKS, { token: undefined });
    try {
      expect((await api.call("/api/tasks")).status).toBe(200);
      const res = await api.call("/api/tasks/echo/runs", { method: "POST", json: { params: { v: 1 } } });
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ error: { code: "forbidden", message: expect.stringMatching(/read-only/), hint: expect.stringMatching(/FLUID_TOKEN/) } });
    } finally {
      await api.close();
    }
  });

  it("refuses a non-loopback address without a token; with one, every route but /healthz needs it", async () => {
    const api = await startApi(TASKS);
    try {
      await expect(startHttpServer(daemonView(api.d.daemon), { host: "0.0.0.0", port: 0 })).rejects.toMatchObject({
        code: "FLUID_USAGE", message: expect.stringMatching(/beyond this machine, without a token/),
      });
      const open = await startHttpServer(daemonView(api.d.daemon), { host: "0.0.0.0", port: 0, token: TOKEN });
      try {
        const base = `http://127.0.0.1:${open.port}`;
        expect(open.tokenForAll).toBe(true);
        expect((await fetch(`${base}/healthz`)).status).toBe(200);
        for (const path of ["/api/tasks", "/metrics", "/readyz", "/api/openapi.json"]) expect((await fetch(base + path)).status).toBe(401);
        expect((await fetch(`${base}/api/tasks`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
        // EventSource cannot send headers: a GET may carry ?token=.
        expect((await fetch(`${base}/api/tasks?token=${TOKEN}`)).status).toBe(200);
        expect((await fetch(`${base}/api/tasks?token=nope-nope`)).status).toBe(403);
      } finally {
        await open.close();
      }
    } finally {
      await api.close();
    }
  });

  it("a failing internal call answers 500 without a stack or the message", async () => {
    const errors: unknown[] = [];
    const api = await startApi(TASKS, { onError: (e) => errors.push(e) }, {
      wrap: (view) => ({ ...view, running: () => { throw new Error("secret internals at /srv/app.ts:12"); } }),
    });
    try {
      const res = await api.call("/api/status");
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ error: { code: "internal", message: "internal error; the daemon's log has the details" } });
      expect(text).not.toMatch(/secret|\.ts:|at /);
      expect(errors).toHaveLength(1);
    } finally {
      await api.close();
    }
  });
});
