/**
 * Benchmark app for the upload scenario, as an lsbaws gateway app: reads the whole request body
 * from `lsbaws.input` in 64 KiB reads, discards it, and answers with the byte count as text.
 *
 * Run: `deno run --unstable-net -A main.ts bench/apps/sink_gateway.ts:app`.
 */
import type { App, Input } from "../../gateway/mod.ts";
import { CONTENT_TYPE } from "./payload.mjs";

const encoder = new TextEncoder();
const READ_SIZE = 64 * 1024;

/** Counts the request body's bytes and answers `200 OK` with the count (decimal, no newline). */
export const app: App = async (environ, startResponse) => {
  const input = environ["lsbaws.input"] as Input;
  let total = 0;
  for (;;) {
    const chunk = await input.read(READ_SIZE);
    if (chunk.length === 0) break;
    total += chunk.length;
  }
  startResponse("200 OK", [["Content-Type", CONTENT_TYPE]]);
  return [encoder.encode(String(total))];
};
