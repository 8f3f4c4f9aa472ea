import { ScheduleError } from "../core/errors.js";
import { describeValue } from "./validate.js";

/** The time fields of `crontab()`, from the finest to the coarsest. */
export const CRONTAB_FIELDS = ["second", "minute", "hour", "day", "month", "dayOfWeek"] as const;

/** One time field of `crontab()`. */
export type CrontabFieldName = (typeof CRONTAB_FIELDS)[number];

/** A field value: a number, or text of comma-separated `*`, `n`, `a-b`, `*\/n`, `a-b/n`. */
export type CrontabValue = number | string;

/** A validated field: `text` is what croner gets (names replaced by numbers), `values` the set. */
export interface ParsedField {
  readonly text: string;
  readonly values: readonly number[];
}

interface FieldSpec {
  min: number;
  max: number;
  /** Highest value `*` stands for (dayOfWeek: 6, since 7 is Sunday again). */
  starMax: number;
  /** Names by value offset from `nameBase` (jan = 1, sun = 0). */
  names?: readonly string[];
  nameBase?: number;
}

const MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
const DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

const SPECS: Record<CrontabFieldName, FieldSpec> = {
  second: { min: 0, max: 59, starMax: 59 },
  minute: { min: 0, max: 59, starMax: 59 },
  hour: { min: 0, max: 23, starMax: 23 },
  day: { min: 1, max: 31, starMax: 31 },
  month: { min: 1, max: 12, starMax: 12, names: MONTHS, nameBase: 1 },
  dayOfWeek: { min: 0, max: 7, starMax: 6, names: DAYS, nameBase: 0 },
};

const PIECE = /^(?:(\*)|([a-z0-9]+)(?:-([a-z0-9]+))?)(?:\/(.*))?$/;

const GRAMMAR_HINT =
  'a field takes "*", "n", "a-b", "*/n" or "a-b/n", or a comma-separated list of them, e.g. "0,30" or "8-18/2"; ' +
  "for L, W and # write a cron() string instead";

/** Validates one field and expands it; throws a ScheduleError naming the field and the bad piece. */
export function parseField(field: CrontabFieldName, value: CrontabValue): ParsedField {
  const spec = SPECS[field];
  if (typeof value === "number") {
    if (!Number.isInteger(value)) fail(field, String(value), undefined, `is not a whole number; write a whole ${field} from ${spec.min} to ${spec.max}`);
    if (value < spec.min || value > spec.max) fail(field, String(value), undefined, `is out of range ${spec.min}-${spec.max}`);
    return { text: String(value), values: [normalise(field, value)] };
  }
  if (typeof value !== "string") {
    throw new ScheduleError(`crontab: ${field} must be a number or a string, got ${describeValue(value)}`, { hint: GRAMMAR_HINT });
  }
  if (value.trim() === "") throw new ScheduleError(`crontab: ${field} is empty; write "*" for every ${field}, or leave it out`);
  const texts: string[] = [];
  const values = new Set<number>();
  const pieces = value.split(",").map((p) => p.trim());
  if (pieces.includes("")) {
    throw new ScheduleError(`crontab: ${field} "${value}" has an empty list item; remove the extra comma`, { hint: GRAMMAR_HINT });
  }
  for (const piece of pieces) {
    const ctx = pieces.length > 1 ? value : undefined;
    texts.push(parsePiece(field, spec, piece, ctx, values));
  }
  return { text: texts.join(","), values: [...values].sort((a, b) => a - b) };
}

/** Parses one comma-separated piece into `into`; returns its text for croner. */
function parsePiece(field: CrontabFieldName, spec: FieldSpec, piece: string, whole: string | undefined, into: Set<number>): string {
  const m = PIECE.exec(piece.toLowerCase());
  if (!m) fail(field, piece, whole, `is not valid; write ${example(field, spec)}`);
  const [, star, fromText, toText, stepText] = m;
  const from = star ? spec.min : token(field, spec, fromText!, piece, whole);
  const to = star ? spec.starMax : toText === undefined ? from : token(field, spec, toText, piece, whole);
  let step = 1;
  if (stepText !== undefined) {
    step = /^\d+$/.test(stepText) ? Number(stepText) : Number.NaN;
    const span = spec.starMax - spec.min + 1;
    if (Number.isNaN(step)) fail(field, piece, whole, `has step "${stepText}", which is not a whole number; write e.g. "*/5"`);
    if (step === 0) fail(field, piece, whole, `has step 0; the step must be 1 or more, e.g. "*/5"`);
    if (step > span) fail(field, piece, whole, `has step ${step}, larger than the range ${spec.min}-${spec.starMax}`);
    if (!star && toText === undefined) {
      // croner (like most crons) rejects "5/15": say what it would mean.
      fail(field, piece, whole, `needs a range before the step; write "${from}-${spec.starMax}/${step}" (from ${from} on) or "*/${step}"`);
    }
  }
  for (const v of [from, to]) {
    if (v < spec.min || v > spec.max) fail(field, piece, whole, `is out of range ${spec.min}-${spec.max}`);
  }
  if (from > to) {
    fail(field, piece, whole, `runs backwards (${from} > ${to}); write the smaller value first, or a list such as "${from}-${spec.starMax},${spec.min}-${to}"`);
  }
  for (let v = from; v <= to; v += step) into.add(normalise(field, v));
  if (star) return step === 1 ? "*" : `*/${step}`;
  const range = toText === undefined ? `${from}` : `${from}-${to}`;
  return stepText === undefined ? range : `${range}/${step}`;
}

/** A number or a name (3 letters or in full: "jan", "january", "mon", "monday"). */
function token(field: CrontabFieldName, spec: FieldSpec, text: string, piece: string, whole: string | undefined): number {
  if (/^\d+$/.test(text)) return Number(text);
  const index = spec.names?.findIndex((name) => name === text || name.slice(0, 3) === text) ?? -1;
  if (index >= 0) return index + (spec.nameBase ?? 0);
  const names = spec.names ? ` or a name (${spec.names[0]!.slice(0, 3)}-${spec.names.at(-1)!.slice(0, 3)})` : "";
  const what = text === piece.toLowerCase() ? "is not a number" : `has "${text}", which is not a number`;
  fail(field, piece, whole, `${what}${names}; write ${example(field, spec)}`);
}

/** dayOfWeek 7 is Sunday, like 0. */
function normalise(field: CrontabFieldName, v: number): number {
  return field === "dayOfWeek" && v === 7 ? 0 : v;
}

function example(field: CrontabFieldName, spec: FieldSpec): string {
  const names = field === "month" ? ', names such as "jan-mar"' : field === "dayOfWeek" ? ', names such as "mon-fri"' : "";
  return `a number ${spec.min}-${spec.max}, "*", "a-b", "*/n" or "a-b/n"${names}, or a comma-separated list of them`;
}

function fail(field: CrontabFieldName, piece: string, whole: string | undefined, problem: string): never {
  const where = whole === undefined ? `"${piece}"` : `"${piece}" (in "${whole}")`;
  throw new ScheduleError(`crontab: ${field} ${where} ${problem}`, { hint: GRAMMAR_HINT });
}
