import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Stack traces of compiled task modules point at their TypeScript sources. Node's own source
 * maps (`process.setSourceMapsEnabled`) parse every module's map when it loads, which cost a
 * `fluid` start ~8 ms; here a compiled file's inline map is read and decoded only when a
 * stack that passes through it is formatted (V8 formats `error.stack` on first access).
 * Frames elsewhere print as they would without source maps. Not installed when Node's own
 * source maps are on (--enable-source-maps): those already map these frames.
 */

interface Segment {
  column: number;
  source: number;
  line: number;
  sourceColumn: number;
}

interface Mapping {
  sources: string[];
  lines: Segment[][];
}

const compiled = new Set<string>();
const decoded = new Map<string, Mapping | null>();
let installed = false;

/** Marks `file` (a compiled bundle with an inline source map) as one to map frames of. */
export function registerCompiled(file: string): void {
  compiled.add(file);
}

/** Installs the mapping as Error.prepareStackTrace (once; not over Node's own source maps). */
export function installStackMapping(): void {
  if (installed || (process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled) return;
  // Node 20 has a default (ErrorPrepareStackTrace); anything else is someone's own: keep it.
  const current = (Error as { prepareStackTrace?: (...args: never[]) => unknown }).prepareStackTrace;
  if (current && current.name !== "ErrorPrepareStackTrace") return;
  installed = true;
  Error.prepareStackTrace = (error: Error, frames: NodeJS.CallSite[]): string => {
    let header: string;
    try {
      header = Error.prototype.toString.call(error);
    } catch {
      header = "<error>";
    }
    return [header, ...frames.map((frame) => `    at ${formatFrame(frame)}`)].join("\n");
  };
}

function formatFrame(frame: NodeJS.CallSite): string {
  const text = String(frame);
  const fileName = frame.getFileName();
  const line = frame.getLineNumber();
  const column = frame.getColumnNumber();
  if (!fileName || line === null || column === null) return text;
  const path = pathOf(fileName);
  if (!path || !compiled.has(path)) return text;
  const original = originalPosition(path, line, column);
  if (!original) return text;
  return text.replace(`${fileName}:${line}:${column}`, `${original.source}:${original.line}:${original.column}`);
}

/** The file path of a frame's file name (a path, or a file URL with a ?v= query). */
function pathOf(fileName: string): string | undefined {
  if (!fileName.startsWith("file:")) return fileName;
  try {
    return fileURLToPath(fileName.replace(/[?#].*$/, ""));
  } catch {
    return undefined;
  }
}

/** Source, 1-based line and column of a 1-based generated position, from the file's inline map. */
export function originalPosition(file: string, line: number, column: number): { source: string; line: number; column: number } | undefined {
  let mapping = decoded.get(file);
  if (mapping === undefined) {
    mapping = readInlineMap(file);
    decoded.set(file, mapping);
  }
  const segments = mapping?.lines[line - 1];
  if (!mapping || !segments) return undefined;
  let found: Segment | undefined;
  for (const segment of segments) {
    if (segment.column > column - 1) break;
    found = segment;
  }
  const source = found && mapping.sources[found.source];
  return found && source !== undefined ? { source, line: found.line + 1, column: found.sourceColumn + 1 } : undefined;
}

function readInlineMap(file: string): Mapping | null {
  try {
    const code = readFileSync(file, "utf8");
    const match = /\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)\s*$/.exec(code);
    if (!match) return null;
    const map = JSON.parse(Buffer.from(match[1]!, "base64").toString("utf8")) as { sources: string[]; sourceRoot?: string; mappings: string };
    const base = resolve(dirname(file), map.sourceRoot ?? "");
    return { sources: map.sources.map((s) => resolve(base, s)), lines: decodeMappings(map.mappings) };
  } catch {
    return null;
  }
}

const BASE64 = new Map([..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].map((c, i) => [c, i]));

/** Decodes a source map's `mappings` (base64 VLQ; fields relative to the previous segment). */
export function decodeMappings(mappings: string): Segment[][] {
  const lines: Segment[][] = [];
  let source = 0;
  let line = 0;
  let sourceColumn = 0;
  for (const text of mappings.split(";")) {
    const segments: Segment[] = [];
    let column = 0;
    for (const part of text.split(",")) {
      if (part === "") continue;
      const fields = decodeVlq(part);
      column += fields[0] ?? 0;
      if (fields.length >= 4) {
        source += fields[1]!;
        line += fields[2]!;
        sourceColumn += fields[3]!;
        segments.push({ column, source, line, sourceColumn });
      }
    }
    lines.push(segments);
  }
  return lines;
}

function decodeVlq(text: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of text) {
    const digit = BASE64.get(char) ?? 0;
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
      continue;
    }
    values.push(value & 1 ? -(value >>> 1) : value >>> 1);
    value = 0;
    shift = 0;
  }
  return values;
}
