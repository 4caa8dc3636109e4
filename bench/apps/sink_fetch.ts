/**
 * Benchmark app for the upload scenario, as a fetch app: streams the request body, discards it,
 * and answers with the byte count as text.
 *
 * Served by lsbaws (`deno run --unstable-net -A main.ts bench/apps/sink_fetch.ts`) and, through
 * the same module, by `Deno.serve` (`bench/apps/deno_serve.ts --app sink`).
 */
import { CONTENT_TYPE } from "./payload.mjs";

/** The fetch app: counts the body's bytes and answers `200 OK` with the count. */
export default {
  async fetch(request: Request): Promise<Response> {
    let total = 0;
    if (request.body) {
      for await (const chunk of request.body) total += chunk.length;
    }
    return new Response(String(total), { headers: { "Content-Type": CONTENT_TYPE } });
  },
};
