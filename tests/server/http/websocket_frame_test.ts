/**
 * Sans-IO tests of server/http/websocket_frame.ts: frame parsing (whole, byte by byte, every
 * rejection with its close code), message assembly, encoding round trips, close payloads, the
 * handshake checks and SHA-1. Runs with no permissions.
 */
import assert from "node:assert/strict";
import {
  decodeClosePayload,
  encodeClosePayload,
  encodeFrame,
  type Frame,
  type FrameResult,
  isValidCloseCode,
  MessageAssembler,
  Opcode,
  parseFrame,
  unmask,
  WebSocketProtocolError,
} from "../../../server/http/websocket_frame.ts";
import {
  acceptKey,
  checkHandshake,
  hasToken,
  parseProtocols,
  sha1,
} from "../../../server/http/websocket_handshake.ts";

const enc = new TextEncoder();
const SERVER = { expectMasked: true } as const;
const CLIENT = { expectMasked: false } as const;
const MASK = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function frameOf(r: FrameResult): Frame & { consumed: number } {
  assert.equal(r.kind, "frame");
  if (r.kind !== "frame") throw new Error("unreachable");
  return { ...r.frame, consumed: r.consumed };
}

/** Asserts that parsing throws a WebSocketProtocolError with `code`. */
function rejects(fn: () => unknown, code: number, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WebSocketProtocolError, `not a protocol error: ${err}`);
    assert.equal(err.closeCode, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

/** Every strict prefix is partial (or throws once the error is visible), the whole parses. */
function byteByByte(bytes: Uint8Array, opts = SERVER): Frame & { consumed: number } {
  for (let i = 0; i < bytes.length; i++) {
    assert.equal(parseFrame(bytes.subarray(0, i), opts).kind, "partial", `prefix ${i}`);
  }
  return frameOf(parseFrame(bytes, opts));
}

// --- RFC 6455 §5.7 examples ------------------------------------------------------------------

Deno.test("RFC 6455 5.7: single-frame unmasked text 'Hello'", () => {
  const f = frameOf(parseFrame(new Uint8Array([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]), CLIENT));
  assert.equal(f.fin, true);
  assert.equal(f.opcode, Opcode.TEXT);
  assert.equal(f.masked, false);
  assert.equal(new TextDecoder().decode(f.payload), "Hello");
  assert.equal(f.consumed, 7);
});

Deno.test("RFC 6455 5.7: single-frame masked text 'Hello'", () => {
  const bytes = new Uint8Array([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
  const copy = bytes.slice();
  const f = byteByByte(bytes);
  assert.equal(f.masked, true);
  assert.equal(new TextDecoder().decode(f.payload), "Hello");
  assert.deepEqual(bytes, copy, "the input buffer is not modified");
  assert.deepEqual(encodeFrame(Opcode.TEXT, enc.encode("Hello"), { mask: MASK }), bytes);
});

Deno.test("RFC 6455 5.7: fragmented unmasked text, ping, masked pong", () => {
  const a = frameOf(parseFrame(new Uint8Array([0x01, 0x03, 0x48, 0x65, 0x6c]), CLIENT));
  const b = frameOf(parseFrame(new Uint8Array([0x80, 0x02, 0x6c, 0x6f]), CLIENT));
  assert.equal(a.fin, false);
  assert.equal(a.opcode, Opcode.TEXT);
  assert.equal(b.opcode, Opcode.CONTINUATION);
  const asm = new MessageAssembler(100);
  assert.equal(asm.push(a), null);
  assert.deepEqual(asm.push(b), { type: "text", data: "Hello" });
  const ping = frameOf(
    parseFrame(new Uint8Array([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]), CLIENT),
  );
  assert.equal(ping.opcode, Opcode.PING);
  const pong = frameOf(
    parseFrame(
      new Uint8Array([0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
      SERVER,
    ),
  );
  assert.equal(pong.opcode, Opcode.PONG);
  assert.equal(new TextDecoder().decode(pong.payload), "Hello");
});

Deno.test("RFC 6455 5.7: 256-byte and 64 KiB binary frames use 16- and 64-bit lengths", () => {
  const f256 = encodeFrame(Opcode.BINARY, new Uint8Array(256));
  assert.equal(hex(f256.subarray(0, 4)), "827e0100");
  const f64k = encodeFrame(Opcode.BINARY, new Uint8Array(65536));
  assert.equal(hex(f64k.subarray(0, 10)), "827f0000000000010000");
  assert.equal(frameOf(parseFrame(f64k, CLIENT)).payload.length, 65536);
});

// --- parsing in pieces -------------------------------------------------------------------------

Deno.test("parseFrame: byte by byte for 7-, 16- and 64-bit lengths, masked", () => {
  for (const len of [0, 1, 125, 126, 127, 1000, 65535, 65536, 70000]) {
    const payload = new Uint8Array(len).map((_, i) => (i * 7) & 0xff);
    const bytes = encodeFrame(Opcode.BINARY, payload, { mask: MASK });
    // Prefixes are cheap to check: the header alone decides "partial" until the end.
    const f = len > 2000
      ? (() => {
        for (const i of [0, 1, 2, 3, 9, 10, 13, bytes.length - 1]) {
          assert.equal(parseFrame(bytes.subarray(0, i), SERVER).kind, "partial", `${len}/${i}`);
        }
        return frameOf(parseFrame(bytes, SERVER));
      })()
      : byteByByte(bytes);
    assert.equal(f.consumed, bytes.length);
    assert.deepEqual(f.payload, payload, `length ${len}`);
  }
});

Deno.test("parseFrame: several frames in one buffer are consumed one at a time", () => {
  const a = encodeFrame(Opcode.TEXT, enc.encode("one"), { mask: MASK });
  const b = encodeFrame(Opcode.PING, enc.encode("p"), { mask: MASK });
  const c = encodeFrame(Opcode.BINARY, new Uint8Array([1, 2, 3]), { mask: MASK });
  const all = new Uint8Array([...a, ...b, ...c, 0x82]);
  let off = 0;
  const seen: number[] = [];
  while (true) {
    const r = parseFrame(all.subarray(off), SERVER);
    if (r.kind === "partial") break;
    seen.push(r.frame.opcode);
    off += r.consumed;
  }
  assert.deepEqual(seen, [Opcode.TEXT, Opcode.PING, Opcode.BINARY]);
  assert.equal(off, all.length - 1);
});

Deno.test("parseFrame: a large payload is unmasked into a fresh buffer at offset 0", () => {
  const payload = new Uint8Array(1 << 20).map((_, i) => (i * 2654435761) >>> 24);
  const bytes = encodeFrame(Opcode.BINARY, payload, { mask: MASK });
  const f = frameOf(parseFrame(bytes, SERVER));
  assert.equal(f.payload.byteOffset, 0);
  assert.equal(f.payload.buffer.byteLength, payload.length);
  assert.deepEqual(f.payload, payload);
});

// --- every rejection --------------------------------------------------------------------------

Deno.test("1002: RSV1, RSV2, RSV3 without an extension (seen at the first byte)", () => {
  for (const rsv of [4, 2, 1, 7]) {
    const bytes = encodeFrame(Opcode.TEXT, enc.encode("x"), { rsv, mask: MASK });
    rejects(() => parseFrame(bytes.subarray(0, 1), SERVER), 1002, /reserved bits/);
    rejects(() => parseFrame(bytes, SERVER), 1002, /reserved bits/);
  }
});

Deno.test("1002: reserved opcodes 0x3-0x7 and 0xB-0xF", () => {
  for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    rejects(() => parseFrame(new Uint8Array([0x80 | op]), SERVER), 1002, /reserved opcode/);
  }
});

Deno.test("1002: unmasked frame from a client; masked frame from a server", () => {
  const unmasked = encodeFrame(Opcode.TEXT, enc.encode("hi"));
  rejects(() => parseFrame(unmasked.subarray(0, 2), SERVER), 1002, /unmasked/);
  const masked = encodeFrame(Opcode.TEXT, enc.encode("hi"), { mask: MASK });
  rejects(() => parseFrame(masked, CLIENT), 1002, /masked frame from a server/);
});

Deno.test("1002: fragmented control frames and control payloads over 125 bytes", () => {
  for (const op of [Opcode.PING, Opcode.PONG, Opcode.CLOSE]) {
    rejects(
      () => parseFrame(encodeFrame(op, new Uint8Array(2), { fin: false, mask: MASK }), SERVER),
      1002,
      /fragmented control/,
    );
    const big = encodeFrame(op, new Uint8Array(126), { mask: MASK });
    rejects(() => parseFrame(big.subarray(0, 2), SERVER), 1002, /over 125/);
  }
  assert.equal(
    frameOf(parseFrame(encodeFrame(Opcode.PING, new Uint8Array(125), { mask: MASK }), SERVER))
      .payload.length,
    125,
  );
});

Deno.test("1002: 64-bit length with the most significant bit set (seen at byte 3)", () => {
  const bytes = new Uint8Array([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]);
  assert.equal(parseFrame(bytes.subarray(0, 2), SERVER).kind, "partial");
  rejects(() => parseFrame(bytes.subarray(0, 3), SERVER), 1002, /top bit/);
});

Deno.test("1002: close payload of 1 byte; invalid close codes", () => {
  rejects(
    () => parseFrame(encodeFrame(Opcode.CLOSE, new Uint8Array([3]), { mask: MASK }), SERVER),
    1002,
    /1 byte/,
  );
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    const payload = new Uint8Array([code >> 8, code & 0xff]);
    rejects(
      () => parseFrame(encodeFrame(Opcode.CLOSE, payload, { mask: MASK }), SERVER),
      1002,
      /invalid close code/,
    );
  }
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 3000, 4999]) {
    const payload = new Uint8Array([code >> 8, code & 0xff]);
    const f = frameOf(parseFrame(encodeFrame(Opcode.CLOSE, payload, { mask: MASK }), SERVER));
    assert.deepEqual(decodeClosePayload(f.payload), { code, reason: "" });
  }
});

Deno.test("1007: close reason that is not UTF-8", () => {
  const payload = new Uint8Array([0x03, 0xe8, 0xff, 0xfe]);
  rejects(
    () => parseFrame(encodeFrame(Opcode.CLOSE, payload, { mask: MASK }), SERVER),
    1007,
    /UTF-8/,
  );
});

Deno.test("1009: a data frame over the limit is refused from its header alone", () => {
  // 20 MiB declared, no payload sent.
  const header = new Uint8Array([0x82, 0xff, 0, 0, 0, 0, 0x01, 0x40, 0, 0, 1, 2, 3, 4]);
  rejects(() => parseFrame(header, { expectMasked: true, maxPayloadBytes: 16 << 20 }), 1009);
  const f = encodeFrame(Opcode.TEXT, new Uint8Array(101), { mask: MASK });
  rejects(() => parseFrame(f.subarray(0, 4), { expectMasked: true, maxPayloadBytes: 100 }), 1009);
  // Control frames are capped at 125 only, whatever the data limit.
  const ping = encodeFrame(Opcode.PING, new Uint8Array(50), { mask: MASK });
  assert.equal(parseFrame(ping, { expectMasked: true, maxPayloadBytes: 0 }).kind, "frame");
});

// --- message assembly -------------------------------------------------------------------------

function frame(opcode: number, payload: Uint8Array | string, fin = true): Frame {
  const p = typeof payload === "string" ? enc.encode(payload) : payload;
  return { fin, opcode, masked: true, payload: p.slice() };
}

Deno.test("assembler: three text fragments with a ping between them", () => {
  const asm = new MessageAssembler(1000);
  assert.equal(asm.push(frame(Opcode.TEXT, "Hel", false)), null);
  assert.equal(asm.fragmented, true);
  assert.deepEqual(asm.push(frame(Opcode.PING, "p")), { type: "ping", data: enc.encode("p") });
  assert.equal(asm.push(frame(Opcode.CONTINUATION, "lo, ", false)), null);
  assert.equal(asm.pendingBytes, 7);
  assert.deepEqual(asm.push(frame(Opcode.CONTINUATION, "world")), {
    type: "text",
    data: "Hello, world",
  });
  assert.equal(asm.fragmented, false);
  assert.equal(asm.pendingBytes, 0);
});

Deno.test("assembler: a UTF-8 character split across fragments; a BOM is kept; empty text", () => {
  const euro = enc.encode("€"); // e2 82 ac
  const asm = new MessageAssembler(1000);
  assert.equal(asm.push(frame(Opcode.TEXT, euro.subarray(0, 1), false)), null);
  assert.equal(asm.push(frame(Opcode.CONTINUATION, euro.subarray(1, 2), false)), null);
  assert.deepEqual(asm.push(frame(Opcode.CONTINUATION, euro.subarray(2))), {
    type: "text",
    data: "€",
  });
  assert.deepEqual(asm.push(frame(Opcode.TEXT, "\ufeffhi")), { type: "text", data: "\ufeffhi" });
  assert.deepEqual(asm.push(frame(Opcode.TEXT, "")), { type: "text", data: "" });
});

Deno.test("assembler: binary messages, whole and fragmented", () => {
  const asm = new MessageAssembler(1000);
  const r = asm.push(frame(Opcode.BINARY, new Uint8Array([0, 255, 1])));
  assert.deepEqual(r, { type: "binary", data: new Uint8Array([0, 255, 1]) });
  assert.equal(asm.push(frame(Opcode.BINARY, new Uint8Array([1]), false)), null);
  assert.equal(asm.push(frame(Opcode.CONTINUATION, new Uint8Array(0), false)), null);
  assert.deepEqual(asm.push(frame(Opcode.CONTINUATION, new Uint8Array([2]))), {
    type: "binary",
    data: new Uint8Array([1, 2]),
  });
});

Deno.test("assembler 1002: continuation without a start; new data frame while fragmented", () => {
  rejects(() => new MessageAssembler(10).push(frame(Opcode.CONTINUATION, "x")), 1002, /without/);
  const asm = new MessageAssembler(10);
  asm.push(frame(Opcode.TEXT, "a", false));
  rejects(() => asm.push(frame(Opcode.TEXT, "b")), 1002, /inside a fragmented/);
  const asm2 = new MessageAssembler(10);
  asm2.push(frame(Opcode.BINARY, "a", false));
  rejects(() => asm2.push(frame(Opcode.BINARY, "b")), 1002, /inside a fragmented/);
});

Deno.test("assembler 1009: the total of the fragments passes the limit", () => {
  const asm = new MessageAssembler(10);
  assert.deepEqual(asm.push(frame(Opcode.TEXT, "0123456789")), {
    type: "text",
    data: "0123456789",
  });
  asm.push(frame(Opcode.TEXT, "012345", false));
  assert.equal(asm.remaining, 4);
  rejects(() => asm.push(frame(Opcode.CONTINUATION, "67890")), 1009, /limit/);
});

Deno.test("assembler 1007: invalid UTF-8 text (bad byte, truncated, surrogate, overlong)", () => {
  for (
    const bad of [[0xff], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0x68, 0x69, 0x80]]
  ) {
    rejects(
      () => new MessageAssembler(100).push(frame(Opcode.TEXT, new Uint8Array(bad))),
      1007,
      /UTF-8/,
    );
  }
});

