import type { CrontabFieldName, ParsedField } from "./crontab-fields.js";
import { listAnd } from "./validate.js";

const MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** One field as a phrase: `every` is true for "every minute" / "every 2nd hour". */
interface Phrase {
  text: string;
  every: boolean;
}

/**
 * Readable text of validated crontab fields, e.g. "at 08:00 on Mon-Fri (Europe/Rome)",
 * "at minute 0 past every 2nd hour (UTC)", "every minute of every 2nd hour (UTC)".
 */
export function describeCrontab(fields: Readonly<Record<CrontabFieldName, ParsedField>>, timezone: string): string {
  const { second, minute, hour } = fields;
  const parts = [timeOfDay(second, minute, hour)];
  const day = fields.day.text === "*" ? "" : `day ${runs(fields.day.values)} of the month`;
  const weekday = fields.dayOfWeek.text === "*" ? "" : runs(fields.dayOfWeek.values, DAY_NAMES);
  // Both restricted: either one matching is enough (cron's OR rule), and the text says so.
  if (day || weekday) parts.push(`on ${[day, weekday].filter(Boolean).join(" or on ")}`);
  if (fields.month.text !== "*") parts.push(`in ${runs(fields.month.values.map((m) => m - 1), MONTH_NAMES)}`);
  return `${parts.join(" ")} (${timezone})`;
}

function timeOfDay(second: ParsedField, minute: ParsedField, hour: ParsedField): string {
  if ([second, minute, hour].every((f) => /^\d+$/.test(f.text))) {
    const [s, m, h] = [second, minute, hour].map((f) => String(f.values[0]).padStart(2, "0"));
    return `at ${h}:${m}${s === "00" ? "" : `:${s}`}`;
  }
  const chain: Phrase[] = [];
  const sec = second.text === "0" ? undefined : phrase(second, "second");
  if (sec) chain.push(sec);
  const secondsAlone = sec?.every && minute.text === "*" && hour.text === "*";
  if (!secondsAlone) chain.push(phrase(minute, "minute"));
  if (hour.text !== "*") chain.push(phrase(hour, "hour"));
  else if (!chain.at(-1)!.every) chain.push({ text: "every hour", every: true });
  let text = chain[0]!.every ? chain[0]!.text : `at ${chain[0]!.text}`;
  for (let i = 1; i < chain.length; i++) {
    const joiner = chain[i - 1]!.every || (i === 1 && sec) ? " of " : " past ";
    text += joiner + chain[i]!.text;
  }
  return text;
}

function phrase(field: ParsedField, unit: string): Phrase {
  if (field.text === "*") return { text: `every ${unit}`, every: true };
  const step = /^\*\/(\d+)$/.exec(field.text);
  if (step) return { text: `every ${ordinal(Number(step[1]))} ${unit}`, every: true };
  return { text: `${unit}${field.values.length > 1 ? "s" : ""} ${runs(field.values)}`, every: false };
}

/** "1, 4 and 8-12": runs of three or more consecutive values collapse to a range. */
function runs(values: readonly number[], names?: readonly string[]): string {
  const name = (v: number): string => names?.[v] ?? String(v);
  const out: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    if (j - i >= 2) out.push(`${name(values[i]!)}-${name(values[j]!)}`);
    else for (let k = i; k <= j; k++) out.push(name(values[k]!));
    i = j + 1;
  }
  return listAnd(out);
}

function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${["th", "st", "nd", "rd"][n % 10] ?? "th"}`;
}
