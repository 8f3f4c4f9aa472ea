/**
 * The five time fields of a crontab line, read as Vixie cron (cronie, Debian's cron) reads
 * them, and the pattern that makes `cron()` fire at the same times.
 *
 * Vixie's grammar per field: a comma-separated list of `*`, `n`, `a-b`, each optionally with
 * `/step`; month and day-of-week also take 3-letter names (any case). A backwards range
 * ("fri-sun"), a step on a single number ("5/15"), a step of 0 or a value out of range make
 * cron reject the line, and so does this reader. Day-of-week 7 is Sunday.
 *
 * The day rule (cron's, from its source): when the day-of-month or the day-of-week field
 * *starts with* `*`, a day must match both fields; otherwise (both restricted) a day matching
 * either fires. croner, under `cron()`, takes only a field that is exactly `*` as
 * unrestricted, so "0 0 *\/2 * 1" would be "odd days or Mondays" there and "odd days that
 * are Mondays" in cron: for those lines the pattern gets croner's `+` (both must match) on the
 * day-of-week field.
 */

/** One of the five fields of a crontab line. */
export type VixieField = "minute" | "hour" | "dayOfMonth" | "month" | "dayOfWeek";

/** The fields in the order they are written. */
export const VIXIE_FIELDS: readonly VixieField[] = ["minute", "hour", "dayOfMonth", "month", "dayOfWeek"];

