/**
 * parseRequestHead: request-line and field-line syntax (RFC 9112 §2-§5), limits and partial input.
 * Every case is fed every way (`feedAllWays`), so each one also checks incremental parsing.
 */
import assert from "node:assert/strict";
import { parseFieldLine, parseRequestHead } from "../../../server/http/request_head.ts";
import { ProtocolError, type ProtocolErrorCode } from "../../../server/http/errors.ts";
import {
  decodeEscapes,
  DEFAULT_LIMITS,
  driveHead,
  feedAllWays,
  latin1,
  mulberry32,
  NEXT_REQUEST,
  withLimits,
} from "./_helpers.ts";
import type { Limits } from "../../../server/config.ts";
import { INVALID_FILES, VALID_FILES } from "../../fixtures/requests/index.ts";

const HOST = "Host: example.com\r\n";

interface ValidCase {
  name: string;
  input: string;
  method: string;
  target: string;
  targetForm?: string;
  version?: "HTTP/1.0" | "HTTP/1.1";
  headers?: Array<[string, string]>;
  consumed?: number;
  limits?: Partial<Limits>;
}

const VALID: ValidCase[] = [
  {
    name: "parses a minimal HTTP/1.1 GET",
    input: `GET / HTTP/1.1\r\n${HOST}\r\n`,
    method: "GET",
    target: "/",
    headers: [["host", "example.com"]],
  },
  {
    name: "parses an HTTP/1.0 request with no header fields",
    input: "GET /index.html HTTP/1.0\r\n\r\n",
    method: "GET",
    target: "/index.html",
    version: "HTTP/1.0",
    headers: [],
  },
  {
    name: "reads HTTP/1.2 as HTTP/1.1 (RFC 9110 §2.5: a higher minor is served as ours)",
    input: `GET / HTTP/1.2\r\n${HOST}\r\n`,
    method: "GET",
    target: "/",
    version: "HTTP/1.1",
    headers: [["host", "example.com"]],
  },
  {
    name: "reads HTTP/1.9 as HTTP/1.1",
    input: "POST /x HTTP/1.9\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    method: "POST",
    target: "/x",
    version: "HTTP/1.1",
    headers: [["host", "a"], ["content-length", "0"]],
  },
  {
    name: "parses absolute-form",
    input: `GET http://example.com:8080/a?b HTTP/1.1\r\n${HOST}\r\n`,
    method: "GET",
    target: "http://example.com:8080/a?b",
    targetForm: "absolute",
  },
  {
    name: "parses asterisk-form for OPTIONS",
    input: `OPTIONS * HTTP/1.1\r\n${HOST}\r\n`,
    method: "OPTIONS",
    target: "*",
    targetForm: "asterisk",
  },
  {
    name: "parses authority-form for CONNECT",
    input: `CONNECT example.com:443 HTTP/1.1\r\n${HOST}\r\n`,
    method: "CONNECT",
    target: "example.com:443",
    targetForm: "authority",
  },
  {
    name: "parses CONNECT to a bracketed IPv6 literal",
    input: `CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n${HOST}\r\n`,
    method: "CONNECT",
    target: "[2001:db8::1]:8443",
    targetForm: "authority",
  },
  {
    name: "keeps the method's case (methods are case-sensitive tokens)",
    input: `Get / HTTP/1.1\r\n${HOST}\r\n`,
    method: "Get",
    target: "/",
  },
  {
    name: "parses an unknown but valid method token",
    input: `BREW-COFFEE /pot HTTP/1.1\r\n${HOST}\r\n`,
    method: "BREW-COFFEE",
    target: "/pot",
  },
  {
    name: "skips empty lines before the request line and counts them as consumed",
    input: `\r\n\r\n\r\nGET / HTTP/1.1\r\n${HOST}\r\n`,
    method: "GET",
    target: "/",
    consumed: 6 + 16 + HOST.length + 2,
  },
  {
    name: "lowercases names and keeps values as latin-1 with OWS trimmed",
    input:
      `GET / HTTP/1.1\r\nHOST:example.com\r\nX-Mixed-Case: \t V a l \t\r\nX-Bytes: \xe9\xff\r\n\r\n`,
    method: "GET",
    target: "/",
    headers: [["host", "example.com"], ["x-mixed-case", "V a l"], ["x-bytes", "\xe9\xff"]],
  },
  {
    name: "accepts empty field values",
    input: `GET / HTTP/1.1\r\n${HOST}X-A:\r\nX-B: \t \r\n\r\n`,
    method: "GET",
    target: "/",
    headers: [["host", "example.com"], ["x-a", ""], ["x-b", ""]],
  },
  {
    name: "keeps repeated fields in order",
    input: `GET / HTTP/1.1\r\n${HOST}Accept: a\r\naccept: b\r\n\r\n`,
    method: "GET",
    target: "/",
    headers: [["host", "example.com"], ["accept", "a"], ["accept", "b"]],
  },
  {
    name: "accepts every tchar in a field name",
    input: `GET / HTTP/1.1\r\n${HOST}!#$%&'*+-.^_\`|~09aZ: v\r\n\r\n`,
    method: "GET",
    target: "/",
    headers: [["host", "example.com"], ["!#$%&'*+-.^_`|~09az", "v"]],
  },
  {
    name: "accepts a colon and other visible bytes inside a value",
    input: `GET / HTTP/1.1\r\n${HOST}X-Url: http://a.test:80/?q="x"\r\n\r\n`,
    method: "GET",
    target: "/",
    headers: [["host", "example.com"], ["x-url", 'http://a.test:80/?q="x"']],
  },
  {
    name: "parses a request line of exactly maxRequestLineBytes",
    input: `GET /${"a".repeat(50)} HTTP/1.1\r\n\r\n`,
    method: "GET",
    target: `/${"a".repeat(50)}`,
    limits: { maxRequestLineBytes: 64 },
  },
  {
    name: "parses exactly maxHeaderCount fields",
    input: `GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n`,
    method: "GET",
    target: "/",
    headers: [["a", "1"], ["b", "2"], ["c", "3"]],
    limits: { maxHeaderCount: 3 },
  },
  {
    name: "parses 100 fields, mixed case and obs-text among them, in order",
    input: `GET / HTTP/1.1\r\n${
      Array.from({ length: 100 }, (_, i) => `X-F${i}: ${i === 57 ? "caf\xe9" : `v${i}`}\r\n`)
        .join("")
    }\r\n`,
    method: "GET",
    target: "/",
    headers: Array.from(
      { length: 100 },
      (_, i) => [`x-f${i}`, i === 57 ? "caf\xe9" : `v${i}`] as [string, string],
    ),
    limits: { maxHeaderCount: 100 },
  },
];

