import { ParamsError, type ParamsIssue } from "../core/errors.js";
import { suggest } from "../suggest.js";
import type { ParamsSchema } from "../core/types.js";

/** How a param is given on the command line. */
export type ParamKind = "string" | "number" | "boolean" | "enum" | "array" | "date" | "bigint" | "json";

/** One param of a task, as the CLI and `fluid ls` see it. */
export interface ParamSpec {
  /** Key in the params object (as written in the schema). */
  key: string;
  /** The CLI flag, kebab case: `maxCount` and `max_count` both give `--max-count`. */
  flag: string;
  kind: ParamKind;
  /** Kind of each element of an array param. */
  itemKind?: Exclude<ParamKind, "array">;
  /** Allowed values of an enum param (or of its elements). */
  choices?: string[];
  /** Required: neither optional nor defaulted. */
  required: boolean;
  /** Default value, when the schema has one. */
  default?: unknown;
  /** Text from `.describe()`. */
  description?: string;
  /** Marked with `secret()`: never printed or recorded. */
  secret: boolean;
}

type Def = { type: string; innerType?: Schema; element?: Schema; entries?: Record<string, string | number>; values?: unknown[]; defaultValue?: unknown; in?: Schema; shape?: Record<string, Schema> };
type Schema = { _zod: { def: Def }; description?: string; meta?: () => Record<string, unknown> | undefined };

const WRAPPERS = new Set(["optional", "nullable", "default", "prefault", "catch", "readonly", "nonoptional"]);

/**
 * Marks a param's zod schema as secret: its value shows as `[redacted]` in output, in the
 * store and in logs; the task itself gets the real value. Pass it as an environment variable
 * (`FLUID_PARAM_<NAME>`) so it is not on the command line either.
 * @example params: z.object({ user: z.string(), password: secret(z.string()) })
 */
export function secret<T extends { meta(data: Record<string, unknown>): T }>(schema: T): T {
  return schema.meta({ secret: true });
}

/** Lists the params of a schema with their flags, kinds, defaults and help text. */
export function describeParams(schema: ParamsSchema): ParamSpec[] {
  const shape = (schema as unknown as Schema)._zod.def.shape ?? {};
  return Object.entries(shape).map(([key, field]) => specOf(key, field));
}

function specOf(key: string, field: Schema): ParamSpec {
  let required = true;
  let def: unknown;
  let description = field.description;
  let isSecret = metaOf(field)?.secret === true;
  let s = field;
  // Walk through wrappers (optional, default, ...) to the value type, collecting what they say.
  for (let d = s._zod.def; WRAPPERS.has(d.type) || d.type === "pipe"; d = s._zod.def) {
    if (d.type === "optional" || d.type === "nullable") required = false;
    if (d.type === "default" || d.type === "prefault") {
      required = false;
      def = d.defaultValue;
    }
    s = (d.type === "pipe" ? d.in : d.innerType) as Schema;
    description ??= s.description;
    isSecret ||= metaOf(s)?.secret === true;
  }
  const spec: ParamSpec = { key, flag: `--${kebab(key)}`, kind: "json", required, secret: isSecret };
  if (def !== undefined) spec.default = def;
  if (description) spec.description = description;
  Object.assign(spec, kindOf(s));
  if (spec.kind === "array") {
    const element = unwrap(s._zod.def.element!);
    const inner = kindOf(element);
    if (inner.kind === "array" || inner.kind === "json") spec.kind = "json";
    else {
      spec.itemKind = inner.kind as Exclude<ParamKind, "array">;
      if (inner.choices) spec.choices = inner.choices;
    }
  }
  return spec;
}

function kindOf(s: Schema): { kind: ParamKind; choices?: string[] } {
  const d = s._zod.def;
  switch (d.type) {
    case "string":
    case "number":
    case "boolean":
    case "date":
    case "bigint":
    case "array":
      return { kind: d.type };
    case "enum":
      return { kind: "enum", choices: Object.values(d.entries ?? {}).map(String) };
    case "literal": {
      const values = d.values ?? [];
      return values.every((v) => typeof v === "string") ? { kind: "enum", choices: values as string[] } : { kind: "json" };
    }
    default:
      return { kind: "json" };
  }
}

