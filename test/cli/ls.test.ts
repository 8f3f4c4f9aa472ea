import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { TaskListing } from "../../src/cli/ls.js";
import { ROOT, fluid, type CliResult } from "../helpers/cli.js";

// A store of this file's own (an empty one: no runs, every task enabled), not the repo's.
const scratch = mkdtempSync(join(tmpdir(), "fluid-ls-test-"));
const ENV = { FLUID_STORE: join(scratch, "fluid.db") };
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function ls(args: string[] = [], env: Record<string, string> = {}): Promise<CliResult> {
  return fluid(["ls", ...args], { cwd: ROOT, env: { ...ENV, ...env } });
}

/** The example tasks that ship in tasks/. */
const EXAMPLES = ["fail", "fib", "flaky", "maybe_abort", "ping", "report", "resize", "say_hi", "sleepy", "tick", "welcome_team"];
const DEMO = ["fail", "flaky", "maybe_abort", "resize", "sleepy"];

type Row = TaskListing;

async function listing(args: string[] = []): Promise<Row[]> {
  const r = await ls(["--json", ...args]);
  expect(r.exitCode).toBe(0);
  return JSON.parse(r.stdout) as Row[];
}

/** Splits the table into rows of cells, using the header's column positions. */
function parseTable(text: string): Array<Record<string, string>> {
  const [header, ...lines] = text.split("\n").filter((l) => l.trim() !== "");
  const names = header!.split(/\s{2,}/);
  const starts = names.map((n) => header!.indexOf(n));
  return lines.map((line) =>
    Object.fromEntries(names.map((n, i) => [n, line.slice(starts[i], i + 1 < starts.length ? starts[i + 1] : undefined).trim()])),
  );
}