for (const c of VALID) {
  Deno.test(c.name, () => {
    const input = latin1(c.input);
    feedAllWays(input, driveHead(withLimits(c.limits)), (fed) => {
      assert.equal(fed.kind, "complete");
      if (fed.kind !== "complete") return;
      const head = fed.value;
      assert.equal(head.method, c.method);
      assert.equal(head.target, c.target);
      assert.equal(head.targetForm, c.targetForm ?? "origin");
      assert.equal(head.version, c.version ?? "HTTP/1.1");
      assert.equal(head.minor, (c.version ?? "HTTP/1.1") === "HTTP/1.1" ? 1 : 0);
      if (c.headers) assert.deepStrictEqual(head.headers, c.headers);
      assert.equal(fed.consumed, c.consumed ?? input.length);
    }, { trailing: NEXT_REQUEST });
  });
}

/** [what is rejected, input, status, code, limits?] */
type InvalidCase = [string, string, number, ProtocolErrorCode, Partial<Limits>?];

const REQ = "GET / HTTP/1.1\r\n";

// deno-fmt-ignore
const INVALID: InvalidCase[] = [
  // Request line shape (RFC 9112 §3).
  ["two spaces after the method", "GET  / HTTP/1.1\r\n\r\n", 400, "INVALID_REQUEST_LINE"],
  ["a request line starting with a space", " / HTTP/1.1\r\n\r\n", 400, "INVALID_METHOD"],
  ["a method with no target", "GET\r\n\r\n", 400, "INVALID_REQUEST_LINE"],
  ["a missing version (HTTP/0.9 style)", "GET /\r\n\r\n", 400, "INVALID_REQUEST_LINE"],
  ["a trailing space after the version", "GET / HTTP/1.1 \r\n\r\n", 400, "INVALID_VERSION"],
  ["an extra token after the version", "GET / HTTP/1.1 x\r\n\r\n", 400, "INVALID_VERSION"],
  ["an HTAB separator", "GET\t/ HTTP/1.1\r\n\r\n", 400, "INVALID_METHOD"],
  ["an HTAB before the version", "GET /\tHTTP/1.1\r\n\r\n", 400, "INVALID_TARGET"],
  ["a non-token method byte", "G@T / HTTP/1.1\r\n\r\n", 400, "INVALID_METHOD"],
  ["a NUL before the method", "\0GET / HTTP/1.1\r\n\r\n", 400, "INVALID_METHOD"],
  // Versions (RFC 9112 §2.3; RFC 9110 §6.2).
  ["HTTP/2.0 with 505", "GET / HTTP/2.0\r\n\r\n", 505, "UNSUPPORTED_VERSION"],
  ["HTTP/2.1 with 505", "GET / HTTP/2.1\r\n\r\n", 505, "UNSUPPORTED_VERSION"],
  ["HTTP/3.1 with 505", "GET / HTTP/3.1\r\n\r\n", 505, "UNSUPPORTED_VERSION"],
  ["HTTP/0.9 with 505", "GET / HTTP/0.9\r\n\r\n", 505, "UNSUPPORTED_VERSION"],
  ["HTTP/0.0 with 505", "GET / HTTP/0.0\r\n\r\n", 505, "UNSUPPORTED_VERSION"],
  ["HTTP/9.9 with 505", "GET / HTTP/9.9\r\n\r\n", 505, "UNSUPPORTED_VERSION"],
  ["HTTP/1.x with a non-digit minor", "GET / HTTP/1.x\r\n\r\n", 400, "INVALID_VERSION"],
  ["a lowercase protocol name", "GET / http/1.1\r\n\r\n", 400, "INVALID_VERSION"],
  ["HTTP/1 without a minor", "GET / HTTP/1\r\n\r\n", 400, "INVALID_VERSION"],
  ["HTTP/01.1", "GET / HTTP/01.1\r\n\r\n", 400, "INVALID_VERSION"],
  ["HTTP/1.10", "GET / HTTP/1.10\r\n\r\n", 400, "INVALID_VERSION"],
  ["HTTP/1,1", "GET / HTTP/1,1\r\n\r\n", 400, "INVALID_VERSION"],
  ["HTTP/a.1", "GET / HTTP/a.1\r\n\r\n", 400, "INVALID_VERSION"],
  ["an eight-byte version with the wrong name", "GET / HTTPS/1.\r\n\r\n", 400, "INVALID_VERSION"],
  // Targets (RFC 9112 §3.2).
  ["a fragment in the target", "GET /#x HTTP/1.1\r\n\r\n", 400, "INVALID_TARGET"],
  ["a CTL in the target", "GET /\x7f HTTP/1.1\r\n\r\n", 400, "INVALID_TARGET"],
  ["a non-ASCII byte in the target", "GET /\xe9 HTTP/1.1\r\n\r\n", 400, "INVALID_TARGET"],
  ["asterisk-form with GET", "GET * HTTP/1.1\r\n\r\n", 400, "INVALID_TARGET"],
  ["authority-form with GET", "GET a.test:80 HTTP/1.1\r\n\r\n", 400, "INVALID_TARGET"],
  ["origin-form with CONNECT", "CONNECT / HTTP/1.1\r\n\r\n", 400, "INVALID_TARGET"],
  ["CONNECT without a port", "CONNECT a.test HTTP/1.1\r\n\r\n", 400, "INVALID_TARGET"],
  ["a relative target", "GET a/b HTTP/1.1\r\n\r\n", 400, "INVALID_TARGET"],
  // Line endings (RFC 9112 §2.2).
  ["a bare LF ending the request line", "GET / HTTP/1.1\n\r\n", 400, "INVALID_LINE_ENDING"],
  ["a bare LF ending a field line", `${REQ}${"Host: a\n"}\r\n`, 400, "INVALID_LINE_ENDING"],
  ["a bare LF ending the head", `${REQ}${HOST}\n`, 400, "INVALID_LINE_ENDING"],
  ["a bare LF before the request line", `\n${REQ}\r\n`, 400, "INVALID_LINE_ENDING"],
  ["a bare LF after an empty line", `\r\n\n${REQ}\r\n`, 400, "INVALID_LINE_ENDING"],
  ["a bare CR before the request line", `\r${REQ}\r\n`, 400, "INVALID_LINE_ENDING"],
  ["a bare CR in the request line", "GET /\r/ HTTP/1.1\r\n\r\n", 400, "INVALID_LINE_ENDING"],
  ["a bare CR in a value", `${REQ}X: a\rb\r\n\r\n`, 400, "INVALID_LINE_ENDING"],
  ["CR CR LF", `${REQ}X: a\r\r\n\r\n`, 400, "INVALID_LINE_ENDING"],
  ["a bare CR where the head should end", `${REQ}${HOST}\rX: y\r\n\r\n`, 400, "INVALID_LINE_ENDING"],
  // Field lines (RFC 9112 §5; RFC 9110 §5).
  ["whitespace before the colon", `${REQ}Host : a\r\n\r\n`, 400, "WHITESPACE_BEFORE_COLON"],
  ["an HTAB before the colon", `${REQ}Host\t: a\r\n\r\n`, 400, "WHITESPACE_BEFORE_COLON"],
  ["obs-fold", `${REQ}${HOST}X: a\r\n  b\r\n\r\n`, 400, "OBSOLETE_LINE_FOLDING"],
  ["obs-fold with HTAB", `${REQ}${HOST}X: a\r\n\tb\r\n\r\n`, 400, "OBSOLETE_LINE_FOLDING"],
  ["whitespace before the first field", `${REQ} ${HOST}\r\n`, 400, "OBSOLETE_LINE_FOLDING"],
  ["an empty field name", `${REQ}: v\r\n\r\n`, 400, "INVALID_HEADER_NAME"],
  ["brackets in a field name", `${REQ}[x]: v\r\n\r\n`, 400, "INVALID_HEADER_NAME"],
  ["a space inside a field name", `${REQ}X Y: v\r\n\r\n`, 400, "INVALID_HEADER_NAME"],
  ["a field line without a colon", `${REQ}NoColon\r\n\r\n`, 400, "INVALID_HEADER_NAME"],
  ["a non-ASCII byte in a field name", `${REQ}X\xa0: v\r\n\r\n`, 400, "INVALID_HEADER_NAME"],
  ["NUL in a value", `${REQ}X: a\0\r\n\r\n`, 400, "INVALID_HEADER_VALUE"],
  ["BEL in a value", `${REQ}X: \x07\r\n\r\n`, 400, "INVALID_HEADER_VALUE"],
  ["DEL in a value", `${REQ}X: \x7f\r\n\r\n`, 400, "INVALID_HEADER_VALUE"],
  ["VT in a value", `${REQ}X: a\x0bb\r\n\r\n`, 400, "INVALID_HEADER_VALUE"],
  ["a value starting with VT (VT is not OWS)", `${REQ}X:\x0ba\r\n\r\n`, 400, "INVALID_HEADER_VALUE"],
  ["ESC in a value", `${REQ}X: \x1b[0m\r\n\r\n`, 400, "INVALID_HEADER_VALUE"],
  // Limits.
  ["a request line one byte over maxRequestLineBytes", `GET /${"a".repeat(51)} HTTP/1.1\r\n\r\n`, 414, "REQUEST_LINE_TOO_LONG", { maxRequestLineBytes: 64 }],
  ["an unfinished request line over maxRequestLineBytes", `GET /${"a".repeat(100)}`, 414, "REQUEST_LINE_TOO_LONG", { maxRequestLineBytes: 64 }],
  ["an unfinished head over maxHeadBytes", `${REQ}${`X-Fill: ${"f".repeat(90)}\r\n`.repeat(3)}`, 431, "HEADERS_TOO_LARGE", { maxHeadBytes: 256 }],
  ["an unfinished field line longer than maxHeadBytes", `${REQ}X-Fill: ${"f".repeat(300)}`, 431, "HEADERS_TOO_LARGE", { maxHeadBytes: 256 }],
  ["one field over maxHeaderCount", `${REQ}A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n`, 431, "TOO_MANY_HEADERS", { maxHeaderCount: 3 }],
];

