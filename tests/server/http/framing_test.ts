/**
 * analyzeHead: body framing (RFC 9112 §6), Host (§3.2), persistence (§9.3) and Expect
 * (RFC 9110 §10.1.1), table-driven over hand-built heads; parseContentLength at its edges.
 */
import assert from "node:assert/strict";
import { analyzeHead, type HeadInfo, parseContentLength } from "../../../server/http/framing.ts";
import { ProtocolError, type ProtocolErrorCode } from "../../../server/http/errors.ts";
import {
  parseRequestHead,
  type RequestHead,
  type TargetForm,
} from "../../../server/http/request_head.ts";
import { DEFAULT_LIMITS, latin1 } from "./_helpers.ts";

interface HeadSpec {
  minor?: 0 | 1;
  method?: string;
  target?: string;
  targetForm?: TargetForm;
  /** Header fields; a Host is added on HTTP/1.1 unless `noHost`. */
  headers?: Array<[string, string]>;
  noHost?: boolean;
}

function head(spec: HeadSpec): RequestHead {
  const minor = spec.minor ?? 1;
  const headers: Array<[string, string]> = [];
  if (minor === 1 && !spec.noHost) headers.push(["host", "example.com"]);
  headers.push(...(spec.headers ?? []));
  return {
    method: spec.method ?? "POST",
    target: spec.target ?? "/",
    targetForm: spec.targetForm ?? "origin",
    version: minor === 1 ? "HTTP/1.1" : "HTTP/1.0",
    minor,
    headers,
  };
}

type Ok = { ok: Partial<HeadInfo> };
type Err = { status: number; code: ProtocolErrorCode };
type Case = [string, HeadSpec, Ok | Err, number?];

function check(name: string, spec: HeadSpec, want: Ok | Err, maxBodyBytes?: number): void {
  const limits = { maxBodyBytes: maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes };
  if ("ok" in want) {
    const info = analyzeHead(head(spec), limits);
    for (const [k, v] of Object.entries(want.ok)) {
      assert.deepStrictEqual(info[k as keyof HeadInfo], v, `${name}: ${k}`);
    }
    return;
  }
  assert.throws(() => analyzeHead(head(spec), limits), (e: unknown) => {
    assert.ok(e instanceof ProtocolError, `${name}: ProtocolError`);
    assert.equal(e.code, want.code, name);
    assert.equal(e.status, want.status, name);
    return true;
  });
}

function runTable(table: Case[]): void {
  for (const [name, spec, want, maxBodyBytes] of table) {
    const verb = "ok" in want ? name : `rejects ${name} with ${want.status}`;
    Deno.test(verb, () => check(name, spec, want, maxBodyBytes));
  }
}

const NONE = { kind: "none" } as const;
const CHUNKED = { kind: "chunked" } as const;
function length(n: number) {
  return { kind: "length", length: n } as const;
}
function cl(v: string): HeadSpec {
  return { headers: [["content-length", v]] };
}
function te(...values: string[]): HeadSpec {
  return { headers: values.map((v): [string, string] => ["transfer-encoding", v]) };
}

