import { describe, expect, it } from "vitest";
import { task } from "../../src/task/task.js";
import { mergeNotify, resolveNotify } from "../../src/task/notify-options.js";
import { ConfigError } from "../../src/core/errors.js";
import { resolveConfig } from "../../src/config/load.js";

const fail = (message: string, hint?: string) => new ConfigError(message, { hint });
const noop = async () => {};

describe("notify options", () => {
  it("resolves each notifier with its defaults", () => {
    const spec = resolveNotify({
      webhook: "https://hooks.example/a",
      command: "logger fluid",
      mailto: "ops@example.com, root",
      healthchecks: "https://hc-ping.com/abc/",
    }, fail);
    expect(spec).toEqual({
      webhook: [{ url: "https://hooks.example/a", headers: {}, timeoutMs: 10_000, attempts: 3, retryDelayMs: 1000 }],
      command: { run: "logger fluid", timeoutMs: 30_000 },
      mailto: ["ops@example.com", "root"],
      healthchecks: { start: "https://hc-ping.com/abc/start", success: "https://hc-ping.com/abc", fail: "https://hc-ping.com/abc/fail", timeoutMs: 10_000 },
    });
    expect(resolveNotify({ webhook: [{ url: "http://x.test/", timeout: "2s", attempts: 5, retryDelay: 10, headers: { a: "b" } }] }, fail)).toEqual({
      webhook: [{ url: "http://x.test/", headers: { a: "b" }, timeoutMs: 2000, attempts: 5, retryDelayMs: 10 }],
    });
    expect(resolveNotify({ mailto: "" }, fail)).toEqual({ mailto: false });
    expect(resolveNotify(false, fail)).toBe(false);
  });

  it("refuses what it cannot send, naming the option", () => {
    expect(() => resolveNotify({ webhok: "x" }, fail)).toThrow(/unknown notify option "webhok"/);
    expect(() => resolveNotify({ webhook: "ftp://x" }, fail)).toThrow(/notify.webhook must be an http\(s\) URL/);
    expect(() => resolveNotify({ webhook: { url: "http://x.test", attempts: 0 } }, fail)).toThrow(/attempts/);
    expect(() => resolveNotify({ mailto: "-oQ/tmp/x" }, fail)).toThrow(/invalid address/);
    expect(() => resolveNotify({ command: "" }, fail)).toThrow(/notify.command/);
    expect(() => resolveNotify({ healthchecks: {} }, fail)).toThrow(/at least one/);
    expect(() => resolveNotify({ logLines: -1 }, fail)).toThrow(/logLines/);
    expect(() => resolveNotify({ healthchecks: "https://hc-ping.com/x" }, fail, true)).toThrow(/belongs to one task/);
  });

  it("a task's notify is laid over the config's, notifier by notifier", () => {
    const config = resolveNotify({ webhook: "https://hooks.example/all", mailto: "ops@example.com", logLines: 5 }, fail);
    const own = resolveNotify({ mailto: "dba@example.com" }, fail);
    expect(mergeNotify(config, own)).toMatchObject({ webhook: [{ url: "https://hooks.example/all" }], mailto: ["dba@example.com"], logLines: 5 });
    expect(mergeNotify(config, resolveNotify({ webhook: false }, fail))).toEqual({ mailto: ["ops@example.com"], logLines: 5 });
    expect(mergeNotify(config, resolveNotify({ mailto: "" }, fail))).not.toHaveProperty("mailto");
    expect(mergeNotify(config, false)).toBeUndefined();
    expect(mergeNotify(config, undefined)).toMatchObject({ webhook: [{}], mailto: ["ops@example.com"] });
    expect(mergeNotify(undefined, undefined)).toBeUndefined();
    expect(mergeNotify(undefined, resolveNotify({ logLines: 3 }, fail))).toBeUndefined();
    expect(mergeNotify(undefined, own)?.logLines).toBe(20);
  });

  it("task({ notify }) validates it where the task is defined; the config refuses a bad one", () => {
    expect(task({ name: "a", notify: { mailto: "ops@example.com" } }, noop).notify).toEqual({ mailto: ["ops@example.com"] });
    expect(task({ name: "b", notify: false }, noop).notify).toBe(false);
    expect(task({ name: "c" }, noop).notify).toBeUndefined();
    expect(() => task({ name: "d", notify: { webhook: "nope" } }, noop)).toThrow(/task "d": notify.webhook must be an http\(s\) URL/);
    expect(resolveConfig({ tasks: ["x"], notify: { webhook: "http://127.0.0.1:1/" } }, "/p/fluid.config.ts").notify).toMatchObject({ webhook: [{ url: "http://127.0.0.1:1/" }] });
    expect(resolveConfig({ tasks: ["x"] }, "/p/fluid.config.ts").notify).toBeUndefined();
    expect(() => resolveConfig({ tasks: ["x"], notify: { mailto: 3 } }, "/p/fluid.config.ts")).toThrow(/notify.mailto/);
  });
});
