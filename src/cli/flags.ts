import { InvalidArgumentError, Option, type Command } from "commander";
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
  if (spec.secret) parts.push("(secret)");
  return parts.filter(Boolean).join(" ");
}

/** Params from the parsed flags: only the flags actually given. */
export function paramsFromFlags(opts: Record<string, unknown>, flags: FlagMap): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [attr, key] of flags) if (opts[attr] !== undefined) params[key] = opts[attr];
  return params;
}
