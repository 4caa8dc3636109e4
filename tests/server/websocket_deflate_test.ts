/**
 * The permessage-deflate codec (`server/websocket_deflate.ts`): a client compressing with context
 * takeover (a streaming zlib deflater flushed per message, as browsers do) is decompressed message
 * after message, also across the 32 KiB window; one without takeover too; output over the message
 * limit is 1009 however small the input; bad data is 1002; the window kept is exactly
 * 2^client_max_window_bits bytes (hand-made blocks reach its edge, which zlib never does); and
 * what the server sends is compressed only when that helps, within the agreed window.
 */
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { negotiateDeflate } from "../../server/http/websocket_extensions.ts";
import { Opcode, parseFrame, WebSocketProtocolError } from "../../server/http/websocket_frame.ts";
import { MIN_COMPRESS_BYTES, PerMessageDeflate } from "../../server/websocket_deflate.ts";
import { inflateMessage, streamingDeflater } from "../_support/deflate.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const SYNC = { finishFlush: zlib.constants.Z_SYNC_FLUSH };

/** A message of `len` bytes that repeats (so later ones refer back to earlier ones). */
function message(i: number, len: number): Uint8Array {
  return enc.encode(`msg ${i % 5} lorem ipsum dolor sit amet ${i % 3} `.repeat(len / 30 + 1))
    .slice(0, len);
}

function codec(offer: string, max = 1 << 20): PerMessageDeflate {
  return new PerMessageDeflate(negotiateDeflate(offer)!, max);
}

Deno.test("context takeover: 300 messages of 1 B to 40 KiB from one client stream", async () => {
  const client = streamingDeflater();
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
  const client = streamingDeflater();
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
  assert.deepEqual(inflateMessage(f.payload), long);

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
  assert.deepEqual(inflateMessage(payload, 9), m);
  // zlib does not enforce a decoder's window on one-shot output, so check the encoder's: with
  // 512 bytes it cannot reach the repeats 600 bytes back; the default window does.
  const wide = codec("permessage-deflate").encode(Opcode.BINARY, m);
  assert.ok(wide.length < 1500, `default window: ${wide.length} bytes`);
  assert.ok(payload.length > 5000, `512-byte window: ${payload.length} bytes`);
});

Deno.test("text decoded from an inflated message is the original", async () => {
  const client = streamingDeflater();
  const server = codec("permessage-deflate");
  const text = "héllo wörld ✓ ".repeat(100);
  assert.equal(dec.decode(server.inflate(await client(enc.encode(text)))), text);
});

// --- the window's exact size, with hand-made deflate blocks -----------------------------------
// zlib never emits a distance beyond 32,506 (its window minus the lookahead), so the edge of the
// 2^clientWindowBits window is checked with a fixed-Huffman block built here: one match of
// `length` bytes at `distance`, then the 3 header bits of the sync flush's empty stored block.

/** Deflate's bit order: values least significant bit first, Huffman codes most significant. */
class Bits {
  readonly bytes: number[] = [];
  #acc = 0;
  #n = 0;
  value(v: number, n: number): void {
    for (let i = 0; i < n; i++) this.#bit((v >> i) & 1);
  }
  code(c: number, n: number): void {
    for (let i = n - 1; i >= 0; i--) this.#bit((c >> i) & 1);
  }
  #bit(b: number): void {
    this.#acc |= b << this.#n;
    if (++this.#n === 8) this.flush();
  }
  flush(): void {
    if (this.#n === 0) return;
    this.bytes.push(this.#acc);
    this.#acc = 0;
    this.#n = 0;
  }
}

/** A message that is one back-reference: 258 bytes (symbol 285) at `distance`. */
function matchBlock(distance: number): Uint8Array<ArrayBuffer> {
  const w = new Bits();
  w.value(0, 1); // BFINAL 0
  w.value(1, 2); // BTYPE 01: fixed Huffman
  w.code(0b11000000 + (285 - 280), 8); // length 258
  let code = 0;
  let base = 1;
  let extra = 0;
  for (let d = 0; d < 30; d++) {
    const e = d < 4 ? 0 : (d >> 1) - 1;
    const b = d < 4 ? d + 1 : (1 << (e + 1)) + 1 + (d & 1) * (1 << e);
    if (b <= distance) [code, base, extra] = [d, b, e];
  }
  w.code(code, 5);
  w.value(distance - base, extra);
  w.code(0, 7); // end of block (256)
  w.value(0, 3); // the empty stored block's header; its 00 00 ff ff were removed
  w.flush();
  return new Uint8Array(w.bytes);
}

Deno.test("the client's window is exactly 2^client_max_window_bits bytes of earlier messages", () => {
  const history = crypto.getRandomValues(new Uint8Array(40_000));
  const first = zlib.deflateRawSync(history, SYNC);
  const firstPayload = new Uint8Array(first.subarray(0, first.length - 4));
  for (
    const [offer, window] of [["permessage-deflate", 32768], [
      "permessage-deflate; client_max_window_bits=10",
      1024,
    ]] as const
  ) {
    const server = codec(offer);
    assert.deepEqual(server.inflate(firstPayload), history);
    const at = history.length - window;
    assert.deepEqual(server.inflate(matchBlock(window)), history.slice(at, at + 258), offer);
  }
  // The same window built from five messages of 8,000 bytes.
  const pieces = codec("permessage-deflate");
  for (let at = 0; at < history.length; at += 8000) {
    const z = zlib.deflateRawSync(history.subarray(at, at + 8000), SYNC);
    pieces.inflate(new Uint8Array(z.subarray(0, z.length - 4)));
  }
  assert.deepEqual(pieces.inflate(matchBlock(32768)), history.slice(7232, 7232 + 258));
  // One byte further back than the window is refused, not read from stale memory.
  const narrow = codec("permessage-deflate; client_max_window_bits=10");
  narrow.inflate(firstPayload);
  rejects(() => narrow.inflate(matchBlock(1025)), 1002, /too far back/);
  // With client_no_context_takeover nothing is kept: any back-reference is too far.
  const none = codec("permessage-deflate; client_no_context_takeover");
  none.inflate(firstPayload);
  rejects(() => none.inflate(matchBlock(1)), 1002, /too far back/);
});