Deno.test("assembler: close events decode code and reason; empty close is 1005", () => {
  const asm = new MessageAssembler(10);
  assert.deepEqual(asm.push(frame(Opcode.CLOSE, encodeClosePayload(4000, "bye"))), {
    type: "close",
    code: 4000,
    reason: "bye",
  });
  assert.deepEqual(asm.push(frame(Opcode.CLOSE, new Uint8Array(0))), {
    type: "close",
    code: 1005,
    reason: "",
  });
});

// --- encoding ------------------------------------------------------------------------------------

Deno.test("encodeFrame: round trips for every length class, masked and not", () => {
  for (const len of [0, 1, 125, 126, 65535, 65536, 1 << 20]) {
    const payload = new Uint8Array(len).map((_, i) => i & 0xff);
    for (const mask of [undefined, MASK]) {
      for (const fin of [true, false]) {
        const bytes = encodeFrame(Opcode.BINARY, payload, { mask, fin });
        const f = frameOf(parseFrame(bytes, { expectMasked: mask !== undefined }));
        assert.equal(f.consumed, bytes.length);
        assert.equal(f.fin, fin);
        assert.equal(f.opcode, Opcode.BINARY);
        assert.deepEqual(f.payload, payload);
      }
    }
  }
});

Deno.test("encodeFrame: server frames are unmasked and minimal", () => {
  assert.equal(hex(encodeFrame(Opcode.TEXT, enc.encode("Hello"))), "810548656c6c6f");
  assert.equal(hex(encodeFrame(Opcode.CLOSE)), "8800");
  assert.equal(hex(encodeFrame(Opcode.PONG, enc.encode("x"))), "8a0178");
});

