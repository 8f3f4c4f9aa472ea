/** Stable codes of API errors (the `error.code` of every non-2xx JSON answer). */
export type ApiErrorCode =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "unknown_task"
  | "unknown_run"
  | "method_not_allowed"
  | "payload_too_large"
  | "invalid_params"
  | "unavailable"
  | "internal";

/** One problem with a request's params, query or body. */
export interface ApiIssue {
  path: Array<string | number>;
  message: string;
  code?: string;
}

/** An error the API answers with a status and a JSON body `{ error: { code, message, hint?, issues? } }`. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly hint: string | undefined;
  readonly issues: ApiIssue[] | undefined;
  readonly headers: Record<string, string> | undefined;
  constructor(status: number, code: ApiErrorCode, message: string, extra: { hint?: string; issues?: ApiIssue[]; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.hint = extra.hint;
    this.issues = extra.issues;
    this.headers = extra.headers;
  }

  /** The JSON body of the answer. */
  body(): { error: { code: ApiErrorCode; message: string; hint?: string; issues?: ApiIssue[] } } {
    return { error: { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}), ...(this.issues ? { issues: this.issues } : {}) } };
  }
}

/** zod issues as the API reports them (path, message, code; nothing else of the input). */
export function toIssues(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string; code?: string }>): ApiIssue[] {
  return issues.map((i) => ({
    path: i.path.map((p) => (typeof p === "number" ? p : String(p))),
    message: i.message,
    ...(i.code ? { code: i.code } : {}),
  }));
}

/** The 413 of a body over `max` bytes. */
export function tooLarge(max: number): HttpError {
  return new HttpError(413, "payload_too_large", `the body is larger than ${max} bytes`);
}
