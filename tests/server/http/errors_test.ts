/**
 * errors.ts: every ProtocolError carries its code and the status from the one table; canned
 * error responses are well-formed, close the connection and echo nothing.
 */
import assert from "node:assert/strict";
import {
  encodeErrorResponse,
  PROTOCOL_ERROR_STATUS,
  ProtocolError,
  type ProtocolErrorCode,
} from "../../../server/http/errors.ts";
import { STATUS_TEXT } from "../../../server/http/status.ts";
import { parseRequestHead } from "../../../server/http/request_head.ts";
import { DEFAULT_LIMITS, latin1 } from "./_helpers.ts";

const DATE = "Sun, 06 Nov 1994 08:49:37 GMT";

Deno.test("ProtocolError takes its status from PROTOCOL_ERROR_STATUS", () => {
  for (const [code, status] of Object.entries(PROTOCOL_ERROR_STATUS)) {
    const e = new ProtocolError(code as ProtocolErrorCode, "detail");
    assert.equal(e.code, code);
    assert.equal(e.status, status);
    assert.equal(e.name, "ProtocolError");
    assert.ok(e instanceof Error);
    assert.ok(STATUS_TEXT[status], `${status} has a reason phrase`);
  }
});

Deno.test("PROTOCOL_ERROR_STATUS maps codes to the statuses the design names", () => {
  // deno-fmt-ignore
  const want: Array<[ProtocolErrorCode, number]> = [
    ["INVALID_REQUEST_LINE", 400], ["MISSING_HOST", 400], ["MULTIPLE_HOST", 400],
    ["INVALID_CONTENT_LENGTH", 400], ["CONFLICTING_FRAMING", 400], ["BODY_TOO_LARGE", 413],
    ["REQUEST_LINE_TOO_LONG", 414], ["HEADERS_TOO_LARGE", 431], ["TOO_MANY_HEADERS", 431],
    ["UNSUPPORTED_TRANSFER_CODING", 501], ["UNSUPPORTED_VERSION", 505],
    ["EXPECTATION_FAILED", 417], ["CHUNKED_NOT_FINAL", 400],
    ["INVALID_PROXY_HEADER", 400], ["MISSING_PROXY_HEADER", 400], ["PROXY_HEADER_FORBIDDEN", 403],
  ];
  for (const [code, status] of want) assert.equal(PROTOCOL_ERROR_STATUS[code], status, code);
  assert.ok(Object.isFrozen(PROTOCOL_ERROR_STATUS));
});

function parseResponse(bytes: Uint8Array) {
  const s = String.fromCharCode(...bytes);
  const end = s.indexOf("\r\n\r\n");
  assert.ok(end > 0, "has a head");
  const [statusLine, ...lines] = s.slice(0, end).split("\r\n");
  const headers = new Map(lines.map((l) => {
    const i = l.indexOf(": ");
    return [l.slice(0, i).toLowerCase(), l.slice(i + 2)] as const;
  }));
  return { statusLine, headers, body: s.slice(end + 4) };
}

Deno.test("encodeErrorResponse writes a complete response with Connection: close", () => {
  for (const status of new Set(Object.values(PROTOCOL_ERROR_STATUS))) {
    const r = parseResponse(encodeErrorResponse(status, DATE, "lsbaws"));
    assert.equal(r.statusLine, `HTTP/1.1 ${status} ${STATUS_TEXT[status]}`);
    assert.equal(r.headers.get("connection"), "close");
    assert.equal(r.headers.get("date"), DATE);
    assert.equal(r.headers.get("server"), "lsbaws");
    assert.equal(Number(r.headers.get("content-length")), r.body.length);
    assert.ok(r.body.startsWith(String(status)));
  }
});

Deno.test("encodeErrorResponse omits Server when it is empty and uses the given date", () => {
  const a = parseResponse(encodeErrorResponse(400, DATE));
  assert.equal(a.headers.has("server"), false);
  const b = parseResponse(encodeErrorResponse(400, "Mon, 07 Nov 1994 00:00:00 GMT"));
  assert.equal(b.headers.get("date"), "Mon, 07 Nov 1994 00:00:00 GMT");
});

Deno.test("error responses never echo request bytes", () => {
  const evil = "GET /<script>alert(1)</script> HTTP/1.1\r\nX: \x07\r\n\r\n";
  try {
    parseRequestHead(latin1(evil), DEFAULT_LIMITS);
    assert.fail("should throw");
  } catch (e) {
    assert.ok(e instanceof ProtocolError);
    const s = String.fromCharCode(...encodeErrorResponse(e.status, DATE));
    assert.ok(!s.includes("script"));
  }
});
