import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openSqliteBroker } from "../../src/broker/sqlite.js";
import { openStore } from "../../src/store/index.js";
import { CONFIG, fluid, useTempProjects } from "../helpers/cli.js";
import { makeRecord, useTempStores } from "../store/temp-store.js";

const { tempDir } = useTempStores();
const project = useTempProjects();
const mode = (path: string): number => statSync(path).mode & 0o777;

describe("store file permissions", () => {
  it("creates the directory 0700 and the file, its -wal and -shm 0600, whatever the umask", () => {
    const dir = join(tempDir(), "a", ".fluid");
    const path = join(dir, "fluid.db");
    const umask = process.umask(0o022);
    try {
      const store = openStore({ path });
      store.writeAttempt(makeRecord());
      store.flush();
      expect(mode(dir)).toBe(0o700);
      for (const file of [path, `${path}-wal`, `${path}-shm`]) {
        expect(existsSync(file), file).toBe(true);
        expect(mode(file), file).toBe(0o600);
      }
      store.close();
    } finally {
      process.umask(umask);
    }
  });

  it("makes fluid's own .fluid directory 0700 when something else created it first; leaves other directories alone", async () => {
    const root = tempDir();
    mkdirSync(join(root, ".fluid"), { mode: 0o755 });
    const broker = openSqliteBroker({ path: join(root, ".fluid", "fluid.db") });
    await broker.close();
    expect(mode(join(root, ".fluid"))).toBe(0o700);
    expect(mode(join(root, ".fluid", "fluid.db"))).toBe(0o600);

    mkdirSync(join(root, "shared"), { mode: 0o755 });
    openStore({ path: join(root, "shared", "runs.db") }).close();
    expect(mode(join(root, "shared"))).toBe(0o755);
    expect(mode(join(root, "shared", "runs.db"))).toBe(0o600);
  });

  it("fluid queue (real process) leaves .fluid 0700 and the store 0600", async () => {
    const dir = project({ "fluid.config.ts": CONFIG, "tasks/t.ts": `import { task } from "fluid-tasks";\nexport const quick = task({}, async () => 1);\n` });
    const r = await fluid(["queue", "quick"], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(mode(join(dir, ".fluid"))).toBe(0o700);
    expect(mode(join(dir, ".fluid", "fluid.db"))).toBe(0o600);
  });
});
