/**
 * Benchmark app: hello world as a fetch app (`fetch(request) => Response`).
 *
 * Served by lsbaws (`deno run --unstable-net -A main.ts bench/apps/hello_fetch.ts`) and, through
 * the very same module, by `Deno.serve` (`bench/apps/deno_serve.ts`). A new `Response` is built
 * for every request.
 */
import { CONTENT_TYPE, HELLO_BODY } from "./payload.mjs";

/** The fetch app: answers every request with `200 OK` and the hello-world body. */
export default {
  fetch(_request: Request): Response {
    return new Response(HELLO_BODY, { headers: { "Content-Type": CONTENT_TYPE } });
  },
};
