import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { MAX_LOG_LINE_BYTES } from "../../src/task/capture.js";
import type { LogLine } from "../../src/core/types.js";
import { makeRecord, readTable, useTempStores } from "./temp-store.js";

const { open } = useTempStores();

const lines = (from: number, n: number): LogLine[] =>
  Array.from({ length: n }, (_, i) => ({ ts: from + i, level: "stdout" as const, message: `line ${from + i}` }));

describe("store log cap", () => {
  it("keeps the first and the last half of logCap lines and counts the lines and bytes in between", () => {
    const store = open({ logCap: 1000 });
    store.writeAttempt(makeRecord({ id: "r" }));
    // Batches of several sizes, flushed in between, as a noisy run's lines arrive.
    let next = 0;
    for (const n of [300, 700, 1, 2500, 999, 4000, 1500]) {
      store.appendLogs("r", 1, lines(next, n));
      next += n;
      store.flush();
    }
    const total = next; // 10,000 lines
    const d = store.getRun("r");
    const kept = d.logs.filter((l) => l.level !== "warn").map((l) => l.message);
    expect(kept).toEqual([...lines(0, 500), ...lines(total - 500, 500)].map((l) => l.message));
    const droppedLines = lines(500, total - 1000);
    expect(d.droppedLogLines).toBe(droppedLines.length);
    expect(d.droppedLogBytes).toBe(droppedLines.reduce((n, l) => n + Buffer.byteLength(l.message), 0));
    // The marker sits at the gap, dated like the first line after it.
    expect(d.logs[500]).toMatchObject({
      level: "warn", ts: total - 500,
      message: `[fluid] … ${droppedLines.length} lines (${d.droppedLogBytes} bytes) dropped … (logCap: the store keeps the first and the last lines of an attempt)`,
    });
    expect(readTable(store.path, "SELECT count(*) AS n FROM logs")).toEqual([{ n: 1000 }]);
  });

  it("a batch bigger than the cap writes only the lines it keeps", () => {
    const store = open({ logCap: 4 });
    store.writeAttempt(makeRecord({ id: "r" }));
    store.appendLogs("r", 1, lines(0, 50));
    const d = store.getRun("r");
    expect(d.logs.map((l) => l.message)).toEqual(["line 0", "line 1", expect.stringContaining("46 lines"), "line 48", "line 49"]);
  });

  it("cuts a line longer than 8 KiB and says how many bytes it dropped", () => {
    const store = open();
    store.writeAttempt(makeRecord({ id: "r" }));
    const long = "é".repeat(10_000); // 20,000 bytes, 2 per character
    store.appendLogs("r", 1, [{ ts: 1, level: "stdout", message: long }, { ts: 2, level: "info", message: "short" }]);
    const [cut, short] = store.getRun("r").logs;
    const keptPart = cut!.message.slice(0, cut!.message.indexOf(" … ["));
    expect(keptPart).toBe("é".repeat(MAX_LOG_LINE_BYTES / 2));
    expect(cut!.message.endsWith(` … [${20_000 - MAX_LOG_LINE_BYTES} more bytes of this line dropped]`)).toBe(true);
    expect(short!.message).toBe("short");
  });

  it("reads lines dropped before byte counting (schema v3) with a marker after the kept lines", () => {
    const store = open({ logCap: 2 });
    store.writeAttempt(makeRecord({ id: "r" }));
    store.appendLogs("r", 1, lines(0, 2));
    store.flush();
    const path = store.path;
    store.close();
    // What a v3 store holds: the first lines, a count of the rest, no bytes.
    const db = new Database(path);
    db.prepare("UPDATE log_counts SET dropped = 5, dropped_ts = 9, dropped_bytes = NULL").run();
    db.close();
    const again = open({ path });
    const d = again.getRun("r");
    expect(d.logs.map((l) => l.message)).toEqual(["line 0", "line 1", "[fluid] … 5 lines dropped … (logCap: the store keeps the first and the last lines of an attempt)"]);
    expect(d.logs[2]!.ts).toBe(9);
  });
});
