/**
 * Request ids: the one format every app style and the access log use.
 *
 * Contract: `requestIdFrom(given)` returns `given` (a client's `X-Request-ID`) when it is 1..200
 * characters of `[A-Za-z0-9._:@+=/-]`, else a fresh id. Fresh ids are a random per-process prefix
 * and a counter in base 36 (`3f9a1c2e-1a`), so ids from different workers and restarts do not
 * collide and making one costs no randomness per request.
 */

const REQUEST_ID_RE = /^[A-Za-z0-9._:@+=\/-]{1,200}$/;
/** Random per process, so ids from different workers and restarts do not collide. */
const REQUEST_ID_PREFIX = crypto.randomUUID().slice(0, 8) + "-";
let requestCounter = 0;
/** The base-36 digits `0`-`9`, `a`-`z`. */
const DIGITS36: readonly string[] = Array.from({ length: 36 }, (_, i) => i.toString(36));
/** `counter / 36` (rounded down) of the last id, and the prefix plus that number in base 36. */
let idBlock = 0;
let idBlockPrefix = REQUEST_ID_PREFIX;

/**
 * A fresh request id: the process prefix and a counter in base 36 (`3f9a1c2e-1a`). All but the
 * last digit change once in 36 ids, so they are formatted only then (a radix `toString` is a
 * runtime call, several times the cost of the rest).
 */
export function nextRequestId(): string {
  const n = ++requestCounter;
  const block = Math.floor(n / 36);
  if (block !== idBlock) {
    idBlock = block;
    idBlockPrefix = REQUEST_ID_PREFIX + block.toString(36); // block >= 1 here
  }
  return idBlockPrefix + DIGITS36[n - block * 36];
}

/** The client's id when it is acceptable (`isValidRequestId`), else a fresh one. */
export function requestIdFrom(given: string): string {
  return given !== "" && REQUEST_ID_RE.test(given) ? given : nextRequestId();
}

/** Whether `id` may be used as a request id as given (1..200 safe characters). */
export function isValidRequestId(id: string): boolean {
  return REQUEST_ID_RE.test(id);
}