// deno-fmt-ignore
const CONTENT_LENGTH: Case[] = [
  ["frames a body by Content-Length", cl("5"), { ok: { framing: length(5) } }],
  ["reads leading zeros in Content-Length as decimal", cl("007"), { ok: { framing: length(7) } }],
  ["treats Content-Length 0 as no body", cl("0"), { ok: { framing: NONE } }],
  ["treats Content-Length 000 as no body", cl("000"), { ok: { framing: NONE } }],
  ["has no body without Content-Length or Transfer-Encoding", {}, { ok: { framing: NONE } }],
  ["accepts Content-Length equal to maxBodyBytes", cl("10"), { ok: { framing: length(10) } }, 10],
  ["Content-Length one above maxBodyBytes", cl("11"), { status: 413, code: "BODY_TOO_LARGE" }, 10],
  ["a huge but valid Content-Length", cl("9007199254740991"), { status: 413, code: "BODY_TOO_LARGE" }],
  ["accepts Content-Length 2^53-1 when the limit allows it", cl("9007199254740991"), { ok: { framing: length(9007199254740991) } }, Number.MAX_SAFE_INTEGER],
  ["Content-Length 2^53", cl("9007199254740992"), { status: 400, code: "INVALID_CONTENT_LENGTH" }, Number.MAX_SAFE_INTEGER],
  ["Content-Length 2^64+5", cl("18446744073709551621"), { status: 400, code: "INVALID_CONTENT_LENGTH" }],
  ["Content-Length +5", cl("+5"), { status: 400, code: "INVALID_CONTENT_LENGTH" }],
  ["Content-Length -1", cl("-1"), { status: 400, code: "INVALID_CONTENT_LENGTH" }],
  ["Content-Length -0", cl("-0"), { status: 400, code: "INVALID_CONTENT_LENGTH" }],
  ["Content-Length 0x5", cl("0x5"), { status: 400, code: "INVALID_CONTENT_LENGTH" }],
  ["Content-Length 5Z", cl("5Z"), { status: 400, code: "INVALID_CONTENT_LENGTH" }],
  ["Content-Length 1_0", cl("1_0"), { status: 400, code: "INVALID_CONTENT_LENGTH" }],
  ["Content-Length 1e3", cl("1e3"), { status: 400, code: "INVALID_CONTENT_LENGTH" }],
  ["Content-Length 5.0", cl("5.0"), { status: 400, code: "INVALID_CONTENT_LENGTH" }],
  ["Content-Length with an inner space", cl("1 2"), { status: 400, code: "INVALID_CONTENT_LENGTH" }],
  ["Content-Length as a list 5, 5", cl("5, 5"), { status: 400, code: "INVALID_CONTENT_LENGTH" }],
  ["Content-Length as a list 5,5", cl("5,5"), { status: 400, code: "INVALID_CONTENT_LENGTH" }],
  ["an empty Content-Length", cl(""), { status: 400, code: "INVALID_CONTENT_LENGTH" }],
  ["Content-Length with Arabic-Indic digits", cl("\u0665"), { status: 400, code: "INVALID_CONTENT_LENGTH" }],
  ["two identical Content-Length lines", { headers: [["content-length", "5"], ["content-length", "5"]] }, { status: 400, code: "INVALID_CONTENT_LENGTH" }],
  ["two different Content-Length lines", { headers: [["content-length", "5"], ["content-length", "6"]] }, { status: 400, code: "INVALID_CONTENT_LENGTH" }],
  ["Content-Length 0 repeated", { headers: [["content-length", "0"], ["content-length", "0"]] }, { status: 400, code: "INVALID_CONTENT_LENGTH" }],
  ["ignores a Content_Length look-alike", { headers: [["content_length", "5"]] }, { ok: { framing: NONE } }],
];

