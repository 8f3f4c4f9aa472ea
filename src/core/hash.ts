/**
 * A short, stable hash of a string for cache file names and keys: not for anything secret.
 * Node's `crypto` module takes milliseconds to load, and a `fluid` start has no other use
 * for it. Two runs of cyrb53 (a public-domain 53-bit string hash) with different seeds.
 */
export function cacheKey(text: string, length = 16): string {
  // Both runs in one pass over the text: a start hashes long keys (every task module's path).
  let a1 = 0xdeadbeef;
  let a2 = 0x41c6ce57;
  let b1 = 0xdeadbeef ^ SEED;
  let b2 = 0x41c6ce57 ^ SEED;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    a1 = Math.imul(a1 ^ ch, 2654435761);
    a2 = Math.imul(a2 ^ ch, 1597334677);
    b1 = Math.imul(b1 ^ ch, 2654435761);
    b2 = Math.imul(b2 ^ ch, 1597334677);
  }
  return (hex53(a1, a2) + hex53(b1, b2)).slice(0, length);
}

const SEED = 0x9e3779b9;

/** cyrb53's final mix of its two 32-bit states, as 14 hex digits. */
function hex53(h1: number, h2: number): string {
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, "0");
}
