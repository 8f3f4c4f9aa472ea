import { UsageError } from "./errors.js";

/** Ids made by this process so far: the counter of the last one (see `newRunId`). */
let lastCounter = 0;

/**
 * A new run id, 20 lowercase hex characters: 8 random (32 bits) and then 12 of a counter that
 * follows time (48 bits: milliseconds since 1970 × 32 plus a sequence, so ids made by one
 * process are strictly increasing; past 32 ids in a millisecond it runs ahead of the clock).
 *
 * The random head is what people see and type (`id.slice(0, 8)`, a prefix for `fluid show`);
 * the store keys its tables by `runIdKey` (the counter first), so new runs are appended to its
 * indexes instead of landing on a random page of each (see docs/store.md).
 *
 * From Math.random, which V8 seeds in each process from the operating system's entropy: ids
 * made in the same millisecond by two processes differ in 32 random bits, and a run id is an
 * identifier, not a secret. (Loading `crypto` for it was a visible part of every `fluid run`.)
 */
export function newRunId(): string {
  lastCounter = Math.max(lastCounter + 1, Date.now() * 32);
  return Math.floor(Math.random() * 0x1_0000_0000).toString(16).padStart(8, "0") + lastCounter.toString(16).padStart(12, "0");
}

/** How many leading characters of an id its storage key moves to the end (the random head). */
export const RUN_ID_HEAD = 8;

/**
 * The storage key of a run id: the id rotated left by 8 characters (`abcdefgh0123` ->
 * `0123abcdefgh`); an id of at most 8 characters is its own key. For a `newRunId` id that puts
 * the time counter first. One-to-one (a rotation keeps the length), so keys are as unique as
 * ids, and the same as SQLite's `substr(id, 9) || substr(id, 1, 8)` (the generated column
 * `id_key` of the store's tables): characters counted as code points, as SQLite counts them.
 */
export function runIdKey(id: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(id)) return id.length <= RUN_ID_HEAD ? id : id.slice(RUN_ID_HEAD) + id.slice(0, RUN_ID_HEAD);
  const chars = Array.from(id);
  return chars.length <= RUN_ID_HEAD ? id : chars.slice(RUN_ID_HEAD).join("") + chars.slice(0, RUN_ID_HEAD).join("");
}

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/** Checks a caller-supplied run id (letters, digits, _ . : -, at most 64). */
export function checkRunId(id: string): string {
  if (!RUN_ID.test(id)) {
    throw new UsageError(`invalid run id ${JSON.stringify(id)}`, {
      hint: "a run id is 1-64 characters: letters, digits, _ . : - (starting with a letter or digit)",
    });
  }
  return id;
}