// deno-fmt-ignore
const TRANSFER_ENCODING: Case[] = [
  ["frames a body by Transfer-Encoding: chunked", te("chunked"), { ok: { framing: CHUNKED } }],
  ["reads transfer codings case-insensitively", te("CHUNKED"), { ok: { framing: CHUNKED } }],
  ["skips empty list elements before chunked", te(", chunked"), { ok: { framing: CHUNKED } }],
  ["skips empty list elements after chunked", te("chunked , ,"), { ok: { framing: CHUNKED } }],
  ["skips an empty Transfer-Encoding line next to chunked", te("", "chunked"), { ok: { framing: CHUNKED } }],
  // RFC 9112 §6.3: a final coding other than chunked leaves the length undeterminable → 400.
  ["chunked, gzip (chunked not final)", te("chunked, gzip"), { status: 400, code: "CHUNKED_NOT_FINAL" }],
  ["chunked and gzip on two lines (chunked not final)", te("chunked", "gzip"), { status: 400, code: "CHUNKED_NOT_FINAL" }],
  ["gzip alone", te("gzip"), { status: 400, code: "CHUNKED_NOT_FINAL" }],
  ["identity", te("identity"), { status: 400, code: "CHUNKED_NOT_FINAL" }],
  ["an unknown coding", te("pigeons"), { status: 400, code: "CHUNKED_NOT_FINAL" }],
  ["chunkedchunked", te("chunkedchunked"), { status: 400, code: "CHUNKED_NOT_FINAL" }],
  ["gzip, chunked, gzip", te("gzip, chunked, gzip"), { status: 400, code: "CHUNKED_NOT_FINAL" }],
  ["chunked, chunked, gzip", te("chunked, chunked, gzip"), { status: 400, code: "CHUNKED_NOT_FINAL" }],
  ["gzip followed by an empty Transfer-Encoding line", te("gzip", ""), { status: 400, code: "CHUNKED_NOT_FINAL" }],
  // RFC 9112 §6.1: framed by a final chunked, but with a coding before it we do not decode → 501.
  ["gzip, chunked", te("gzip, chunked"), { status: 501, code: "UNSUPPORTED_TRANSFER_CODING" }],
  ["gzip and chunked on two lines", te("gzip", "chunked"), { status: 501, code: "UNSUPPORTED_TRANSFER_CODING" }],
  ["an unknown coding before chunked", te("pigeons, chunked"), { status: 501, code: "UNSUPPORTED_TRANSFER_CODING" }],
  ["deflate, gzip, chunked", te("deflate, gzip, chunked"), { status: 501, code: "UNSUPPORTED_TRANSFER_CODING" }],
  // chunked applied twice is malformed (RFC 9112 §7.1) whatever else is listed.
  ["gzip, chunked, chunked", te("gzip, chunked, chunked"), { status: 400, code: "INVALID_TRANSFER_ENCODING" }],
  ["chunked, gzip, chunked", te("chunked, gzip, chunked"), { status: 400, code: "INVALID_TRANSFER_ENCODING" }],
  ["\"chunked\"", te("\"chunked\""), { status: 400, code: "INVALID_TRANSFER_ENCODING" }],
  ["chunked with a transfer parameter", te("chunked;q=1"), { status: 400, code: "INVALID_TRANSFER_ENCODING" }],
  ["chunked followed by NBSP", te("chunked\xa0"), { status: 400, code: "INVALID_TRANSFER_ENCODING" }],
  ["a coding with an inner space", te("chun ked"), { status: 400, code: "INVALID_TRANSFER_ENCODING" }],
  ["an empty Transfer-Encoding", te(""), { status: 400, code: "INVALID_TRANSFER_ENCODING" }],
  ["a Transfer-Encoding of only commas", te(" , , "), { status: 400, code: "INVALID_TRANSFER_ENCODING" }],
  ["chunked, chunked", te("chunked, chunked"), { status: 400, code: "INVALID_TRANSFER_ENCODING" }],
  ["chunked on two lines", te("chunked", "chunked"), { status: 400, code: "INVALID_TRANSFER_ENCODING" }],
  ["Transfer-Encoding with Content-Length", { headers: [["transfer-encoding", "chunked"], ["content-length", "5"]] }, { status: 400, code: "CONFLICTING_FRAMING" }],
  ["Content-Length before Transfer-Encoding", { headers: [["content-length", "5"], ["transfer-encoding", "chunked"]] }, { status: 400, code: "CONFLICTING_FRAMING" }],
  ["Transfer-Encoding with Content-Length 0", { headers: [["content-length", "0"], ["transfer-encoding", "chunked"]] }, { status: 400, code: "CONFLICTING_FRAMING" }],
  ["an unknown coding with Content-Length", { headers: [["transfer-encoding", "identity"], ["content-length", "5"]] }, { status: 400, code: "CONFLICTING_FRAMING" }],
  ["an empty Transfer-Encoding with Content-Length", { headers: [["transfer-encoding", ""], ["content-length", "5"]] }, { status: 400, code: "CONFLICTING_FRAMING" }],
  ["Transfer-Encoding on HTTP/1.0", { minor: 0, headers: [["transfer-encoding", "chunked"]] }, { status: 400, code: "TRANSFER_ENCODING_ON_HTTP10" }],
  ["Transfer-Encoding with Content-Length on HTTP/1.0", { minor: 0, headers: [["transfer-encoding", "chunked"], ["content-length", "3"]] }, { status: 400, code: "TRANSFER_ENCODING_ON_HTTP10" }],
  ["ignores a Transfer_Encoding look-alike", { headers: [["transfer_encoding", "chunked"], ["content-length", "2"]] }, { ok: { framing: length(2) } }],
];