describe("fluid ls", () => {
  it("lists every example task in a table, sorted by name", async () => {
    const r = await ls();
    expect(r.exitCode).toBe(0);
    const rows = parseTable(r.stdout);
    expect(r.stdout.split("\n")[0]).toMatch(/^NAME\s+.*SCHEDULE\s+NEXT RUN\s+CPU\s+TIMEOUT\s+.*TAGS\s+DESCRIPTION$/);
    const names = rows.map((row) => row.NAME!);
    expect(names).toEqual([...names].sort());
    for (const name of EXAMPLES) expect(names).toContain(name);
    expect(rows.find((row) => row.NAME === "say_hi")!.DESCRIPTION).toBe("Greet someone");
  });

  it("shows the schedule text and next run of tick and report, and none for the others", async () => {
    const [r, json] = await Promise.all([ls(), listing()]);
    const rows = parseTable(r.stdout);
    for (const name of ["tick", "report"]) {
      const row = rows.find((x) => x.NAME === name)!;
      const text = json.find((x) => x.name === name)!.scheduleText;
      expect(text).toBeTruthy();
      expect(row.SCHEDULE).toBe(text);
      expect(row["NEXT RUN"]).toMatch(/^in .+\(\d{4}-\d{2}-\d{2} \d{2}:\d{2}Z\)$/);
    }
    expect(rows.find((x) => x.NAME === "tick")!.SCHEDULE).toMatch(/1 ?s|second/);
    expect(rows.find((x) => x.NAME === "report")!.SCHEDULE).toMatch(/2|hour/);
    for (const name of ["say_hi", "fib", "resize"]) {
      const row = rows.find((x) => x.NAME === name)!;
      expect(row.SCHEDULE).toBe("-");
      expect(row["NEXT RUN"]).toBe("-");
    }
  });

  it('says "yes" in the CPU column for fib only', async () => {
    const rows = parseTable((await ls()).stdout);
    expect(rows.filter((row) => row.CPU === "yes").map((row) => row.NAME)).toEqual(["fib"]);
    expect(rows.find((row) => row.NAME === "say_hi")!.CPU).toBe("no");
  });

  it("shows each task's timeout and tags", async () => {
    const rows = parseTable((await ls()).stdout);
    const row = (name: string): Record<string, string> => rows.find((x) => x.NAME === name)!;
    expect(row("resize").TIMEOUT).toMatch(/^30 ?s$/);
    expect(row("sleepy").TIMEOUT).toMatch(/^10 ?s$/);
    expect(row("fib").TIMEOUT).toMatch(/^5 ?m/);
    expect(row("resize").TAGS).toBe("demo");
    expect(row("tick").TAGS).toBe("scheduled");
    expect(row("say_hi").TAGS).toBe("-");
  });

  it("--json prints an array describing every task", async () => {
    const before = Date.now();
    const rows = await listing();
    expect(Array.isArray(rows)).toBe(true);
    const byName = new Map(rows.map((r) => [r.name, r]));
    for (const name of EXAMPLES) expect(byName.has(name)).toBe(true);
    for (const row of rows) {
      expect(Object.keys(row)).toEqual(expect.arrayContaining(["name", "schedule", "nextRun", "cpuBound", "timeoutMs", "tags"]));
      expect(typeof row.cpuBound).toBe("boolean");
      expect(Array.isArray(row.tags)).toBe(true);
    }
    for (const name of ["tick", "report"]) {
      const row = byName.get(name)!;
      expect(typeof row.schedule).toBe("string");
      expect(row.nextRun).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(Date.parse(row.nextRun!)).toBeGreaterThanOrEqual(before - 1_000);
    }
    expect(Date.parse(byName.get("tick")!.nextRun!) - before).toBeLessThan(60_000); // every second
    expect(Date.parse(byName.get("report")!.nextRun!) - before).toBeLessThanOrEqual(2 * 3_600_000 + 60_000); // every 2h
    for (const name of ["say_hi", "fib", "sleepy"]) {
      expect(byName.get(name)).toMatchObject({ schedule: null, scheduleText: null, nextRun: null });
    }
    expect(byName.get("fib")).toMatchObject({ cpuBound: true, timeoutMs: 300_000, tags: [] });
    expect(byName.get("say_hi")).toMatchObject({ cpuBound: false, timeoutMs: 60_000, tags: [], description: "Greet someone" });
    expect(byName.get("resize")).toMatchObject({ timeoutMs: 30_000, tags: ["demo"] });
    expect(byName.get("tick")).toMatchObject({ tags: ["scheduled"] });
    expect(byName.get("say_hi")!.file).toBe(join(ROOT, "tasks", "say_hi.ts"));
  });

  it("--tags demo keeps the tasks with that tag", async () => {
    const r = await ls(["--tags", "demo"]);
    expect(r.exitCode).toBe(0);
    expect(parseTable(r.stdout).map((row) => row.NAME).sort()).toEqual(DEMO);
    expect((await listing(["--tags", "demo"])).map((row) => row.name).sort()).toEqual(DEMO);
  });

  it("--tags takes a comma-separated list (any of them)", async () => {
    const names = (await listing(["--tags", "scheduled, demo"])).map((row) => row.name).sort();
    expect(names).toEqual([...DEMO, "report", "tick"].sort());
  });

  it("--tags nope prints nothing on stdout and exits 0", async () => {
    const r = await ls(["--tags", "nope"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("nope");
  });

  it("--tags nope --json prints an empty array", async () => {
    expect(await listing(["--tags", "nope"])).toEqual([]);
  });

  it("prints no ANSI escapes with NO_COLOR, and some with FORCE_COLOR", async () => {
    // eslint-disable-next-line no-control-regex
    const ANSI = /\u001b\[[0-9;]*m/;
    expect((await ls([], { NO_COLOR: "1" })).stdout).not.toMatch(ANSI);
    expect((await ls([], { NO_COLOR: "", FORCE_COLOR: "1" })).stdout).toMatch(ANSI);
  });

  // BUG: the config docs say store path ":memory:" keeps nothing, but `fluid ls` opens the store
  // read-only and better-sqlite3 refuses a read-only in-memory database: exit 2 with
  // "run store :memory:: unexpected error, while opening it: In-memory/temporary databases
  // cannot be readonly" and a "report this as a bug" hint. Expected: the listing, no runs.
  it("works with FLUID_STORE=:memory: (nothing recorded)", async () => {
    const r = await ls([], { FLUID_STORE: ":memory:" });
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(parseTable(r.stdout).map((row) => row.NAME)).toContain("say_hi");
  });
});