for (const [what, input, status, code, limits] of INVALID) {
  Deno.test(`rejects ${what} with ${status}`, () => {
    feedAllWays(latin1(input), driveHead(withLimits(limits)), (fed) => {
      assert.equal(fed.kind, "error");
      if (fed.kind !== "error") return;
      assert.equal(fed.error.code, code);
      assert.equal(fed.error.status, status);
    });
  });
}

// The "Fragmented ..." cases of h1spec (github.com/uNetworking/h1spec, a public HTTP/1.1 test
// suite): a prefix of a request is incomplete, so the parser asks for more bytes.
const FRAGMENTS = [
  "G",
  "GET",
  "GET ",
  "GET /pa",
  "GET /path ",
  "GET /path HTTP/1.",
  "GET /path HTTP/1.1",
  "GET /path HTTP/1.1\r",
  "GET /path HTTP/1.1\r\n",
  "GET /path HTTP/1.1\r\nHo",
  "GET /path HTTP/1.1\r\nHost",
  "GET /path HTTP/1.1\r\nHost:",
  "GET /path HTTP/1.1\r\nHost: a",
  "GET /path HTTP/1.1\r\nHost: a\r",
  "GET /path HTTP/1.1\r\nHost: a\r\n",
  "GET /path HTTP/1.1\r\nHost: a\r\n\r",
  "GET /path HTTP/1.1\r\nHost: a\r\nX: \x07",
  "\r",
  "\r\n",
  "\r\n\r",
  "\r\n\r\n",
  "\r\nGET / HTTP/1.1\r\n",
];

