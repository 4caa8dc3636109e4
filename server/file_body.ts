/**
 * The portable way to send a file body (`Responder.sendFile`): read it and write the bytes. Used
 * by the `deno` driver, and by the `libc` driver whenever `sendfile(2)` cannot be used (no fd for
 * the file, chunked framing).
 *
 * Contract:
 * - `readFileInto(write, aborted, body, count)` seeks `body.file` to `body.offset`, then reads
 *   (synchronously, as the static file server does: microseconds on a local disk) into a fresh
 *   buffer per chunk of at most `FILE_CHUNK_BYTES` (the engine keeps large chunks by reference
 *   until written) and hands each to `write`, awaiting the promise it returns (back-pressure: one
 *   chunk in flight). It stops after `count` bytes or at the end of the file, and returns the
 *   number of bytes written. When the client goes away (`aborted()`) it stops reading and throws
 *   `Deno.errors.ConnectionReset` (a peer-gone error: the engine closes quietly). It never closes
 *   the file.
 */
import type { FileBody } from "./exchange.ts";

/** Read size of the portable file path. */
export const FILE_CHUNK_BYTES = 64 * 1024;

/** Reads and writes `count` bytes of `body`; see the module comment. */
export async function readFileInto(
  write: (chunk: Uint8Array) => Promise<void> | undefined,
  aborted: () => boolean,
  body: FileBody,
  count: number,
): Promise<number> {
  const file = body.file;
  file.seekSync(body.offset, Deno.SeekMode.Start);
  let left = count;
  while (left > 0) {
    if (aborted()) throw new Deno.errors.ConnectionReset("client went away during a file body");
    const buf = new Uint8Array(left < FILE_CHUNK_BYTES ? left : FILE_CHUNK_BYTES);
    const n = file.readSync(buf);
    if (n === null || n === 0) break;
    left -= n;
    const pending = write(n === buf.length ? buf : buf.subarray(0, n));
    if (pending !== undefined) await pending;
  }
  return count - left;
}
