import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { afterEach } from "vitest";

/** A request the server received. */
export interface Received {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json?: Record<string, unknown>;
}

/** A local HTTP server a test points its notifiers at. */
export interface HookServer {
  /** http://127.0.0.1:<port> */
  url: string;
  received: Received[];
  /** How to answer the n-th request (0-based): a status code, or "hang" (never answer). Default 200. */
  answer: (n: number, request: Received) => number | "hang";
  /** Resolves once `count` requests (matching `pred`) arrived; throws after `timeoutMs`. */
  waitFor(count: number, pred?: (r: Received) => boolean, timeoutMs?: number): Promise<Received[]>;
}

/** Registers an afterEach that closes the servers a test started; returns `start()`. */
export function useHookServers(): () => Promise<HookServer> {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  return async () => {
    const hanging: ServerResponse[] = [];
    const received: Received[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => (body += chunk));
      req.on("end", () => {
        const r: Received = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body };
        try {
          r.json = JSON.parse(body) as Record<string, unknown>;
        } catch {}
        const n = received.length;
        received.push(r);
        const how = hook.answer(n, r);
        if (how === "hang") return void hanging.push(res);
        res.writeHead(how, { "content-type": "text/plain" }).end("ok");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    closers.push(async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const hook: HookServer = {
      url: `http://127.0.0.1:${port}`,
      received,
      answer: () => 200,
      async waitFor(count, pred = () => true, timeoutMs = 10_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const matching = received.filter(pred);
          if (matching.length >= count) return matching;
          if (Date.now() > deadline) throw new Error(`expected ${count} request(s), got ${JSON.stringify(received.map((r) => r.path))}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      },
    };
    return hook;
  };
}