// deno-fmt-ignore
const HOST: Case[] = [
  ["reads the host name and port from Host", { headers: [["host", "a.test:8080"]], noHost: true }, { ok: { hostName: "a.test", hostPort: "8080" } }],
  ["reads a Host without a port", { headers: [["host", "a.test"]], noHost: true }, { ok: { hostName: "a.test", hostPort: "" } }],
  ["accepts an empty port after the colon", { headers: [["host", "a.test:"]], noHost: true }, { ok: { hostName: "a.test", hostPort: "" } }],
  ["accepts an empty Host", { headers: [["host", ""]], noHost: true }, { ok: { hostName: "", hostPort: "" } }],
  ["accepts an IPv4 Host", { headers: [["host", "127.0.0.1:80"]], noHost: true }, { ok: { hostName: "127.0.0.1", hostPort: "80" } }],
  ["accepts a bracketed IPv6 Host", { headers: [["host", "[::1]:8080"]], noHost: true }, { ok: { hostName: "[::1]", hostPort: "8080" } }],
  ["accepts an IPv6 Host with an embedded IPv4", { headers: [["host", "[::ffff:10.0.0.1]"]], noHost: true }, { ok: { hostName: "[::ffff:10.0.0.1]", hostPort: "" } }],
  ["accepts port 65535", { headers: [["host", "a.test:65535"]], noHost: true }, { ok: { hostPort: "65535" } }],
  ["accepts percent-encoded and sub-delim bytes in a reg-name", { headers: [["host", "a%41-b_c~d!$&'()*+,;=.test"]], noHost: true }, { ok: { hostName: "a%41-b_c~d!$&'()*+,;=.test" } }],
  ["accepts HTTP/1.0 without Host", { minor: 0 }, { ok: { hostName: "", hostPort: "" } }],
  ["HTTP/1.1 without Host", { noHost: true }, { status: 400, code: "MISSING_HOST" }],
  ["HTTP/1.1 absolute-form without Host", { noHost: true, method: "GET", target: "http://a.test/", targetForm: "absolute" }, { status: 400, code: "MISSING_HOST" }],
  ["two Host lines", { headers: [["host", "b.test"]] }, { status: 400, code: "MULTIPLE_HOST" }],
  ["two identical Host lines", { headers: [["host", "example.com"]] }, { status: 400, code: "MULTIPLE_HOST" }],
  ["two Host lines on HTTP/1.0", { minor: 0, headers: [["host", "a"], ["host", "a"]] }, { status: 400, code: "MULTIPLE_HOST" }],
  ["a Host with userinfo", { headers: [["host", "u@a.test"]], noHost: true }, { status: 400, code: "INVALID_HOST" }],
  ["a Host with a space", { headers: [["host", "a b"]], noHost: true }, { status: 400, code: "INVALID_HOST" }],
  ["a Host with a path", { headers: [["host", "a.test/x"]], noHost: true }, { status: 400, code: "INVALID_HOST" }],
  ["a Host with a query", { headers: [["host", "a.test?x"]], noHost: true }, { status: 400, code: "INVALID_HOST" }],
  ["a Host listing two hosts", { headers: [["host", "a.test, b.test"]], noHost: true }, { status: 400, code: "INVALID_HOST" }],
  ["a Host with a non-ASCII byte", { headers: [["host", "\xe9.test"]], noHost: true }, { status: 400, code: "INVALID_HOST" }],
  ["a Host with port 65536", { headers: [["host", "a.test:65536"]], noHost: true }, { status: 400, code: "INVALID_HOST" }],
  ["a Host with a six-digit port", { headers: [["host", "a.test:000080"]], noHost: true }, { status: 400, code: "INVALID_HOST" }],
  ["a Host with a non-numeric port", { headers: [["host", "a.test:http"]], noHost: true }, { status: 400, code: "INVALID_HOST" }],
  ["a Host with two ports", { headers: [["host", "a.test:80:81"]], noHost: true }, { status: 400, code: "INVALID_HOST" }],
  ["a Host with only a port", { headers: [["host", ":80"]], noHost: true }, { status: 400, code: "INVALID_HOST" }],
  ["an unbracketed IPv6 Host", { headers: [["host", "::1"]], noHost: true }, { status: 400, code: "INVALID_HOST" }],
  ["an unclosed IPv6 bracket", { headers: [["host", "[::1"]], noHost: true }, { status: 400, code: "INVALID_HOST" }],
  ["takes host and port from an absolute-form target over Host", { method: "GET", target: "http://a.test:81/x?y", targetForm: "absolute", headers: [["host", "b.test:82"]], noHost: true }, { ok: { hostName: "a.test", hostPort: "81" } }],
  ["reads an absolute-form target without a path", { method: "GET", target: "http://a.test?q", targetForm: "absolute" }, { ok: { hostName: "a.test", hostPort: "" } }],
  ["an absolute-form target with port 99999", { method: "GET", target: "http://a.test:99999/", targetForm: "absolute" }, { status: 400, code: "INVALID_HOST" }],
  ["takes host and port from a CONNECT target", { method: "CONNECT", target: "a.test:443", targetForm: "authority" }, { ok: { hostName: "a.test", hostPort: "443" } }],
  ["a CONNECT target with port 70000", { method: "CONNECT", target: "a.test:70000", targetForm: "authority" }, { status: 400, code: "INVALID_HOST" }],
];

