/**
 * Test support: the client's side of permessage-deflate (RFC 7692) with `node:zlib`.
 *
 * Contract: `streamingDeflater()` compresses message after message on one raw deflate stream,
 * sync-flushed per message and with the trailing `00 00 ff ff` removed, so later messages refer
 * back to earlier ones as a browser's do (context takeover). `inflateMessage(payload, windowBits)`
 * decompresses one message the server sent (each stands alone: the server takes no context over).
 */
import zlib from "node:zlib";

/** A compressor with context takeover; see the module comment. */
export function streamingDeflater(): (message: Uint8Array) => Promise<Uint8Array<ArrayBuffer>> {
  const d = zlib.createDeflateRaw({ windowBits: 15 });
  const chunks: Uint8Array[] = [];
  d.on("data", (c: Uint8Array) => chunks.push(c));
  return async (message) => {
    d.write(message);
    await new Promise<void>((r) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
    const all = Buffer.concat(chunks.splice(0));
    const tail = all.subarray(all.length - 4);
    if (tail[0] !== 0 || tail[1] !== 0 || tail[2] !== 0xff || tail[3] !== 0xff) {
      throw new Error("a sync flush did not end with 00 00 ff ff");
    }
    return new Uint8Array(all.subarray(0, all.length - 4));
  };
}

/** Decompresses one server message; see the module comment. */
export function inflateMessage(payload: Uint8Array, windowBits = 15): Uint8Array<ArrayBuffer> {
  const input = new Uint8Array(payload.length + 4);
  input.set(payload);
  input.set([0, 0, 0xff, 0xff], payload.length);
  return new Uint8Array(
    zlib.inflateRawSync(input, { finishFlush: zlib.constants.Z_SYNC_FLUSH, windowBits }),
  );
}
