/**
 * Message-body framing conformance (RFC 9112 §6-§7, RFC 9110 §8.6): strict Content-Length digits,
 * chunked with extensions and trailers, overflow-safe sizes, TE+CL, unknown codings, TE on
 * HTTP/1.0, and "no framing = no body".
 */
import assert from "node:assert/strict";
import {
  type Case,
  chunked,
  conformanceSuite,
  encodeChunks,
  expectRejected,
  fromTable,
  get,
  type Row,
  show,
} from "../_support/conformance.ts";
import { header, roundTrip } from "../_support/raw_client.ts";

const HOST = "Host: t\r\n";
const X = "X-Mark: {M}\r\n";
const post = (cl: string, body: string) =>
  `POST /echo HTTP/1.1\r\n${HOST}Content-Length: ${cl}\r\n${X}\r\n${body}`;
const te = (coding: string, body = "0\r\n\r\n") =>
  `POST /echo HTTP/1.1\r\n${HOST}Transfer-Encoding: ${coding}\r\n${X}\r\n${body}`;
const ch = (body: string) => chunked("/echo", body, X);

const ROWS: Row[] = [
  // Content-Length.
  ["frames a body by Content-Length", post("5", "hello"), { ok: 200, body: "hello" }],
  ["reads leading zeros in Content-Length as decimal", post("005", "hello"), {
    ok: 200,
    body: "hello",
  }],
  [
    "trims OWS around Content-Length",
    `POST /echo HTTP/1.1\r\n${HOST}Content-Length:\t5 \r\n\r\nhello`,
    {
      ok: 200,
      body: "hello",
    },
  ],
  ["accepts Content-Length: 0", post("0", ""), { ok: 200, body: "" }],
  [
    "rejects two identical Content-Length lines",
    `POST /echo HTTP/1.1\r\n${HOST}Content-Length: 5\r\nContent-Length: 5\r\n${X}\r\nhello`,
    400,
  ],
  [
    "rejects two different Content-Length lines",
    `POST /echo HTTP/1.1\r\n${HOST}Content-Length: 5\r\nContent-Length: 6\r\n${X}\r\nhello!`,
    400,
  ],
  ["rejects a Content-Length list of equal values", post("5, 5", "hello"), 400],
  ["rejects a Content-Length list of different values", post("5,6", "hello!"), 400],
  ["rejects Content-Length with '+'", post("+5", "hello"), 400],
  ["rejects a negative Content-Length", post("-5", "hello"), 400],
  ["rejects a huge negative Content-Length", post("-18446744073709551615", ""), 400],
  ["rejects a 0x Content-Length", post("0x5", "hello"), 400],
  ["rejects Content-Length with trailing junk", post("5Z", "hello"), 400],
  ["rejects Content-Length with an inner space", post("5 5", "hello"), 400],
  ["rejects Content-Length with '_'", post("1_0", "helloworld"), 400],
  ["rejects a decimal-point Content-Length", post("5.0", "hello"), 400],
  ["rejects an empty Content-Length", post("", "hello"), 400],
  ["rejects a 20-digit Content-Length (overflow)", post("99999999999999999999", "hello"), 400],
  ["rejects 2^64+5 (no wrap-around to 5)", post("18446744073709551621", "hello"), 400],
  ["rejects a non-numeric Content-Length", post("abc", "hello"), 400],
  // Chunked, accepted.
  ["decodes a chunked body", ch(encodeChunks("hel", "lo")), { ok: 200, body: "hello" }],
  ["accepts uppercase hex chunk sizes", ch("A\r\n0123456789\r\nB\r\nabcdefghijk\r\n0\r\n\r\n"), {
    ok: 200,
    body: "0123456789abcdefghijk",
  }],
  [
    "accepts leading zeros in chunk sizes and 000 as the last chunk",
    ch("0005\r\nhello\r\n000\r\n\r\n"),
    {
      ok: 200,
      body: "hello",
    },
  ],
  ["ignores chunk extensions", ch("5;a=b;c\r\nhello\r\n0;last\r\n\r\n"), {
    ok: 200,
    body: "hello",
  }],
  [
    "accepts quoted-string chunk extensions with escapes",
    ch('5;a="x \\" y"\r\nhello\r\n0\r\n\r\n'),
    {
      ok: 200,
      body: "hello",
    },
  ],
  ["accepts BWS before a chunk extension", ch("5 ;a=b\r\nhello\r\n0\r\n\r\n"), {
    ok: 200,
    body: "hello",
  }],
  ["accepts a trailer section", ch("5\r\nhello\r\n0\r\nX-Trailer: 1\r\nX-Other: two\r\n\r\n"), {
    ok: 200,
    body: "hello",
  }],
  ["treats 'Chunked' case-insensitively", te("Chunked", "2\r\nhi\r\n0\r\n\r\n"), {
    ok: 200,
    body: "hi",
  }],
  ["skips empty list elements around chunked", te(", chunked ,", "2\r\nhi\r\n0\r\n\r\n"), {
    ok: 200,
    body: "hi",
  }],
  // Chunked, rejected.
  ["rejects a 0x chunk size", ch("0x5\r\nhello\r\n0\r\n\r\n"), 400],
  ["rejects a '+' chunk size", ch("+5\r\nhello\r\n0\r\n\r\n"), 400],
  ["rejects a '-' chunk size", ch("-5\r\nhello\r\n0\r\n\r\n"), 400],
  ["rejects a leading SP in a chunk size", ch(" 5\r\nhello\r\n0\r\n\r\n"), 400],
  ["rejects a trailing SP after a chunk size", ch("5 \r\nhello\r\n0\r\n\r\n"), 400],
  ["rejects '_' in a chunk size", ch("0_5\r\nhello\r\n0\r\n\r\n"), 400],
  ["rejects a non-hex chunk size", ch("g\r\nhello\r\n0\r\n\r\n"), 400],
  ["rejects an empty chunk-size line", ch("\r\nhello\r\n0\r\n\r\n"), 400],
  ["rejects junk after a chunk size without ';'", ch("2 erfrferferf\r\nhi\r\n0\r\n\r\n"), 400],
  ["rejects an empty chunk extension", ch("5;\r\nhello\r\n0\r\n\r\n"), 400],
  ["rejects a chunk extension with an empty value", ch("5;a=\r\nhello\r\n0\r\n\r\n"), 400],
  ["rejects an unterminated quoted chunk extension", ch('5;a="x\r\nhello\r\n0\r\n\r\n'), 400],
  ["rejects chunk data not followed by CRLF", ch("5\r\nhelloX0\r\n\r\n"), 400],
  ["rejects a bare LF after a chunk size", ch("5\nhello\r\n0\r\n\r\n"), 400],
  ["rejects a bare CR after a chunk size", ch("5\rhello\r\n0\r\n\r\n"), 400],
  ["rejects an overflowing chunk size (2^64+5)", ch("10000000000000005\r\nhello\r\n0\r\n\r\n"), [
    400,
    413,
  ]],
  ["rejects a 32-digit chunk size", ch("F".repeat(32) + "\r\nhello\r\n0\r\n\r\n"), [400, 413]],
  ["rejects a chunk size above maxBodyBytes with 413", ch("FFFFFFFFFF\r\nhello\r\n0\r\n\r\n"), 413],
  ["rejects a malformed trailer field", ch("5\r\nhello\r\n0\r\nbad trailer\r\n\r\n"), 400],
  ["rejects an obs-folded trailer", ch("5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n"), 400],
  // Transfer-Encoding.
  ["rejects chunked twice in one line", te("chunked, chunked", encodeChunks("hi")), 400],
  [
    "rejects chunked on two lines",
    `POST /echo HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n${X}\r\n${
      encodeChunks("hi")
    }`,
    400,
  ],
  // RFC 9112 §6.3: a final coding other than chunked → 400 and close (length undeterminable).
  ["rejects gzip alone (chunked not final) with 400", te("gzip", "xx"), 400],
  ["rejects identity alone (chunked not final) with 400", te("identity", "xx"), 400],
  ["rejects an unknown coding alone with 400", te("x-pigeons", "xx"), 400],
  ["rejects chunked, gzip (chunked not final) with 400", te("chunked, gzip", "xx"), 400],
  [
    "rejects chunked then gzip on two lines with 400",
    `POST /echo HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n${X}\r\n${
      encodeChunks("hi")
    }`,
    400,
  ],
  // RFC 9112 §6.1: framed by a final chunked, but with a coding we do not decode → 501 and close.
  ["answers gzip, chunked with 501", te("gzip, chunked", encodeChunks("hi")), 501],
  [
    "answers an unknown coding before chunked with 501",
    te("x-custom, chunked", encodeChunks("hi")),
    501,
  ],
  // chunked applied twice is malformed whatever precedes it.
  [
    "rejects gzip, chunked, chunked with 400",
    te("gzip, chunked, chunked", encodeChunks("hi")),
    400,
  ],
  ["rejects an empty Transfer-Encoding", te("", "xx"), 400],
  ["rejects a coding with parameters", te("chunked;q=1", encodeChunks("hi")), [400, 501]],
  [
    "rejects Transfer-Encoding on HTTP/1.0",
    `POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n${X}\r\n${encodeChunks("hi")}`,
    400,
  ],
  [
    "rejects Transfer-Encoding with Content-Length",
    `POST /echo HTTP/1.1\r\n${HOST}Content-Length: 7\r\nTransfer-Encoding: chunked\r\n${X}\r\n${
      encodeChunks("hi")
    }`,
    400,
  ],
];