Deno.test("unmask: the word-at-a-time path matches the byte path", () => {
  const data = crypto.getRandomValues(new Uint8Array(1003));
  const a = data.slice();
  unmask(a, MASK);
  const b = new Uint8Array(1004).subarray(1); // unaligned: byte path
  b.set(data);
  unmask(b, MASK);
  assert.deepEqual(a, b);
  for (let i = 0; i < data.length; i++) assert.equal(a[i], data[i] ^ MASK[i & 3]);
});

Deno.test("close payloads: encode, decode, 1005, truncation at a character boundary", () => {
  assert.deepEqual(decodeClosePayload(encodeClosePayload(1000, "done")), {
    code: 1000,
    reason: "done",
  });
  assert.equal(encodeClosePayload().length, 0);
  assert.equal(encodeClosePayload(1005, "ignored").length, 0);
  const long = "€".repeat(50); // 150 bytes
  const p = encodeClosePayload(1000, long);
  assert.equal(p.length, 2 + 123);
  assert.equal(decodeClosePayload(p).reason, "€".repeat(41));
  assert.throws(() => encodeClosePayload(1006), RangeError);
  assert.throws(() => encodeClosePayload(999), RangeError);
});

Deno.test("isValidCloseCode", () => {
  for (const c of [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4000, 4999]) {
    assert.ok(isValidCloseCode(c), String(c));
  }
  for (const c of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 1000.5, NaN]) {
    assert.ok(!isValidCloseCode(c), String(c));
  }
});

