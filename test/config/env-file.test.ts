import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyEnvFiles, envFileRef, parseEnvFile, readEnvFiles } from "../../src/config/env-file.js";
import { resolveConfig } from "../../src/config/load.js";

const parse = (text: string): Record<string, string> => Object.fromEntries(parseEnvFile(text, "/p/.env"));

describe("parseEnvFile (systemd's EnvironmentFile= grammar)", () => {
  it("reads KEY=VALUE lines, skips comments and blank lines, trims around key and unquoted value", () => {
    expect(parse("# a comment\n; another\n\nA=1\n  B = two words  \nC=\nD=x=y\n")).toEqual({ A: "1", B: "two words", C: "", D: "x=y" });
  });

  it("keeps # inside a value (no inline comments, as systemd)", () => {
    expect(parse("URL=http://h/#frag # not a comment\n")).toEqual({ URL: "http://h/#frag # not a comment" });
  });

  it("single quotes are literal, double quotes unescape only \\\" \\\\ \\` \\$", () => {
    expect(parse(`A='it''s $HOME \\n'\nB="say \\"hi\\" \\$HOME \\n \\\\"\n`)).toEqual({ A: "its $HOME \\n", B: 'say "hi" $HOME \\n \\' });
  });

  it("joins quoted and unquoted parts, keeps blanks inside quotes", () => {
    expect(parse(`A=a"b c"d\nB="  padded  "\nC=' x '  \n`)).toEqual({ A: "ab cd", B: "  padded  ", C: " x " });
  });

  it("quoted values may span lines; a backslash at the end of a line continues an unquoted value", () => {
    const env = parse(`KEY="-----BEGIN-----\nabc\n-----END-----"\nLONG=one \\\ntwo\nAFTER=1\n`);
    expect(env).toEqual({ KEY: "-----BEGIN-----\nabc\n-----END-----", LONG: "one two", AFTER: "1" });
  });

  it("does not expand $VAR, tolerates an `export ` prefix and CRLF line ends", () => {
    expect(parse("export A=$HOME\r\nB=2\r\n")).toEqual({ A: "$HOME", B: "2" });
  });

  it("a later line wins", () => {
    expect(parse("A=1\nA=2\n")).toEqual({ A: "2" });
  });

  it("a bad line is an error naming file:line", () => {
    expect(() => parseEnvFile("A=1\n\nthis is not an assignment\n", "/p/.env")).toThrow(/\/p\/\.env:3: no "=" in "this is not an assignment"/);
    expect(() => parseEnvFile("A=1\n1BAD=x\n", "/p/.env")).toThrow(/\.env:2: "1BAD" is not a valid variable name/);
    expect(() => parseEnvFile("A=1\nMY-VAR=x\n", "/p/.env")).toThrow(/\.env:2: "MY-VAR"/);
    expect(() => parseEnvFile('A=1\nB="open\nC=3\n', "/p/.env")).toThrow(/\.env:2: the value of B opens a " quote that is never closed/);
    expect(() => parseEnvFile("A=1\nB='open\n", "/p/.env")).toThrow(/\.env:2: .* ' quote/);
  });

  it("counts lines inside quotes and continuations for the line of a later error", () => {
    expect(() => parseEnvFile('A="x\ny"\nB=1 \\\n2\nbad\n', "/p/.env")).toThrow(/\.env:5:/);
  });
});

describe("reading and applying environment files", () => {
  const dirs: string[] = [];
  const keys: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    for (const k of keys.splice(0)) delete process.env[k];
  });
  const dir = (files: Record<string, string>): string => {
    const d = mkdtempSync(join(tmpdir(), "fluid-env-"));
    dirs.push(d);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
    return d;
  };

  it("a missing file is an error, unless written as -path (optional, as systemd)", () => {
    const d = dir({});
    expect(() => readEnvFiles([envFileRef("./nope.env", d)])).toThrow(/cannot read the environment file .*nope\.env: no such file/);
    expect(readEnvFiles([envFileRef("-./nope.env", d)]).size).toBe(0);
  });

  it("later files win; the environment fluid started with is never overridden; values set from files may change on reload", () => {
    const d = dir({ "a.env": "FLUID_T_A=a\nFLUID_T_B=a\nFLUID_T_REAL=file\n", "b.env": "FLUID_T_B=b\n" });
    keys.push("FLUID_T_A", "FLUID_T_B", "FLUID_T_REAL");
    process.env.FLUID_T_REAL = "real";
    const set = applyEnvFiles([envFileRef("a.env", d), envFileRef("b.env", d)]);
    expect(set.sort()).toEqual(["FLUID_T_A", "FLUID_T_B"]);
    expect([process.env.FLUID_T_A, process.env.FLUID_T_B, process.env.FLUID_T_REAL]).toEqual(["a", "b", "real"]);
    // A reload reads the files again: a value that came from a file may change.
    writeFileSync(join(d, "b.env"), "FLUID_T_B=changed\n");
    applyEnvFiles([envFileRef("a.env", d), envFileRef("b.env", d)]);
    expect(process.env.FLUID_T_B).toBe("changed");
  });

  it("config envFile: a path or a list, relative to the config file; anything else is refused", () => {
    const one = resolveConfig({ tasks: ["./t/*.ts"], envFile: ".env" }, "/srv/app/fluid.config.ts");
    expect(one.envFiles).toEqual([{ path: "/srv/app/.env", optional: false }]);
    const two = resolveConfig({ tasks: ["./t/*.ts"], envFile: ["-./.env", "/etc/app.env"] }, "/srv/app/fluid.config.ts");
    expect(two.envFiles).toEqual([{ path: "/srv/app/.env", optional: true }, { path: "/etc/app.env", optional: false }]);
    expect(resolveConfig({ tasks: ["./t/*.ts"] }, "/srv/app/fluid.config.ts").envFiles).toEqual([]);
    expect(() => resolveConfig({ tasks: ["./t/*.ts"], envFile: 3 }, "/srv/app/fluid.config.ts")).toThrow(/`envFile` must be a path or a list of paths/);
  });
});
