import { createHash, timingSafeEqual } from "node:crypto";

/** What a request's credentials are worth: none sent, a wrong token, or the right one. */
export type AuthResult = "missing" | "wrong" | "ok";

/**
 * Checks bearer tokens in constant time: both sides are hashed (SHA-256) first, so the
 * comparison takes the same time whatever the length or content of the token sent.
 */
export function tokenChecker(token: string): (sent: string | undefined) => AuthResult {
  const expected = createHash("sha256").update(token).digest();
  return (sent) => {
    if (sent === undefined || sent === "") return "missing";
    const got = createHash("sha256").update(sent).digest();
    return timingSafeEqual(got, expected) ? "ok" : "wrong";
  };
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}