for (const fragment of FRAGMENTS) {
  Deno.test(`returns partial for the prefix ${JSON.stringify(fragment)}`, () => {
    feedAllWays(latin1(fragment), driveHead(), (fed) => {
      assert.equal(fed.kind, "partial");
    });
  });
}

Deno.test("parses a head whose size is exactly maxHeadBytes plus the final CRLF CRLF", () => {
  const limits = withLimits({ maxHeadBytes: 256 });
  const start = `${REQ}X: `;
  // 4 bytes: the CRLF ending the last field line and the empty line.
  const input = `${start}${"v".repeat(256 - start.length)}\r\n\r\n`;
  assert.equal(input.length, 260);
  feedAllWays(latin1(input), driveHead(limits), (fed) => {
    assert.equal(fed.kind, "complete");
  });
  const over = `${start}${"v".repeat(257 - start.length)}\r\n\r\n`;
  feedAllWays(latin1(over), driveHead(limits), (fed) => {
    assert.equal(fed.kind, "error");
    if (fed.kind === "error") assert.equal(fed.error.code, "HEADERS_TOO_LARGE");
  });
});

Deno.test("does not count leading empty lines towards the limits", () => {
  const limits = withLimits({ maxHeadBytes: 256, maxRequestLineBytes: 64 });
  const line = `GET /${"a".repeat(50)} HTTP/1.1\r\n`;
  const input = `${"\r\n".repeat(20)}${line}X: ${"v".repeat(256 - line.length - 3)}\r\n\r\n`;
  feedAllWays(latin1(input), driveHead(limits), (fed) => {
    assert.equal(fed.kind, "complete");
    if (fed.kind === "complete") assert.equal(fed.consumed, input.length);
  });
});

