/**
 * ChunkedDecoder (RFC 9112 §7.1): sizes, extensions, CRLF discipline, trailers and limits.
 * Every case is fed every way (byte by byte included), with and without a `maxData` cap, and with
 * a following request appended that must stay unconsumed.
 */
import assert from "node:assert/strict";
import { ChunkedDecoder } from "../../../server/http/chunked.ts";
import type { ProtocolErrorCode } from "../../../server/http/errors.ts";
import { encodeChunkHeader, LAST_CHUNK } from "../../../server/http/response_head.ts";
import type { Limits } from "../../../server/config.ts";
import {
  concatBytes,
  DEFAULT_LIMITS,
  driveChunked,
  feedAllWays,
  latin1,
  NEXT_REQUEST,
  withLimits,
} from "./_helpers.ts";

const MAX_DATA_VARIANTS = [0, 1, 3];

/** [behaviour, encoded body, decoded body, trailers?, limits?] */
type ValidCase = [string, string, string, Array<[string, string]>?, Partial<Limits>?];

// deno-fmt-ignore
const VALID: ValidCase[] = [
  ["decodes one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello"],
  ["decodes several chunks", "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n", "hello world"],
  ["decodes an empty body", "0\r\n\r\n", ""],
  ["accepts 000 as the last chunk", "000\r\n\r\n", ""],
  ["reads lowercase hex sizes", "a\r\n0123456789\r\n0\r\n\r\n", "0123456789"],
  ["reads uppercase hex sizes", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789"],
  ["reads mixed-case multi-digit hex sizes", `1F\r\n${"x".repeat(31)}\r\n0\r\n\r\n`, "x".repeat(31)],
  ["reads sizes with leading zeros", "00005\r\nhello\r\n0000\r\n\r\n", "hello"],
  ["decodes a 4 KiB chunk", `1000\r\n${"z".repeat(4096)}\r\n0\r\n\r\n`, "z".repeat(4096)],
  ["passes CR and LF inside chunk data through", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n"],
  ["passes chunk-like text inside data through", "5\r\n0\r\n\r\n\r\n0\r\n\r\n", "0\r\n\r\n"],
  ["ignores an extension name", "5;a\r\nhello\r\n0\r\n\r\n", "hello"],
  ["ignores an extension with a token value", "5;a=b\r\nhello\r\n0\r\n\r\n", "hello"],
  ["ignores several extensions", "5;a=b;c;d=e\r\nhello\r\n0\r\n\r\n", "hello"],
  ["allows whitespace before the extension semicolon", "5 \t;a=b\r\nhello\r\n0\r\n\r\n", "hello"],
  ["allows whitespace around = and ; in extensions", "5 ; a = b ; c\r\nhello\r\n0\r\n\r\n", "hello"],
  ["ignores a quoted extension value", '5;a="b c;d=e"\r\nhello\r\n0\r\n\r\n', "hello"],
  ["ignores a quoted value with escapes", '5;a="x\\"y\\\\z"\r\nhello\r\n0\r\n\r\n', "hello"],
  ["ignores an empty quoted value", '5;a=""\r\nhello\r\n0\r\n\r\n', "hello"],
  ["ignores obs-text in a quoted value", '5;a="\xe9\xff"\r\nhello\r\n0\r\n\r\n', "hello"],
  ["ignores extensions on the last chunk", "5\r\nhello\r\n0;end=1\r\n\r\n", "hello"],
  ["keeps trailer fields", "3\r\nabc\r\n0\r\nX-Sum: 1\r\nx-other:\t two \r\n\r\n", "abc", [["x-sum", "1"], ["x-other", "two"]]],
  ["keeps a repeated trailer field", "0\r\nA: 1\r\nA: 2\r\n\r\n", "", [["a", "1"], ["a", "2"]]],
  ["accepts a chunk line of exactly maxChunkLineBytes", `5;e=${"e".repeat(28)}\r\nhello\r\n0\r\n\r\n`, "hello", [], { maxChunkLineBytes: 32 }],
  ["accepts trailers of exactly maxTrailerBytes", `0\r\nX: ${"t".repeat(25)}\r\n\r\n`, "", [["x", "t".repeat(25)]], { maxTrailerBytes: 32 }],
  ["accepts a body of exactly maxBodyBytes", "6\r\nhello \r\n4\r\nworl\r\n0\r\n\r\n", "hello worl", [], { maxBodyBytes: 10 }],
];

for (const [what, encoded, decoded, trailers, limits] of VALID) {
  Deno.test(what, () => {
    const input = latin1(encoded);
    for (const maxData of MAX_DATA_VARIANTS) {
      feedAllWays(input, driveChunked(withLimits(limits), maxData), (fed, way) => {
        assert.equal(fed.kind, "complete", `maxData=${maxData} ${way}`);
        if (fed.kind !== "complete") return;
        assert.deepStrictEqual(fed.value.body, latin1(decoded));
        assert.deepStrictEqual(fed.value.trailers, trailers ?? []);
        assert.equal(fed.consumed, input.length);
      }, { trailing: NEXT_REQUEST, randomRuns: maxData === 0 ? 8 : 2 });
    }
  });
}

/** [what is rejected, encoded body, status, code, limits?] */
type InvalidCase = [string, string, number, ProtocolErrorCode, Partial<Limits>?];

// deno-fmt-ignore
const INVALID: InvalidCase[] = [
  // chunk-size = 1*HEXDIG
  ["a size followed by junk without ';' (2 erfr)", "2 erfr\r\nab\r\n0\r\n\r\n", 400, "INVALID_CHUNK_SIZE"],
  ["a space after the size without an extension", "2 \r\nab\r\n0\r\n\r\n", 400, "INVALID_CHUNK_SIZE"],
  ["a space before the size", " 2\r\nab\r\n0\r\n\r\n", 400, "INVALID_CHUNK_SIZE"],
  ["a 0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", 400, "INVALID_CHUNK_SIZE"],
  ["a plus sign", "+5\r\nhello\r\n0\r\n\r\n", 400, "INVALID_CHUNK_SIZE"],
  ["a minus sign", "-5\r\nhello\r\n0\r\n\r\n", 400, "INVALID_CHUNK_SIZE"],
  ["an underscore in the size", "0_5\r\nhello\r\n0\r\n\r\n", 400, "INVALID_CHUNK_SIZE"],
  ["a non-hex size", "g\r\nhello\r\n0\r\n\r\n", 400, "INVALID_CHUNK_SIZE"],
  ["an empty size line", "\r\nhello\r\n0\r\n\r\n", 400, "INVALID_CHUNK_SIZE"],
  ["a size past 2^53", "20000000000000\r\nx\r\n", 400, "INVALID_CHUNK_SIZE"],
  ["a size past 2^64", "10000000000000005\r\nx\r\n", 400, "INVALID_CHUNK_SIZE"],
  ["a missing last chunk replaced by junk", "5\r\nhello\r\nzz\r\n", 400, "INVALID_CHUNK_SIZE"],
  // chunk-ext
  ["an empty extension (2;)", "2;\r\nab\r\n0\r\n\r\n", 400, "INVALID_CHUNK_EXTENSION"],
  ["an extension without a name", "2;=b\r\nab\r\n0\r\n\r\n", 400, "INVALID_CHUNK_EXTENSION"],
  ["an extension with an empty value", "2;a=\r\nab\r\n0\r\n\r\n", 400, "INVALID_CHUNK_EXTENSION"],
  ["an unbalanced quote", '2;a="b\r\nab\r\n0\r\n\r\n', 400, "INVALID_CHUNK_EXTENSION"],
  ["a quote closed by an escaped quote only", '2;a="b\\"\r\nab\r\n0\r\n\r\n', 400, "INVALID_CHUNK_EXTENSION"],
  ["a trailing backslash in a quoted value", '2;a="b\\\r\nab\r\n0\r\n\r\n', 400, "INVALID_CHUNK_EXTENSION"],
  ["junk after a quoted value", '2;a="b"c\r\nab\r\n0\r\n\r\n', 400, "INVALID_CHUNK_EXTENSION"],
  ["a space inside a token value", "2;a=b c\r\nab\r\n0\r\n\r\n", 400, "INVALID_CHUNK_EXTENSION"],
  ["a CTL inside a quoted value", '2;a="\x01"\r\nab\r\n0\r\n\r\n', 400, "INVALID_CHUNK_EXTENSION"],
  ["a quoted-pair escaping a CTL", '2;a="\\\x01"\r\nab\r\n0\r\n\r\n', 400, "INVALID_CHUNK_EXTENSION"],
  ["a non-token extension name", "2;a@b\r\nab\r\n0\r\n\r\n", 400, "INVALID_CHUNK_EXTENSION"],
  // CRLF discipline
  ["a bare LF after the size", "5\nhello\r\n0\r\n\r\n", 400, "INVALID_LINE_ENDING"],
  ["a bare CR after the size", "5\rhello\r\n0\r\n\r\n", 400, "INVALID_LINE_ENDING"],
  ["CR CR LF after the size", "5\r\r\nhello\r\n0\r\n\r\n", 400, "INVALID_LINE_ENDING"],
  ["a bare LF ending the last chunk line", "0\n\r\n", 400, "INVALID_LINE_ENDING"],
  ["a bare LF ending the trailer section", "0\r\n\n", 400, "INVALID_LINE_ENDING"],
  ["a bare LF ending a trailer field", "0\r\nX: y\n\r\n", 400, "INVALID_LINE_ENDING"],
  ["a bare CR inside a trailer field", "0\r\nX: a\rb\r\n\r\n", 400, "INVALID_LINE_ENDING"],
  ["data without its CRLF", "5\r\nhello0\r\n\r\n", 400, "INVALID_CHUNK_DATA"],
  ["data followed by a bare LF", "5\r\nhello\n0\r\n\r\n", 400, "INVALID_CHUNK_DATA"],
  ["data followed by CR and junk", "5\r\nhello\rX0\r\n\r\n", 400, "INVALID_CHUNK_DATA"],
  ["data longer than its size", "3\r\nhello\r\n0\r\n\r\n", 400, "INVALID_CHUNK_DATA"],
  // trailers
  ["an obs-folded trailer", "0\r\nX: a\r\n b\r\n\r\n", 400, "INVALID_TRAILER"],
  ["whitespace before a trailer colon", "0\r\nX : a\r\n\r\n", 400, "INVALID_TRAILER"],
  ["a trailer without a colon", "0\r\nX\r\n\r\n", 400, "INVALID_TRAILER"],
  ["NUL in a trailer value", "0\r\nX: \0\r\n\r\n", 400, "INVALID_TRAILER"],
  // limits
  ["a chunk line one byte over maxChunkLineBytes", `5;e=${"e".repeat(29)}\r\nhello\r\n0\r\n\r\n`, 400, "CHUNK_LINE_TOO_LONG", { maxChunkLineBytes: 32 }],
  ["an unfinished chunk line over maxChunkLineBytes", `5;e=${"e".repeat(40)}`, 400, "CHUNK_LINE_TOO_LONG", { maxChunkLineBytes: 32 }],
  ["a run of leading zeros over maxChunkLineBytes", `${"0".repeat(40)}5\r\nhello\r\n0\r\n\r\n`, 400, "CHUNK_LINE_TOO_LONG", { maxChunkLineBytes: 32 }],
  ["trailers one byte over maxTrailerBytes", `0\r\nX: ${"t".repeat(26)}\r\n\r\n`, 431, "TRAILERS_TOO_LARGE", { maxTrailerBytes: 32 }],
  ["an unfinished trailer over maxTrailerBytes", `0\r\nX: ${"t".repeat(60)}`, 431, "TRAILERS_TOO_LARGE", { maxTrailerBytes: 32 }],
  ["many small trailers over maxTrailerBytes", `0\r\n${"A: b\r\n".repeat(8)}\r\n`, 431, "TRAILERS_TOO_LARGE", { maxTrailerBytes: 32 }],
  ["a body one byte over maxBodyBytes", "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n", 413, "BODY_TOO_LARGE", { maxBodyBytes: 10 }],
  ["a single chunk over maxBodyBytes before its data arrives", "b\r\n", 413, "BODY_TOO_LARGE", { maxBodyBytes: 10 }],
  ["a chunk of 2^53-1 bytes with the default limit", "1fffffffffffff\r\n", 413, "BODY_TOO_LARGE"],
];

for (const [what, encoded, status, code, limits] of INVALID) {
  Deno.test(`rejects ${what} with ${status}`, () => {
    for (const maxData of MAX_DATA_VARIANTS) {
      feedAllWays(latin1(encoded), driveChunked(withLimits(limits), maxData), (fed, way) => {
        assert.equal(fed.kind, "error", `maxData=${maxData} ${way}`);
        if (fed.kind !== "error") return;
        assert.equal(fed.error.code, code);
        assert.equal(fed.error.status, status);
      }, { randomRuns: maxData === 0 ? 8 : 2 });
    }
  });
}

// deno-fmt-ignore
const PARTIAL: Array<[string, string]> = [
  ["an unfinished size line", "5"],
  ["a size line awaiting its LF", "5\r"],
  ["an unfinished extension", "5;a=\"b"],
  ["unfinished data", "5\r\nhel"],
  ["data awaiting its CRLF", "5\r\nhello"],
  ["data awaiting the LF of its CRLF", "5\r\nhello\r"],
  ["a missing last chunk", "5\r\nhello\r\n"],
  ["a last chunk without the empty line", "0\r\n"],
  ["a last chunk awaiting the final LF", "0\r\n\r"],
  ["an unfinished trailer section", "0\r\nX: y\r\n"],
];

for (const [what, encoded] of PARTIAL) {
  Deno.test(`returns partial for ${what}`, () => {
    feedAllWays(latin1(encoded), driveChunked(), (fed) => {
      assert.equal(fed.kind, "partial");
    });
  });
}

Deno.test("returns data as views into the given buffer without copying", () => {
  const buf = latin1("5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n");
  const r = new ChunkedDecoder(DEFAULT_LIMITS).decode(buf);
  assert.equal(r.done, true);
  assert.equal(r.consumed, buf.length);
  assert.equal(r.data.length, 2);
  for (const d of r.data) assert.equal(d.buffer, buf.buffer);
  assert.equal(r.data[0].byteOffset, 3);
});

Deno.test("caps the data returned by one call at maxData", () => {
  const dec = new ChunkedDecoder(DEFAULT_LIMITS);
  const buf = latin1("a\r\n0123456789\r\n0\r\n\r\n");
  const r1 = dec.decode(buf, 4);
  assert.deepStrictEqual(concatBytes(...r1.data), latin1("0123"));
  assert.equal(r1.done, false);
  const r2 = dec.decode(buf.subarray(r1.consumed), 100);
  assert.deepStrictEqual(concatBytes(...r2.data), latin1("456789"));
  assert.equal(r2.done, true);
  assert.equal(r1.consumed + r2.consumed, buf.length);
});

Deno.test("stops at the end of the body and leaves a pipelined request unconsumed", () => {
  const body = "3\r\nabc\r\n0\r\nX: y\r\n\r\n";
  const buf = concatBytes(latin1(body), NEXT_REQUEST);
  const dec = new ChunkedDecoder(DEFAULT_LIMITS);
  const r = dec.decode(buf);
  assert.equal(r.done, true);
  assert.equal(r.consumed, body.length);
  assert.equal(dec.done, true);
  assert.equal(dec.total, 3);
  const again = dec.decode(buf.subarray(r.consumed));
  assert.deepStrictEqual(again, { data: [], consumed: 0, done: true });
});

Deno.test("counts the total decoded bytes across calls", () => {
  const dec = new ChunkedDecoder(DEFAULT_LIMITS);
  dec.decode(latin1("4\r\nab"));
  assert.equal(dec.total, 4);
  assert.equal(dec.done, false);
});

Deno.test("decodes what encodeChunkHeader and LAST_CHUNK encode, every way", () => {
  const sizes = [1, 9, 10, 15, 16, 17, 255, 256, 1000];
  const parts: Uint8Array[] = [];
  let expected = "";
  for (const n of sizes) {
    const data = "d".repeat(n);
    expected += data;
    parts.push(encodeChunkHeader(n), latin1(`${data}\r\n`));
  }
  parts.push(LAST_CHUNK);
  feedAllWays(concatBytes(...parts), driveChunked(), (fed) => {
    assert.equal(fed.kind, "complete");
    if (fed.kind === "complete") assert.equal(fed.value.body.length, expected.length);
  }, { trailing: NEXT_REQUEST, randomRuns: 3 });
});