function unwrap(s: Schema): Schema {
  for (let d = s._zod.def; WRAPPERS.has(d.type); d = s._zod.def) s = d.innerType!;
  return s;
}

function metaOf(s: Schema): Record<string, unknown> | undefined {
  try {
    return typeof s.meta === "function" ? s.meta() : undefined;
  } catch {
    return undefined;
  }
}

/** `maxCount` / `max_count` -> `max-count`. */
export function kebab(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .replace(/_/g, "-")
    .toLowerCase();
}

/**
 * Validates raw params against the task's schema and returns the parsed value, or throws
 * ParamsError naming the flags. A key the schema does not know is refused (a typo must not
 * pass silently), unless the schema keeps unknown keys (`z.looseObject`, `.passthrough()`)
 * or refuses them itself (`z.strictObject`). One message per kind of mistake: a param not
 * given is "required, but not given", whatever its type.
 */
export function validateParams(taskName: string, schema: ParamsSchema, input: unknown): Record<string, unknown> {
  const given = input ?? {};
  const result = schema.safeParse(given);
  const unknown = unknownKeys(schema, given);
  if (result.success && unknown.length === 0) return result.data as Record<string, unknown>;
  const described = describeParams(schema);
  const specs = new Map(described.map((s) => [s.key, s]));
  const known = described.map((s) => s.key);
  const issues: ParamsIssue[] = unknown.map((key) => {
    const close = suggest(key, known);
    return { path: key, message: `unknown param${close ? `; did you mean "${close}" (${specs.get(close)!.flag})?` : `; known params: ${known.join(", ") || "none"}`}` };
  });
  for (const issue of result.success ? [] : result.error.issues) {
    const path = issue.path.map(String).join(".");
    const spec = specs.get(String(issue.path[0] ?? ""));
    const missing = issue.path.length > 0 && valueAt(given, issue.path) === undefined && issue.code !== "custom";
    const out: ParamsIssue = { path, message: missing ? "required, but not given" : issue.message };
    if (issue.code === "unrecognized_keys") out.message = `${issue.message}; known params: ${known.join(", ") || "none"}`;
    if (spec) out.flag = spec.flag + (path.includes(".") ? ` (${path})` : "");
    issues.push(out);
  }
  throw new ParamsError(taskName, issues, {
    hint: `see \`fluid run ${taskName} --help\` for the params`,
  });
}

/** Top-level keys of `input` that a stripping object schema (zod's default) would drop silently. */
function unknownKeys(schema: ParamsSchema, input: unknown): string[] {
  const def = (schema as unknown as Schema)._zod.def as Def & { catchall?: unknown };
  if (def.type !== "object" || def.catchall !== undefined || !def.shape) return [];
  if (typeof input !== "object" || input === null || Array.isArray(input)) return [];
  return Object.keys(input).filter((key) => !Object.hasOwn(def.shape!, key));
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const key of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

const REDACTED = "[redacted]";

/** Copy of params with every secret field replaced, safe to print and record. */
export function redactParams(schema: ParamsSchema, params: unknown): unknown {
  if (typeof params !== "object" || params === null || Array.isArray(params)) return params;
  const secrets = secretKeys(schema);
  if (secrets.size === 0) return params;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) out[k] = secrets.has(k) && v !== undefined ? REDACTED : v;
  return out;
}

/** Keys of the secret params of a schema (cached per schema). */
function secretKeys(schema: ParamsSchema): Set<string> {
  let keys = secretCache.get(schema);
  if (!keys) {
    keys = new Set(describeParams(schema).filter((s) => s.secret).map((s) => s.key));
    secretCache.set(schema, keys);
  }
  return keys;
}
const secretCache = new WeakMap<object, Set<string>>();