Deno.test("returns partial for a request line of exactly the limit awaiting its LF", () => {
  const limits = withLimits({ maxRequestLineBytes: 64 });
  const line = `GET /${"a".repeat(50)} HTTP/1.1`;
  assert.equal(line.length, 64);
  const r = parseRequestHead(latin1(`${line}\r`), limits);
  assert.equal(r.kind, "partial");
  assert.throws(
    () => parseRequestHead(latin1(`${line}xy`), limits),
    (e: unknown) => e instanceof ProtocolError && e.code === "REQUEST_LINE_TOO_LONG",
  );
});

Deno.test("rejects an over-long request line with 414 before its CRLF arrives", () => {
  const line = latin1(`GET /${"a".repeat(DEFAULT_LIMITS.maxRequestLineBytes)}`);
  assert.throws(
    () => parseRequestHead(line, DEFAULT_LIMITS),
    (e: unknown) => e instanceof ProtocolError && e.status === 414,
  );
});

Deno.test("accepts a request line of 8000 bytes with the default limits (RFC 9112 §3)", () => {
  const target = `/${"p".repeat(8000 - 15)}`;
  const input = latin1(`GET ${target} HTTP/1.1\r\n${HOST}\r\n`);
  const r = parseRequestHead(input, DEFAULT_LIMITS);
  assert.equal(r.kind, "complete");
  if (r.kind === "complete") assert.equal(r.head.target, target);
});

