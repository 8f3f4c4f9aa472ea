const SIZE = /^(\d+(?:\.\d+)?)\s*(kb|mb|gb|k|m|g)?$/i;
const MB_PER_UNIT: Record<string, number> = { k: 1 / 1024, kb: 1 / 1024, m: 1, mb: 1, g: 1024, gb: 1024 };

/**
 * A memory size in whole megabytes: a number is MB; a string is a number with an optional unit
 * (k, kb, m, mb, g, gb; any case; "512MB", "1.5GB"). The one size grammar of task `maxMemory`
 * and `pool.maxWorkerMemory`. Returns undefined when `value` is not a size.
 */
export function megabytes(value: number | string): number | undefined {
  const m = typeof value === "number" ? [String(value), String(value), "mb"] : SIZE.exec(value.trim());
  const mb = m ? Math.floor(Number(m[1]) * MB_PER_UNIT[(m[2] ?? "mb").toLowerCase()]!) : NaN;
  return Number.isFinite(mb) && mb >= 0 ? mb : undefined;
}
