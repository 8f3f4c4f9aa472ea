import { UsageError } from "./errors.js";

/**
 * A new run id: 20 lowercase hex characters (80 random bits), so a short prefix is unique.
 * From Math.random, which V8 seeds in each process from the operating system's entropy:
 * unique in practice, and a run id is an identifier, not a secret. (Loading `crypto` for it
 * was a visible part of every `fluid run`.)
 */
export function newRunId(): string {
  let id = "";
  while (id.length < 20) id += Math.floor(Math.random() * 0x1_0000_0000).toString(16).padStart(8, "0");
  return id.slice(0, 20);
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
