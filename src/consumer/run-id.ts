import { randomBytes } from "node:crypto";
import { UsageError } from "../errors.js";

/** A new run id: 20 lowercase hex characters of randomness, so a short prefix is unique. */
export function newRunId(): string {
  return randomBytes(10).toString("hex");
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
