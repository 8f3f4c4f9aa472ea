/** Options of `postWithRetry`. */
export interface PostOptions {
  body: string;
  /** Content-Type of the body. */
  contentType: string;
  /** Extra headers. Default none. */
  headers?: Record<string, string>;
  /** Time limit of one request, ms. */
  timeoutMs: number;
  /** Requests in all, the first included. */
  attempts: number;
  /** Wait before the first retry, ms; doubled before each next one. */
  retryDelayMs: number;
  /** Stops the requests and the waits between them (shutdown). */
  signal: AbortSignal;
}

/**
 * POSTs a body, trying again after a network error, a timeout, a 5xx, 408 or 429, with a
 * doubling wait; another 4xx will not get better and fails at once. Resolves on a 2xx/3xx;
 * rejects with an Error saying what the last request got, prefixed with the URL's origin (never
 * its path or query, which often hold a secret token).
 */
export async function postWithRetry(url: string, o: PostOptions): Promise<void> {
  try {
    await post(url, o);
  } catch (error) {
    throw new Error(`${new URL(url).origin}: ${(error as Error).message}`);
  }
}

async function post(url: string, o: PostOptions): Promise<void> {
  let last: Error = new Error("not sent");
  for (let attempt = 1; attempt <= o.attempts; attempt++) {
    if (attempt > 1 && !(await sleep(o.retryDelayMs * 2 ** (attempt - 2), o.signal))) break;
    const request = new AbortController();
    const timer = setTimeout(() => request.abort(new Error(`no answer within ${o.timeoutMs} ms`)), o.timeoutMs);
    const onAbort = (): void => request.abort(o.signal.reason);
    o.signal.addEventListener("abort", onAbort, { once: true });
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": o.contentType, "user-agent": "fluid-tasks", ...o.headers },
        body: o.body,
        signal: request.signal,
        redirect: "follow",
      });
      // Read the answer to its end, so the connection is free for the next request.
      await response.arrayBuffer().catch(() => {});
      if (response.status < 400) return;
      last = new Error(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`);
      if (response.status < 500 && response.status !== 408 && response.status !== 429) break;
    } catch (error) {
      last = request.signal.aborted && request.signal.reason instanceof Error ? request.signal.reason : causeOf(error);
    } finally {
      clearTimeout(timer);
      o.signal.removeEventListener("abort", onAbort);
    }
    if (o.signal.aborted) break;
  }
  throw last;
}

/** fetch says "fetch failed"; the reason (ECONNREFUSED, a DNS error) is its cause. */
function causeOf(error: unknown): Error {
  const e = error as Error & { cause?: { message?: string; code?: string } };
  if (e.cause?.code || e.cause?.message) return new Error(e.cause.code ?? e.cause.message);
  return error instanceof Error ? error : new Error(String(error));
}

/** Waits `ms`; resolves false at once when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(ok);
    };
    const onAbort = (): void => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
