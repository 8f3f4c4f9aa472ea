import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { SseHub } from "../../src/http/sse.js";

/** A response that keeps what is written (the hub only writes, ends, and listens for close). */
class Sink extends EventEmitter {
  chunks: string[] = [];
  writableLength = 0;
  ended = false;
  writeHead(): this {
    return this;
  }
  write(chunk: string | Buffer): boolean {
    this.chunks.push(chunk.toString());
    return true;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.emit("close");
  }
  messages(): Array<{ event: string; data: unknown }> {
    return this.chunks.join("").split("\n\n").filter((b) => b.startsWith("event:")).map((b) => ({
      event: /^event: (.*)$/m.exec(b)![1]!, data: JSON.parse(/^data: (.*)$/m.exec(b)![1]!) as unknown,
    }));
  }
}

describe("SseHub", () => {
  const hubs: SseHub[] = [];
  afterEach(() => {
    for (const h of hubs.splice(0)) h.close();
  });
  const hub = (o: ConstructorParameters<typeof SseHub>[0]) => {
    const h = new SseHub(o);
    hubs.push(h);
    return h;
  };

  it("writes a batch to every client as one chunk, and nothing without clients", () => {
    const h = hub({ batchMs: 10_000 });
    h.publish("run-start", { id: "x" }); // no client: dropped at once
    const a = new Sink();
    const b = new Sink();
    h.add(a as unknown as ServerResponse, ": hi\n\n");
    h.add(b as unknown as ServerResponse, ": hi\n\n");
    h.publish("run-start", { id: "1" });
    h.publish("run-end", { id: "1", state: "success" });
    expect(a.chunks).toHaveLength(1);
    h.flush();
    expect(a.chunks).toHaveLength(2);
    expect(a.chunks[1]).toBe(b.chunks[1]);
    expect(a.messages()).toEqual([{ event: "run-start", data: { id: "1" } }, { event: "run-end", data: { id: "1", state: "success" } }]);
    a.emit("close");
    expect(h.size).toBe(1);
  });

  it("replaces a batch over the limit by one overflow message", () => {
    const h = hub({ batchMs: 10_000, maxPerBatch: 3 });
    const a = new Sink();
    h.add(a as unknown as ServerResponse, "");
    for (let i = 0; i < 10; i++) h.publish("run-end", { id: String(i) });
    h.flush();
    expect(a.messages()).toEqual([{ event: "overflow", data: { dropped: 10 } }]);
    h.publish("task", { name: "t" });
    h.flush();
    expect(a.messages().at(-1)).toEqual({ event: "task", data: { name: "t" } });
  });

  it("drops a client that stopped reading, and ends every stream on close", () => {
    const h = hub({ batchMs: 10_000 });
    const slow = new Sink();
    const ok = new Sink();
    h.add(slow as unknown as ServerResponse, "");
    h.add(ok as unknown as ServerResponse, "");
    slow.writableLength = 2 << 20;
    h.publish("run-start", { id: "1" });
    h.flush();
    expect(h.size).toBe(1);
    h.close();
    expect(ok.ended).toBe(true);
  });
});
