/**
 * Benchmark app: hello world as an lsbaws gateway app (`environ, startResponse`).
 *
 * Run: `deno run --unstable-net -A main.ts bench/apps/hello_gateway.ts:app`. The body is encoded
 * per request (no cached response), exactly as a real app would build it.
 */
import type { App } from "../../gateway/mod.ts";
import { CONTENT_TYPE, HELLO_BODY } from "./payload.mjs";

const encoder = new TextEncoder();

/** Answers every request with `200 OK` and the hello-world body. */
export const app: App = (_environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", CONTENT_TYPE]]);
  return [encoder.encode(HELLO_BODY)];
};
