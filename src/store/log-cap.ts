import { cutNote, MAX_LOG_LINE_BYTES } from "../task/capture.js";
import type { LogLine } from "../core/types.js";

/**
 * A log line cut to MAX_LOG_LINE_BYTES (8 KiB of UTF-8), ending with a note of how many bytes
 * were dropped; the line itself when it fits.
 */
export function capLine(line: LogLine): LogLine {
  const message = String(line.message);
  // Three bytes per UTF-16 unit at most: most lines are measured without encoding them.
  if (message.length * 3 <= MAX_LOG_LINE_BYTES) return line;
  const bytes = Buffer.from(message, "utf8");
  if (bytes.length <= MAX_LOG_LINE_BYTES) return line;
  // A cut inside a multi-byte character decodes to U+FFFD: leave that partial character out.
  const kept = bytes.subarray(0, MAX_LOG_LINE_BYTES).toString("utf8").replace(/\uFFFD+$/, "");
  return { ...line, message: kept + cutNote(bytes.length - Buffer.byteLength(kept), "bytes") };
}

/** The marker line `fluid logs` and `fluid show` print where an attempt's lines were dropped. */
export function droppedMarker(lines: number, bytes: number | null): string {
  const size = bytes === null ? "" : ` (${bytes} bytes)`;
  return `[fluid] … ${lines} lines${size} dropped … (logCap: the store keeps the first and the last lines of an attempt)`;
}
