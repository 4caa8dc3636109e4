/**
 * Streamed bodies of unknown length (sent chunked on HTTP/1.1, close-delimited on HTTP/1.0).
 *
 * Contract:
 * - `/big?n=BYTES` → `n` bytes of "x" (default 1 MiB, at most 1 GiB) in 64 KiB pieces, from a sync
 *   generator. Every piece has the same content, so one buffer is reused.
 * - any other path → five chunks "chunk 0\n" … "chunk 4\n" from an async generator, with
 *   `?delay=MS` between them (default 10 ms, at most 10 s).
 * - a bad number → 400.
 */
import type { App } from "../gateway/mod.ts";

const encoder = new TextEncoder();
const PIECE_BYTES = 64 * 1024;
const MAX_BIG_BYTES = 1024 * 1024 * 1024;
const PIECE = new Uint8Array(PIECE_BYTES).fill(0x78);

/** Five delayed chunks, or `n` bytes on `/big` (see the module comment). */
export const app: App = function stream(environ, startResponse) {
  const query = new URLSearchParams(environ.QUERY_STRING);
  if (environ.PATH_INFO === "/big") {
    const n = intParam(query.get("n"), 1024 * 1024, MAX_BIG_BYTES);
    if (n === null) return badRequest(startResponse, "n must be an integer 0..1073741824\n");
    startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
    return bigBody(n);
  }
  const delayMs = intParam(query.get("delay"), 10, 10_000);
  if (delayMs === null) return badRequest(startResponse, "delay must be an integer 0..10000\n");
  startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
  return slowChunks(5, delayMs);
};

export default app;

function* bigBody(n: number): Generator<Uint8Array> {
  for (let left = n; left > 0; left -= PIECE_BYTES) {
    yield left >= PIECE_BYTES ? PIECE : PIECE.subarray(0, left);
  }
}

async function* slowChunks(count: number, delayMs: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    yield encoder.encode(`chunk ${i}\n`);
  }
}

function intParam(raw: string | null, fallback: number, max: number): number | null {
  if (raw === null || raw === "") return fallback;
  if (!/^[0-9]{1,10}$/.test(raw)) return null;
  const n = Number(raw);
  return n <= max ? n : null;
}

function badRequest(
  startResponse: Parameters<App>[1],
  message: string,
): Uint8Array[] {
  startResponse("400 Bad Request", [["Content-Type", "text/plain; charset=utf-8"]]);
  return [encoder.encode(message)];
}