Deno.test("parses pipelined heads one after another from one buffer", () => {
  const a = `GET /a HTTP/1.1\r\n${HOST}\r\n`;
  const b = `\r\nGET /b HTTP/1.1\r\n${HOST}\r\n`;
  const buf = latin1(a + b + "GET /c HT");
  const r1 = parseRequestHead(buf, DEFAULT_LIMITS);
  assert.equal(r1.kind, "complete");
  if (r1.kind !== "complete") return;
  assert.equal(r1.consumed, a.length);
  const r2 = parseRequestHead(buf.subarray(r1.consumed), DEFAULT_LIMITS);
  assert.equal(r2.kind, "complete");
  if (r2.kind !== "complete") return;
  assert.equal(r2.head.target, "/b");
  assert.equal(r2.consumed, b.length);
  const r3 = parseRequestHead(buf.subarray(r1.consumed + r2.consumed), DEFAULT_LIMITS);
  assert.equal(r3.kind, "partial");
});

Deno.test("returns the start of the unfinished line as scanned", () => {
  const r = parseRequestHead(latin1(`${REQ}Host: exa`), DEFAULT_LIMITS);
  assert.deepStrictEqual(r, { kind: "partial", scanned: REQ.length });
  const r2 = parseRequestHead(latin1("\r\n\r\nGET / HT"), DEFAULT_LIMITS);
  assert.deepStrictEqual(r2, { kind: "partial", scanned: 4 });
});