// deno-fmt-ignore
const PERSISTENCE: Case[] = [
  ["keeps HTTP/1.1 connections alive by default", {}, { ok: { keepAlive: true } }],
  ["closes HTTP/1.1 on Connection: close", { headers: [["connection", "close"]] }, { ok: { keepAlive: false } }],
  ["reads Connection tokens case-insensitively", { headers: [["connection", "CLOSE"]] }, { ok: { keepAlive: false } }],
  ["closes when close is any token of the list", { headers: [["connection", "Keep-Alive, CLOSE"]] }, { ok: { keepAlive: false } }],
  ["closes when close is on a second Connection line", { headers: [["connection", "upgrade"], ["connection", "close"]] }, { ok: { keepAlive: false } }],
  ["keeps alive for Connection: keep-alive on HTTP/1.1", { headers: [["connection", "keep-alive"]] }, { ok: { keepAlive: true } }],
  ["does not treat closed as close", { headers: [["connection", "closed"]] }, { ok: { keepAlive: true } }],
  ["closes HTTP/1.0 connections by default", { minor: 0 }, { ok: { keepAlive: false } }],
  ["keeps HTTP/1.0 alive on Connection: keep-alive", { minor: 0, headers: [["connection", "keep-alive"]] }, { ok: { keepAlive: true } }],
  ["keeps HTTP/1.0 alive on a mixed-case Keep-Alive token", { minor: 0, headers: [["connection", "foo, Keep-Alive"]] }, { ok: { keepAlive: true } }],
  ["closes HTTP/1.0 on keep-alive, close", { minor: 0, headers: [["connection", "keep-alive, close"]] }, { ok: { keepAlive: false } }],
  ["closes HTTP/1.0 on close, keep-alive", { minor: 0, headers: [["connection", "close, keep-alive"]] }, { ok: { keepAlive: false } }],
];

// deno-fmt-ignore
const EXPECT: Case[] = [
  ["waits for 100-continue on HTTP/1.1", { headers: [["expect", "100-continue"], ["content-length", "3"]] }, { ok: { expectContinue: true } }],
  ["reads 100-continue case-insensitively", { headers: [["expect", "100-Continue"]] }, { ok: { expectContinue: true } }],
  ["ignores 100-continue on HTTP/1.0", { minor: 0, headers: [["expect", "100-continue"]] }, { ok: { expectContinue: false } }],
  ["ignores an empty Expect", { headers: [["expect", ""]] }, { ok: { expectContinue: false } }],
  ["does not expect continue without Expect", {}, { ok: { expectContinue: false } }],
  ["an unknown expectation", { headers: [["expect", "something"]] }, { status: 417, code: "EXPECTATION_FAILED" }],
  ["an unknown expectation on HTTP/1.0", { minor: 0, headers: [["expect", "something"]] }, { status: 417, code: "EXPECTATION_FAILED" }],
  ["100-continue listed with an unknown expectation", { headers: [["expect", "100-continue, x"]] }, { status: 417, code: "EXPECTATION_FAILED" }],
  ["100-continue with a parameter", { headers: [["expect", "100-continue;a=b"]] }, { status: 417, code: "EXPECTATION_FAILED" }],
];

// deno-fmt-ignore
const OTHER: Case[] = [
  ["lowercases the Upgrade value", { headers: [["upgrade", "WebSocket"]] }, { ok: { upgrade: "websocket" } }],
  ["returns the raw Content-Type", { headers: [["content-type", "Text/HTML; Charset=UTF-8"]] }, { ok: { contentType: "Text/HTML; Charset=UTF-8" } }],
  ["returns empty strings for absent Upgrade and Content-Type", {}, { ok: { upgrade: "", contentType: "" } }],
];

runTable(CONTENT_LENGTH);
runTable(TRANSFER_ENCODING);
runTable(HOST);
runTable(PERSISTENCE);
runTable(EXPECT);
runTable(OTHER);

Deno.test("checks Transfer-Encoding on HTTP/1.0 before the CL+TE conflict and Host", () => {
  const h = head({ minor: 0, headers: [["host", "a"], ["host", "a"], ["transfer-encoding", "x"]] });
  assert.throws(
    () => analyzeHead(h, DEFAULT_LIMITS),
    (e: unknown) => e instanceof ProtocolError && e.code === "TRANSFER_ENCODING_ON_HTTP10",
  );
});

