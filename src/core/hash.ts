/**
 * A short, stable hash of a string for cache file names and keys: not for anything secret.
 * Node's `crypto` module takes milliseconds to load, and a `fluid` start has no other use
 * for it. Two runs of cyrb53 (a public-domain 53-bit string hash) with different seeds.
 */
export function cacheKey(text: string, length = 16): string {
  return (hex53(text, 0) + hex53(text, 0x9e3779b9)).slice(0, length);
}

function hex53(text: string, seed: number): string {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, "0");
}