// --- handshake -------------------------------------------------------------------------------

function req(
  headers: Record<string, string>,
  method = "GET",
  version = "HTTP/1.1",
): Parameters<typeof checkHandshake>[0] {
  const h = new Headers(headers);
  return { method, version, header: (n) => h.get(n) };
}

const GOOD = {
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-version": "13",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
};

Deno.test("checkHandshake: a valid request, including token lists and odd case", () => {
  assert.equal(checkHandshake(req(GOOD)), null);
  assert.equal(
    checkHandshake(req({ ...GOOD, upgrade: "h2c, WebSocket", connection: "keep-alive, upgrade" })),
    null,
  );
});

Deno.test("checkHandshake: each failure has a reason and status 400", () => {
  const cases: Array<[Parameters<typeof checkHandshake>[0], RegExp]> = [
    [req(GOOD, "POST"), /GET/],
    [req(GOOD, "GET", "HTTP/1.0"), /HTTP\/1\.1/],
    [req({ ...GOOD, upgrade: "h2c" }), /upgrade/],
    [req({ ...GOOD, upgrade: "websockets" }), /upgrade/],
    [req({ ...GOOD, connection: "keep-alive" }), /connection/],
    [req({ ...GOOD, "sec-websocket-version": "8" }), /version/],
    [req({ ...GOOD, "sec-websocket-key": "" }), /key/],
    [req({ ...GOOD, "sec-websocket-key": "c2hvcnQ=" }), /16 bytes/],
    [req({ ...GOOD, "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ" }), /16 bytes/],
    [
      req({ ...GOOD, "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ==" }),
      /16/,
    ],
  ];
  for (const [r, pattern] of cases) {
    const f = checkHandshake(r);
    assert.ok(f, `accepted: ${pattern}`);
    assert.equal(f.status, 400);
    assert.match(f.reason, pattern);
  }
  const { "sec-websocket-key": _, ...noKey } = GOOD;
  assert.match(checkHandshake(req(noKey))!.reason, /must be set/);
  const { "sec-websocket-version": __, ...noVersion } = GOOD;
  assert.deepEqual(checkHandshake(req(noVersion))!.headers, [["sec-websocket-version", "13"]]);
});

