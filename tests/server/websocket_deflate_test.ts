/**
 * The permessage-deflate codec (`server/websocket_deflate.ts`): a client compressing with context
 * takeover (a streaming zlib deflater flushed per message, as browsers do) is decompressed message
 * after message, also across the 32 KiB window; one without takeover too; output over the message
 * limit is 1009 however small the input; bad data is 1002; and what the server sends is
 * compressed only when that helps, within the agreed window.
 */
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { negotiateDeflate } from "../../server/http/websocket_extensions.ts";
import { Opcode, parseFrame, WebSocketProtocolError } from "../../server/http/websocket_frame.ts";
import { MIN_COMPRESS_BYTES, PerMessageDeflate } from "../../server/websocket_deflate.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const SYNC = { finishFlush: zlib.constants.Z_SYNC_FLUSH };

/** A client's compressor with context takeover: one deflate stream, sync-flushed per message. */
function streamingClient(): (message: Uint8Array) => Promise<Uint8Array<ArrayBuffer>> {
  const d = zlib.createDeflateRaw({ windowBits: 15 });
  const chunks: Uint8Array[] = [];
  d.on("data", (c: Uint8Array) => chunks.push(c));
  return async (message) => {
    d.write(message);
    await new Promise<void>((r) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
    const all = Buffer.concat(chunks.splice(0));
    assert.deepEqual([...all.subarray(-4)], [0, 0, 0xff, 0xff]);
    return new Uint8Array(all.subarray(0, all.length - 4));
  };
}

/** A message of `len` bytes that repeats (so later ones refer back to earlier ones). */
function message(i: number, len: number): Uint8Array {
  return enc.encode(`msg ${i % 5} lorem ipsum dolor sit amet ${i % 3} `.repeat(len / 30 + 1))
    .slice(0, len);
}

function codec(offer: string, max = 1 << 20): PerMessageDeflate {
  return new PerMessageDeflate(negotiateDeflate(offer)!, max);
}

Deno.test("context takeover: 300 messages of 1 B to 40 KiB from one client stream", async () => {
  const client = streamingClient();
  const server = codec("permessage-deflate; client_max_window_bits");
  let seed = 7;
  let total = 0;
  for (let i = 0; i < 300; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const len = 1 + (seed % 40_000);
    const m = message(i, len);
    const z = await client(m);
    total += m.length;
    assert.deepEqual(server.inflate(z), m, `message ${i} (${len} bytes, ${total} so far)`);
  }
});

Deno.test("client_no_context_takeover: each message compressed on its own", () => {
  const server = codec("permessage-deflate; client_no_context_takeover");
  for (let i = 0; i < 20; i++) {
    const m = message(i, 500 + i * 97);
    const z = zlib.deflateRawSync(m, SYNC);
    assert.deepEqual(server.inflate(new Uint8Array(z.subarray(0, z.length - 4))), m);
  }
});

function rejects(fn: () => unknown, code: number, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WebSocketProtocolError, String(err));
    assert.equal(err.closeCode, code);
    assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("a small frame that inflates past the limit is 1009; data zlib rejects is 1002", async () => {
  const bomb = zlib.deflateRawSync(new Uint8Array(4 << 20), SYNC); // 4 MiB of zeros
  assert.ok(bomb.length < 8192, `${bomb.length} bytes`);
  const server = codec("permessage-deflate", 1 << 20);
  rejects(
    () => server.inflate(new Uint8Array(bomb.subarray(0, bomb.length - 4))),
    1009,
    /over the 1048576-byte limit once decompressed/,
  );
  // Exactly at the limit is fine, also with a window kept in front of it.
  const client = streamingClient();
  const atLimit = codec("permessage-deflate", 4096);
  assert.equal(atLimit.inflate(await client(new Uint8Array(4096).fill(65))).length, 4096);
  assert.equal(atLimit.inflate(await client(new Uint8Array(4096).fill(66))).length, 4096);
  const over = await client(new Uint8Array(4097).fill(67));
  rejects(() => atLimit.inflate(over), 1009, /limit/);
  rejects(
    () => codec("permessage-deflate").inflate(new Uint8Array([0xff, 0xff, 0xff, 0xff])),
    1002,
    /cannot be decompressed/,
  );
});

/** Inflates what the server sent (its own messages never depend on earlier ones). */
function clientInflate(payload: Uint8Array, windowBits = 15): Uint8Array {
  const input = new Uint8Array(payload.length + 4);
  input.set(payload);
  input.set([0, 0, 0xff, 0xff], payload.length);
  return new Uint8Array(zlib.inflateRawSync(input, { ...SYNC, windowBits }));
}

Deno.test("server messages: compressed (RSV1) when it helps, plain when short or incompressible", () => {
  const server = codec("permessage-deflate; client_max_window_bits");
  const frameOf = (bytes: Uint8Array) => {
    const r = parseFrame(bytes, { expectMasked: false, allowCompressed: true });
    assert.equal(r.kind, "frame");
    return (r as { frame: { compressed?: boolean; payload: Uint8Array; opcode: number } }).frame;
  };
  const long = message(1, 5000);
  const f = frameOf(server.encode(Opcode.TEXT, long));
  assert.equal(f.compressed, true);
  assert.equal(f.opcode, Opcode.TEXT);
  assert.ok(f.payload.length < 500, `${f.payload.length} bytes`);
  assert.deepEqual(clientInflate(f.payload), long);

  const short = message(2, MIN_COMPRESS_BYTES - 1);
  const s = frameOf(server.encode(Opcode.TEXT, short));
  assert.equal(s.compressed, undefined);
  assert.deepEqual(s.payload, short);

  const noise = crypto.getRandomValues(new Uint8Array(2000));
  const n = frameOf(server.encode(Opcode.BINARY, noise));
  assert.equal(n.compressed, undefined, "random bytes do not shrink: sent as they are");
  assert.deepEqual(n.payload, noise);
});

Deno.test("server_max_window_bits=9: what the server sends fits a 512-byte window", () => {
  const server = codec("permessage-deflate; server_max_window_bits=9");
  // Repeats 600 bytes apart: a 32 KiB window would refer back past 512 bytes.
  const unit = crypto.getRandomValues(new Uint8Array(600));
  const m = new Uint8Array(6000);
  for (let i = 0; i < 10; i++) m.set(unit, i * 600);
  const r = parseFrame(server.encode(Opcode.BINARY, m), {
    expectMasked: false,
    allowCompressed: true,
  });
  assert.equal(r.kind, "frame");
  const payload = (r as { frame: { payload: Uint8Array } }).frame.payload;
  assert.deepEqual(clientInflate(payload, 9), m);
  // zlib does not enforce a decoder's window on one-shot output, so check the encoder's: with
  // 512 bytes it cannot reach the repeats 600 bytes back; the default window does.
  const wide = codec("permessage-deflate").encode(Opcode.BINARY, m);
  assert.ok(wide.length < 1500, `default window: ${wide.length} bytes`);
  assert.ok(payload.length > 5000, `512-byte window: ${payload.length} bytes`);
});

Deno.test("text decoded from an inflated message is the original", async () => {
  const client = streamingClient();
  const server = codec("permessage-deflate");
  const text = "héllo wörld ✓ ".repeat(100);
  assert.equal(dec.decode(server.inflate(await client(enc.encode(text)))), text);
});