Deno.test("gives the same result whether or not scanned is passed back", () => {
  const input = latin1(`\r\n${REQ}${HOST}Accept: */*\r\n\r\n`);
  for (let cut = 0; cut <= input.length; cut++) {
    const first = parseRequestHead(input.subarray(0, cut), DEFAULT_LIMITS);
    if (first.kind === "complete") {
      assert.equal(cut, input.length);
      continue;
    }
    const resumed = parseRequestHead(input, DEFAULT_LIMITS, first.scanned);
    assert.deepStrictEqual(resumed, parseRequestHead(input, DEFAULT_LIMITS), `cut at ${cut}`);
  }
});

Deno.test("parses a field line between given offsets (used for trailers)", () => {
  const buf = latin1("xxName:\t v \tyy");
  assert.deepStrictEqual(parseFieldLine(buf, 2, 12), ["name", "v"]);
  assert.throws(
    () => parseFieldLine(latin1(" a: b"), 0, 5),
    (e: unknown) => e instanceof ProtocolError && e.code === "OBSOLETE_LINE_FOLDING",
  );
});

Deno.test("throws only ProtocolError for every single-byte mutation of a request", () => {
  const base = latin1(`POST /p?q HTTP/1.1\r\n${HOST}Content-Length: 3\r\n\r\n`);
  for (let i = 0; i < base.length; i++) {
    for (const b of [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x3a, 0x7f, 0x80, 0xff]) {
      const mutated = base.slice();
      mutated[i] = b;
      try {
        parseRequestHead(mutated, DEFAULT_LIMITS);
      } catch (e) {
        assert.ok(e instanceof ProtocolError, `byte ${i} = 0x${b.toString(16)}: ${e}`);
      }
    }
  }
});

/** `parseRequestHead`'s result, or the code of the `ProtocolError` it threw. */
function outcome(run: () => unknown): unknown {
  try {
    return run();
  } catch (e) {
    if (e instanceof ProtocolError) return `ProtocolError ${e.code}`;
    throw e;
  }
}

Deno.test("a window of a larger buffer parses exactly as the same bytes on their own", () => {
  const rand = mulberry32(0x5eed);
  const JUNK = [0x0d, 0x0a, 0x20, 0x3a, 0x00, 0x47, 0x7f, 0xff];
  const junk = (n: number) => Array.from({ length: n }, () => JUNK[Math.floor(rand() * 8)]);
  const inputs = [...VALID_FILES, ...INVALID_FILES].map(([, http]) => decodeEscapes(http));
  inputs.push(latin1(`\r\n\r\n${REQ}${HOST}\r\nGET /next HTTP/1.1\r\n`));
  for (const bytes of inputs) {
    for (let round = 0; round < 4; round++) {
      const before = junk(Math.floor(rand() * 9));
      const buf = new Uint8Array([...before, ...bytes, ...junk(Math.floor(rand() * 9))]);
      const from = before.length;
      // Every cut, so partial heads (and `scanned`, passed back) are compared too.
      const cut = Math.floor(rand() * (bytes.length + 1));
      for (const n of [bytes.length, cut]) {
        const alone = bytes.subarray(0, n);
        const expected = outcome(() => parseRequestHead(alone, DEFAULT_LIMITS));
        const got = outcome(() => parseRequestHead(buf, DEFAULT_LIMITS, 0, from, from + n));
        assert.deepStrictEqual(got, expected, `${n} of ${bytes.length} bytes`);
        const r = expected as { kind?: string; scanned?: number };
        if (r.kind === "partial") {
          assert.deepStrictEqual(
            outcome(() => parseRequestHead(buf, DEFAULT_LIMITS, r.scanned, from, from + n)),
            expected,
            "with scanned passed back",
          );
          assert.deepStrictEqual(
            outcome(() =>
              parseRequestHead(buf, DEFAULT_LIMITS, r.scanned, from, from + bytes.length)
            ),
            outcome(() => parseRequestHead(bytes, DEFAULT_LIMITS, r.scanned)),
            "resumed with the rest",
          );
        }
      }
    }
  }
});