Deno.test("hasToken and parseProtocols", () => {
  assert.ok(hasToken("a, Upgrade ,b", "upgrade"));
  assert.ok(!hasToken("upgraded", "upgrade"));
  assert.ok(!hasToken(null, "upgrade"));
  assert.deepEqual(parseProtocols("chat, echo,,superchat "), ["chat", "echo", "superchat"]);
  assert.deepEqual(parseProtocols(null), []);
});

// --- SHA-1 and the accept key -------------------------------------------------------------------

Deno.test("sha1: FIPS 180 test vectors", () => {
  assert.equal(hex(sha1(new Uint8Array(0))), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  assert.equal(hex(sha1(enc.encode("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
  assert.equal(
    hex(sha1(enc.encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
    "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
  );
  assert.equal(
    hex(sha1(new Uint8Array(1_000_000).fill(0x61))),
    "34aa973cd4c4daa4f61eeb2bdbad27316534016f",
  );
});

Deno.test("sha1: matches WebCrypto around the padding boundaries", async () => {
  for (const len of [1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000]) {
    const data = new Uint8Array(len).map((_, i) => (i * 31 + len) & 0xff);
    const want = new Uint8Array(await crypto.subtle.digest("SHA-1", data));
    assert.equal(hex(sha1(data)), hex(want), `length ${len}`);
  }
});

Deno.test("acceptKey: RFC 6455's example", () => {
  assert.equal(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

// --- RSV1: permessage-deflate -----------------------------------------------------------------

Deno.test("RSV1 marks a compressed message only where permessage-deflate was agreed", () => {
  const deflate = { expectMasked: true, allowCompressed: true } as const;
  const first = encodeFrame(Opcode.TEXT, enc.encode("x"), { mask: MASK, rsv: 4, fin: false });
  const f = frameOf(parseFrame(first, deflate));
  assert.equal(f.compressed, true);
  assert.equal(
    frameOf(parseFrame(encodeFrame(Opcode.BINARY, enc.encode("x"), { mask: MASK }), deflate))
      .compressed,
    undefined,
  );
  // Without the agreement RSV1 is a protocol error, as before.
  rejects(() => parseFrame(first, { expectMasked: true }), 1002, /reserved bits/);
  // RSV2 and RSV3 stay reserved; RSV1 may not mark a continuation or a control frame.
  for (const rsv of [2, 1, 6, 5]) {
    rejects(
      () => parseFrame(encodeFrame(Opcode.TEXT, enc.encode("x"), { mask: MASK, rsv }), deflate),
      1002,
    );
  }
  for (const op of [Opcode.CONTINUATION, Opcode.PING, Opcode.PONG, Opcode.CLOSE]) {
    rejects(
      () => parseFrame(encodeFrame(op, new Uint8Array(0), { mask: MASK, rsv: 4 }), deflate),
      1002,
      /RSV1 set on a control or continuation frame/,
    );
  }
});

Deno.test("assembler: a compressed message is inflated whole; without an inflater it is a 1002", () => {
  const asm = new MessageAssembler(1000);
  const part = (op: number, p: string, fin: boolean, compressed?: boolean): Frame => ({
    fin,
    opcode: op,
    masked: true,
    payload: enc.encode(p),
    ...(compressed ? { compressed } : {}),
  });
  rejects(() => asm.push(part(Opcode.TEXT, "ab", true, true)), 1002, /compressed message/);
  const seen: string[] = [];
  const plain = new MessageAssembler(1000);
  plain.inflate = (d) => {
    seen.push(new TextDecoder().decode(d));
    return enc.encode("inflated");
  };
  assert.equal(plain.push(part(Opcode.TEXT, "ab", false, true)), null);
  assert.deepEqual(plain.push(part(Opcode.CONTINUATION, "cd", true)), {
    type: "text",
    data: "inflated",
  });
  assert.deepEqual(seen, ["abcd"], "the whole message, once");
  // The next message is not compressed: the inflater is not called.
  assert.deepEqual(plain.push(part(Opcode.TEXT, "plain", true)), { type: "text", data: "plain" });
  assert.equal(seen.length, 1);
});