interface Spec {
  low: number;
  high: number;
  names?: readonly string[];
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const SPECS: Record<VixieField, Spec> = {
  minute: { low: 0, high: 59 },
  hour: { low: 0, high: 23 },
  dayOfMonth: { low: 1, high: 31 },
  month: { low: 1, high: 12, names: MONTHS },
  dayOfWeek: { low: 0, high: 7, names: DAYS },
};

const LABEL: Record<VixieField, string> = {
  minute: "minute",
  hour: "hour",
  dayOfMonth: "day of month",
  month: "month",
  dayOfWeek: "day of week",
};

/** The five fields as cron reads them: each field's set of values, and cron's flags. */
export interface VixieSchedule {
  /** Values of each field (dayOfWeek: 0-6, Sunday 0; 7 folded into 0). */
  readonly values: Readonly<Record<VixieField, ReadonlySet<number>>>;
  /** The day-of-month field starts with `*` (cron's DOM_STAR). */
  readonly domStar: boolean;
  /** The day-of-week field starts with `*` (cron's DOW_STAR). */
  readonly dowStar: boolean;
  /** The minute or the hour field starts with `*`: cron's "wildcard job" (MIN_STAR | HR_STAR). */
  readonly wildcard: boolean;
}

/** A field cron would reject: which field and why. */
export class CrontabFieldError extends Error {
  constructor(readonly field: VixieField, message: string) {
    super(message);
    this.name = "CrontabFieldError";
  }
}

/** Reads the five fields as cron does; throws a CrontabFieldError naming the field cron would reject. */
export function readVixieFields(fields: readonly string[]): VixieSchedule {
  if (fields.length !== 5) throw new Error(`readVixieFields: 5 fields expected, got ${fields.length}`);
  const values = {} as Record<VixieField, Set<number>>;
  VIXIE_FIELDS.forEach((name, i) => {
    values[name] = readField(name, fields[i]!);
  });
  if (values.dayOfWeek.has(7)) {
    values.dayOfWeek.delete(7);
    values.dayOfWeek.add(0);
  }
  return {
    values,
    domStar: fields[2]!.startsWith("*"),
    dowStar: fields[4]!.startsWith("*"),
    wildcard: fields[0]!.startsWith("*") || fields[1]!.startsWith("*"),
  };
}

/** True when cron fires the fields at this local minute (its own test: cron.c find_jobs). */
export function vixieMatches(s: VixieSchedule, minute: number, hour: number, dom: number, month: number, dow: number): boolean {
  const v = s.values;
  if (!v.minute.has(minute) || !v.hour.has(hour) || !v.month.has(month)) return false;
  const domOk = v.dayOfMonth.has(dom);
  const dowOk = v.dayOfWeek.has(dow);
  return s.domStar || s.dowStar ? domOk && dowOk : domOk || dowOk;
}

/**
 * The pattern for `cron()` that fires at the times cron fires the five fields, as close to
 * the text written as possible: each field is kept, except a step larger than its field's
 * span (croner refuses "*\/90"; cron takes the first value) which becomes that value, and
 * the day-of-week field, which gets croner's `+` when cron's day rule asks for both day
 * fields to match and croner would not see it (see the file comment). Returns the pattern
 * and, when it differs from the text, a note saying why.
 */
export function cronerPattern(fields: readonly string[]): { pattern: string; note?: string } {
  readVixieFields(fields); // cron would reject it: so do we
  const out = fields.map((text, i) => rewriteBigSteps(VIXIE_FIELDS[i]!, text));
  const notes: string[] = [];
  if (out.some((text, i) => text !== fields[i])) notes.push("a step larger than its field keeps only its first value, as in cron");
  const [dom, dow] = [fields[2]!, fields[4]!];
  const both = dom.startsWith("*") || dow.startsWith("*");
  if (both && dom !== "*" && dow !== "*") {
    out[4] = `+${out[4]}`;
    notes.push(`cron's day rule: "${dom.startsWith("*") ? dom : dow}" starts with "*", so a day must match both day fields ("+" in the pattern)`);
  }
  const pattern = out.join(" ");
  return notes.length > 0 ? { pattern, note: notes.join("; ") } : { pattern };
}

function readField(name: VixieField, text: string): Set<number> {
  const spec = SPECS[name];
  const into = new Set<number>();
  if (text === "") throw new CrontabFieldError(name, `the ${LABEL[name]} field is empty`);
  for (const piece of text.split(",")) {
    if (piece === "") throw new CrontabFieldError(name, `the ${LABEL[name]} field "${text}" has an empty list item`);
    readPiece(name, spec, piece, text, into);
  }
  return into;
}

const PIECE = /^(?:(\*)|([0-9]+|[a-z]+)(?:-([0-9]+|[a-z]+))?)(?:\/([0-9]+))?$/i;

function readPiece(name: VixieField, spec: Spec, piece: string, whole: string, into: Set<number>): void {
  const where = piece === whole ? `"${piece}"` : `"${piece}" (in "${whole}")`;
  const bad = (why: string): never => {
    throw new CrontabFieldError(name, `bad ${LABEL[name]} ${where}: ${why}`);
  };
  if (/^(L|LW|\d+[LW]|[a-z0-9]+L|[a-z0-9]+#\d+|\?)$/i.test(piece) && (name === "dayOfMonth" || name === "dayOfWeek")) {
    bad("L, W, # and ? are not Vixie cron syntax (cron rejects the line); write the schedule with cron() by hand");
  }
  const m = PIECE.exec(piece);
  if (!m) {
    if (/^[0-9a-z]+\/[0-9]+$/i.test(piece)) bad(`cron takes a step only after "*" or a range; write "${piece.split("/")[0]}-${spec.high}/${piece.split("/")[1]}"`);
    bad(`write "*", "n", "a-b", "*/n" or "a-b/n"${spec.names ? ` (names: ${spec.names[0]}-${spec.names.at(-1)})` : ""}`);
  }
  const [, star, fromText, toText, stepText] = m!;
  const from = star ? spec.low : value(fromText!);
  const to = star ? spec.high : toText === undefined ? from : value(toText);
  if (stepText !== undefined && !star && toText === undefined) {
    bad(`cron takes a step only after "*" or a range; write "${from}-${spec.high}/${stepText}"`);
  }
  const step = stepText === undefined ? 1 : Number(stepText);
  if (step === 0) bad("a step of 0");
  if (from > to) bad(`the range runs backwards (${from} > ${to}); cron rejects it`);
  for (let v = from; v <= to; v += step) {
    if (v < spec.low || v > spec.high) bad(`${v} is out of range ${spec.low}-${spec.high}`);
    into.add(v);
  }

  function value(t: string): number {
    if (/^[0-9]+$/.test(t)) return Number(t);
    const index = spec.names?.indexOf(t.toLowerCase()) ?? -1;
    if (index < 0) {
      bad(spec.names ? `"${t}" is not a number or a 3-letter name (${spec.names.join(", ")})` : `"${t}" is not a number`);
    }
    return index + (name === "month" ? 1 : 0);
  }
}

/** "*\/90" in the minute field: cron fires at its first value only; croner refuses the step. */
function rewriteBigSteps(name: VixieField, text: string): string {
  const spec = SPECS[name];
  return text
    .split(",")
    .map((piece) => {
      const m = /^(\*|[0-9a-z]+(?:-[0-9a-z]+)?)\/([0-9]+)$/i.exec(piece);
      if (!m) return piece;
      const step = Number(m[2]);
      if (step <= spec.high - spec.low) return piece;
      const first = m[1] === "*" ? spec.low : m[1]!.split("-")[0]!;
      return String(first);
    })
    .join(",");
}
