/**
 * The lesson's hello world: every request gets `200 OK` and "Hello, world!\n".
 *
 * Contract: a synchronous gateway app returning a one-chunk Array, so lsbaws answers it on the
 * fast path (BODY-7 in gateway/types.ts) and computes Content-Length itself.
 * Run it with `deno task start` or `lsbaws apps/hello.ts:app`.
 */
import type { App } from "../gateway/mod.ts";

const BODY = new TextEncoder().encode("Hello, world!\n");

/** Answers every request with "Hello, world!\n". */
export const app: App = function app(_environ, startResponse) {
  startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
  return [BODY];
};

export default app;