Deno.test("returns framing objects that callers cannot confuse", () => {
  const a = analyzeHead(head({}), DEFAULT_LIMITS);
  const b = analyzeHead(head(te("chunked")), DEFAULT_LIMITS);
  assert.equal(a.framing.kind, "none");
  assert.equal(b.framing.kind, "chunked");
  assert.ok(Object.isFrozen(a.framing));
});

Deno.test("analyzes heads exactly as parsed from the wire", () => {
  const wire = "POST /u HTTP/1.1\r\nHost: h.test:81\r\nContent-Length:\t4 \r\n" +
    "Connection: close\r\nExpect: 100-continue\r\n\r\n";
  const r = parseRequestHead(latin1(wire), DEFAULT_LIMITS);
  assert.equal(r.kind, "complete");
  if (r.kind !== "complete") return;
  assert.deepStrictEqual(analyzeHead(r.head, DEFAULT_LIMITS), {
    framing: { kind: "length", length: 4 },
    keepAlive: false,
    expectContinue: true,
    hostName: "h.test",
    hostPort: "81",
    upgrade: "",
    contentType: "",
  });
});

// deno-fmt-ignore
const CONTENT_LENGTH_VALUES: Array<[string, number | null]> = [
  ["0", 0], ["1", 1], ["00", 0], ["0123", 123], ["4294967296", 4294967296],
  ["9007199254740991", Number.MAX_SAFE_INTEGER], ["0000000000000001", 1],
  ["9007199254740992", null], ["99999999999999999999", null], ["", null], [" 1", null],
  ["1 ", null], ["+1", null], ["-1", null], ["1.", null], ["0x10", null], ["1\x00", null],
  ["\uff11", null],
];

Deno.test("parses Content-Length as 1*DIGIT without sign, space or overflow", () => {
  for (const [value, want] of CONTENT_LENGTH_VALUES) {
    if (want === null) {
      assert.throws(
        () => parseContentLength(value),
        (e: unknown) => e instanceof ProtocolError && e.code === "INVALID_CONTENT_LENGTH",
        JSON.stringify(value),
      );
    } else assert.equal(parseContentLength(value), want, JSON.stringify(value));
  }
});

Deno.test("applies HTTP/1.1 rules to an HTTP/1.2 head parsed from the wire (RFC 9110 §2.5)", () => {
  const parse = (wire: string) => {
    const r = parseRequestHead(latin1(wire), DEFAULT_LIMITS);
    assert.equal(r.kind, "complete");
    if (r.kind !== "complete") throw new Error("unreachable");
    return r.head;
  };
  // Persistent by default, chunked allowed, 100-continue honoured (none of which 1.0 gets).
  const info = analyzeHead(
    parse(
      "POST / HTTP/1.2\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
    ),
    DEFAULT_LIMITS,
  );
  assert.equal(info.keepAlive, true);
  assert.equal(info.expectContinue, true);
  assert.equal(info.framing.kind, "chunked");
  // Host is required as on HTTP/1.1.
  assert.throws(
    () => analyzeHead(parse("GET / HTTP/1.2\r\n\r\n"), DEFAULT_LIMITS),
    (e) => e instanceof ProtocolError && e.code === "MISSING_HOST",
  );
});

Deno.test("a remembered Host is reused only for the same value; a bad one after a good one is refused", () => {
  const hostOf = (value: string) =>
    analyzeHead(head({ headers: [["host", value]], noHost: true }), DEFAULT_LIMITS);
  const a = hostOf("a.test:8080");
  assert.deepStrictEqual([a.hostName, a.hostPort], ["a.test", "8080"]);
  const again = hostOf("a.test:8080");
  assert.deepStrictEqual([again.hostName, again.hostPort], ["a.test", "8080"]);
  const b = hostOf("b.test");
  assert.deepStrictEqual([b.hostName, b.hostPort], ["b.test", ""]);
  for (const bad of ["a.test:80808", "a b", "a.test:8080 "]) {
    assert.throws(
      () => hostOf(bad),
      (e: unknown) => e instanceof ProtocolError && e.code === "INVALID_HOST",
    );
  }
  const c = hostOf("a.test:8080"); // after refusals: still split correctly
  assert.deepStrictEqual([c.hostName, c.hostPort], ["a.test", "8080"]);
});
