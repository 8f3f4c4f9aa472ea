import { InvalidArgumentError, Option, type Command } from "commander";
import { UsageError } from "../core/errors.js";
import type { ParamKind, ParamSpec } from "../task/params.js";

/** The params flags added to a command: commander attribute name -> param key. */
export type FlagMap = Map<string, string>;

const PLACEHOLDER: Record<ParamKind, string> = {
  string: "<string>", number: "<number>", boolean: "", enum: "<choice>", array: "<value>", date: "<date>", bigint: "<integer>", json: "<json>",
};

/**
 * Adds one option per param to `cmd`: `--kebab-name <type>`; booleans as `--x` / `--no-x`;
 * enums with their choices; arrays as a repeatable flag; anything else as a JSON value.
 * Params whose flag is in `reserved` get no flag (they can still be given with --params).
 * Commander applies no defaults: zod does, so a flag is only set when given.
 */
export function addParamOptions(cmd: Command, specs: ParamSpec[], reserved: Set<string>): { flags: FlagMap; skipped: ParamSpec[] } {
  const flags: FlagMap = new Map();
  const skipped: ParamSpec[] = [];
  for (const spec of specs) {
    if (reserved.has(spec.flag) || (spec.kind === "boolean" && reserved.has(`--no-${spec.flag.slice(2)}`))) {
      skipped.push(spec);
      continue;
    }
    const help = helpText(spec);
    if (spec.kind === "boolean") {
      const on = new Option(spec.flag, help);
      const off = new Option(`--no-${spec.flag.slice(2)}`, `set ${spec.flag} to false`);
      cmd.addOption(on).addOption(off);
      flags.set(on.attributeName(), spec.key);
      continue;
    }
    const kind = spec.kind === "array" ? spec.itemKind ?? "string" : spec.kind;
    const option = new Option(`${spec.flag} ${PLACEHOLDER[kind] || "<value>"}`, help + (spec.kind === "array" ? " (repeatable)" : ""));
    if (spec.choices && spec.kind === "enum") option.choices(spec.choices);
    const parse = parserFor(kind, spec);
    option.argParser(spec.kind === "array" ? (v: string, prev: unknown) => [...((prev as unknown[] | undefined) ?? []), parse(v)] : (v: string) => parse(v));
    cmd.addOption(option);
    flags.set(option.attributeName(), spec.key);
  }
  return { flags, skipped };
}

function parserFor(kind: ParamKind, spec: ParamSpec): (value: string) => unknown {
  switch (kind) {
    case "number":
      return (v) => {
        const n = Number(v);
        if (v.trim() === "" || Number.isNaN(n)) throw new InvalidArgumentError(`expected a number, got "${v}"`);
        return n;
      };
    case "bigint":
      return (v) => {
        try {
          return BigInt(v);
        } catch {
          throw new InvalidArgumentError(`expected a whole number, got "${v}"`);
        }
      };
    case "date":
      return (v) => {
        const d = new Date(v);
        if (Number.isNaN(d.getTime())) throw new InvalidArgumentError(`expected a date such as 2026-01-31 or 2026-01-31T12:00:00Z, got "${v}"`);
        return d;
      };
    case "enum":
      return (v) => {
        if (spec.choices && !spec.choices.includes(v)) throw new InvalidArgumentError(`expected one of ${spec.choices.join(", ")}, got "${v}"`);
        return v;
      };
    case "json":
      return (v) => {
        try {
          return JSON.parse(v);
        } catch {
          throw new InvalidArgumentError(`expected a JSON value, got ${JSON.stringify(v)}`);
        }
      };
    default:
      return (v) => v;
  }
}

function helpText(spec: ParamSpec): string {
  const parts = [spec.description ?? ""];
  if (spec.required) parts.push("(required)");
  else if (spec.default !== undefined) parts.push(`(default: ${spec.secret ? "[redacted]" : JSON.stringify(spec.default)})`);
  else parts.push("(optional)");
  if (spec.secret) parts.push("(secret: prefer the variable, which keeps it off the command line)");
  parts.push(`(env: ${paramEnvName(spec)})`);
  return parts.filter(Boolean).join(" ");
}

/** Params from the parsed flags: only the flags actually given. */
export function paramsFromFlags(opts: Record<string, unknown>, flags: FlagMap): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [attr, key] of flags) if (opts[attr] !== undefined) params[key] = opts[attr];
  return params;
}

/** The environment variable a param may come from: `maxCount` -> `FLUID_PARAM_MAX_COUNT`. */
export function paramEnvName(spec: Pick<ParamSpec, "flag">): string {
  return `FLUID_PARAM_${spec.flag.slice(2).replace(/-/g, "_").toUpperCase()}`;
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off"]);

/**
 * Params from FLUID_PARAM_<NAME> variables, parsed as their flags are: so a secret reaches a
 * task without being on the command line (where `ps` shows it). An empty variable counts as
 * not set (CI systems give an empty value for a secret that is not defined). Booleans take
 * 1/0, true/false, yes/no, on/off; arrays a JSON array or one value.
 */
export function paramsFromEnv(specs: ParamSpec[], env: NodeJS.ProcessEnv): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const spec of specs) {
    const name = paramEnvName(spec);
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    try {
      params[spec.key] = fromEnv(spec, raw);
    } catch (error) {
      throw new UsageError(`${name}: ${(error as Error).message}`, { hint: `it gives the param ${spec.key} (${spec.flag}); unset it or fix its value` });
    }
  }
  return params;
}

function fromEnv(spec: ParamSpec, raw: string): unknown {
  if (spec.kind === "boolean") {
    const v = raw.trim().toLowerCase();
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
    throw new Error(`expected true or false (also 1/0, yes/no, on/off), got "${raw}"`);
  }
  if (spec.kind === "array") {
    const parse = parserFor(spec.itemKind ?? "string", spec);
    if (!raw.trimStart().startsWith("[")) return [parse(raw)];
    let items: unknown;
    try {
      items = JSON.parse(raw);
    } catch {
      throw new Error(`expected a JSON array, got ${JSON.stringify(raw)}`);
    }
    if (!Array.isArray(items)) throw new Error(`expected a JSON array, got ${JSON.stringify(raw)}`);
    return items.map((item) => (typeof item === "string" ? parse(item) : item));
  }
  return parserFor(spec.kind, spec)(raw);
}
