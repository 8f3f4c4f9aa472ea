import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";

/** A redis-server for a bench, and how it was obtained. */
export interface Redis {
  port: number;
  note: string;
  stop: () => Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts a throwaway redis-server on a free port; falls back to 127.0.0.1:6379 if that fails. */
export async function startRedis(): Promise<Redis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  try {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "pipe"] });
    const spawned = child;
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 5000);
      const settle = (error?: Error): void => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      spawned.once("error", (e) => settle(e));
      spawned.once("exit", (code) => settle(new Error(`redis-server exited ${code}: ${out}`)));
      spawned.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("Ready to accept connections")) settle();
      });
    });
    spawned.removeAllListeners("exit");
    const stop = async (): Promise<void> => {
      if (spawned.exitCode !== null) return;
      const exited = new Promise((resolve) => spawned.once("exit", resolve));
      spawned.kill("SIGTERM");
      await exited;
    };
    return { port, note: `redis-server started by the bench on 127.0.0.1:${port}`, stop };
  } catch (error) {
    child?.kill("SIGKILL");
    return { port: 6379, note: `could not start redis-server (${(error as Error).message.split("\n")[0]}); FELL BACK to 127.0.0.1:6379`, stop: async () => {} };
  }
}
