/**
 * The values that cross the IPC channel (params, results, queued params) as JSON text, keeping
 * what plain JSON would change: Date, BigInt, Map, Set, Uint8Array/Buffer, Error (as the one
 * error encoding, `ErrorInfo`: name, message, code, hint, stack, causes), NaN and
 * ±Infinity, and undefined in arrays. Functions, symbols and cycles cannot be sent: encoding
 * throws a TypeError naming the key. Objects keep their own data, not their class.
 *
 * Why not the channel's "advanced" (structured clone) serialization: in bench/cpu-dispatch.ts it
 * cost about 40% more CPU per run in both processes than JSON. This codec walks the value
 * once with a replacer; a value with nothing special in it is decoded with a plain JSON.parse.
 */

import { fromErrorInfo, toErrorInfo, type ErrorInfo } from "../core/errors.js";

const TAG = "$fluid";

type Tagged = { [TAG]: string; v?: unknown };

/** JSON text of a value, prefixed "P" (plain) or "T" (holds tags); undefined for undefined. */
export function encodeValue(value: unknown): string | undefined {
  let tagged = false;
  const json = JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown): unknown {
    const raw = this[key]; // before toJSON (a Date's v is already a string)
    if (typeof raw === "object" && raw !== null) {
      if (raw instanceof Date) return tag("Date", raw.getTime());
      if (raw instanceof Map) return tag("Map", [...raw]);
      if (raw instanceof Set) return tag("Set", [...raw]);
      if (raw instanceof Uint8Array) return tag("Bytes", Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("base64"));
      if (raw instanceof Error) return tag("Error", toErrorInfo(raw));
    }
    switch (typeof v) {
      case "number":
        return Number.isFinite(v) ? v : tag("Number", String(v));
      case "bigint":
        return tag("BigInt", v.toString());
      case "undefined":
        return Array.isArray(this) ? tag("undefined") : v;
      case "function":
      case "symbol":
        throw new TypeError(`a ${typeof v} (at "${key}") cannot be sent to another process`);
      default:
        return v;
    }
  });
  function tag(kind: string, v?: unknown): Tagged {
    tagged = true;
    return v === undefined ? { [TAG]: kind } : { [TAG]: kind, v };
  }
  return json === undefined ? undefined : (tagged ? "T" : "P") + json;
}

/** The value `encodeValue` encoded. */
export function decodeValue(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  const json = text.slice(1);
  if (text[0] === "P") return JSON.parse(json);
  return JSON.parse(json, (_key, v: unknown) => {
    if (typeof v !== "object" || v === null || !(TAG in v)) return v;
    const t = v as Tagged;
    switch (t[TAG]) {
      case "Date":
        return new Date((t.v as number | null) ?? Number.NaN);
      case "Map":
        return new Map(t.v as Array<[unknown, unknown]>);
      case "Set":
        return new Set(t.v as unknown[]);
      case "Bytes":
        return Buffer.from(t.v as string, "base64");
      case "Error":
        return fromErrorInfo(t.v as ErrorInfo);
      case "Number":
        return Number(t.v);
      case "BigInt":
        return BigInt(t.v as string);
      case "undefined":
        return undefined;
      default:
        return v;
    }
  });
}