const SPECIAL: Case[] = [
  {
    name: "TE+CL: 400, close, and the request hidden in the body is never answered",
    fn: async (port) => {
      await expectRejected(port, (m) => {
        const body = `0\r\n\r\nGET /hidden-${m} HTTP/1.1\r\n${HOST}\r\n`;
        return `POST /echo HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      }, 400);
    },
  },
  {
    name: "no framing = no body: POST without length then a pipelined GET gives two responses",
    fn: async (port) => {
      const rt = await roundTrip(
        port,
        `POST /echo HTTP/1.1\r\n${HOST}\r\n` + get("/"),
        { responses: 2, settleMs: 100 },
      );
      assert.deepEqual(rt.responses.map((r) => [r.status, r.body]), [[200, ""], [200, "Hello"]]);
      assert.equal(rt.partial, "");
      assert.ok(!rt.closed);
    },
  },
  {
    name: "a body on GET / is framed and consumed, never parsed as the next request",
    fn: async (port) => {
      const inner = get("/nope");
      const rt = await roundTrip(
        port,
        `GET / HTTP/1.1\r\n${HOST}Content-Length: ${inner.length}\r\n\r\n${inner}` + get("/"),
        { responses: 2, settleMs: 100 },
      );
      assert.deepEqual(rt.responses.map((r) => r.status), [200, 200], show(rt.text));
      assert.equal(rt.partial, "");
    },
  },
  {
    name: "a chunked body split across many writes is decoded",
    fn: async (port) => {
      const rt = await roundTrip(port, [
        `POST /echo HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n`,
        "5",
        "\r",
        "\nhel",
        "lo\r",
        "\n0\r\n",
        "X-T: 1\r\n",
        "\r",
        "\n",
      ]);
      assert.equal(rt.responses[0]?.status, 200, show(rt.text));
      assert.equal(rt.responses[0].body, "hello");
    },
  },
  {
    name: "an incomplete Content-Length body at EOF is never answered with 200",
    fn: async (port) => {
      const rt = await roundTrip(port, post("10", "hello"), { untilClose: true, halfClose: true });
      assert.ok(rt.closed, "connection not closed");
      assert.ok(rt.responses.every((r) => r.status !== 200), show(rt.text));
    },
  },
  {
    name: "an incomplete chunked body at EOF is never answered with 200",
    fn: async (port) => {
      const rt = await roundTrip(port, ch("5\r\nhello\r\n"), { untilClose: true, halfClose: true });
      assert.ok(rt.closed, "connection not closed");
      assert.ok(rt.responses.every((r) => r.status !== 200), show(rt.text));
    },
  },
  {
    name: "a Content-Length body is echoed byte for byte, including NUL and 0xFF",
    fn: async (port) => {
      const body = "\x00\x01\r\n\xff\x80HTTP/1.1 200 OK\r\n\r\n";
      const rt = await roundTrip(
        port,
        `POST /echo HTTP/1.1\r\n${HOST}Content-Length: ${body.length}\r\n\r\n${body}`,
      );
      assert.equal(rt.responses[0]?.status, 200, show(rt.text));
      assert.equal(rt.responses[0].body, body);
      assert.equal(header(rt.responses[0], "connection"), undefined);
    },
  },
];

conformanceSuite("conformance: body framing", [...fromTable(ROWS), ...SPECIAL]);
