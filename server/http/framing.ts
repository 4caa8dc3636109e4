/**
 * The meaning of a parsed request head: body framing, Host, persistence and expectations.
 *
 * Contract (sans-IO, synchronous): `analyzeHead(head, limits)` walks the header list once and
 * returns `HeadInfo`, or throws `ProtocolError`. Rules, RFC 9112 unless noted:
 * - §6.1/§6.3: Transfer-Encoding and Content-Length together → 400 (CONFLICTING_FRAMING);
 *   Transfer-Encoding on HTTP/1.0 → 400; codings are a case-insensitive token list across all
 *   TE lines, empty elements skipped; a non-token element → 400; a final coding other than
 *   `chunked` (`gzip`, `chunked, gzip`) → 400 (CHUNKED_NOT_FINAL); `chunked` more than once →
 *   400; a coding before a final `chunked` (`gzip, chunked`) → 501.
 * - RFC 9110 §8.6: Content-Length is 1*DIGIT; a second Content-Length line, a list, a sign or any
 *   other byte → 400; values past 2^53 → 400; a value above `maxBodyBytes` → 413 before any body
 *   byte is read.
 * - No framing header → no body (a request is never read to EOF).
 * - §3.2: HTTP/1.1 needs exactly one Host; a repeated Host is refused on any version; the value
 *   must be `uri-host [":" port]`. Absolute-form authority wins over Host.
 * - §9.3: HTTP/1.1 persists unless `Connection: close`; HTTP/1.0 only with `keep-alive`.
 * - RFC 9110 §10.1.1: `Expect: 100-continue` (HTTP/1.1 only, ignored on 1.0); any other
 *   expectation → 417.
 */
import * as bytesModule from "./bytes.ts";
import { ProtocolError } from "./errors.ts";
import type { RequestHead } from "./request_head.ts";
import type { Limits } from "../config.ts";

// Module-private copies of imported constants (see `server/http/bytes.ts`).
const { HOST_CHAR, TCHAR } = bytesModule;

/** How the request body is delimited. */
export type BodyFraming =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" };

/** What a request head means for the connection. */
export interface HeadInfo {
  /** Request body framing. */
  readonly framing: BodyFraming;
  /** Whether the connection may be reused after this exchange. */
  readonly keepAlive: boolean;
  /** Whether the client waits for `100 Continue` before sending the body. */
  readonly expectContinue: boolean;
  /** Host name the request addressed (without port), `""` when absent. */
  readonly hostName: string;
  /** Port from Host or the absolute-form authority, `""` when absent. */
  readonly hostPort: string;
  /** Lowercased `Upgrade` header value, `""` when absent. */
  readonly upgrade: string;
  /** Raw `Content-Type` value, `""` when absent. */
  readonly contentType: string;
}

const NO_BODY: BodyFraming = Object.freeze({ kind: "none" });
const CHUNKED: BodyFraming = Object.freeze({ kind: "chunked" });
const HOST_RE = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]]*))(?::([0-9]*))?$/;

/** Interprets `head`; see the module comment for every rule. */
export function analyzeHead(head: RequestHead, limits: Pick<Limits, "maxBodyBytes">): HeadInfo {
  let contentLength = -1;
  let te: string[] | null = null;
  let host: string | null = null;
  let hostCount = 0;
  let connection = "";
  let expect: string | null = null;
  let upgrade = "";
  let contentType = "";
  const headers = head.headers;
  for (let i = 0; i < headers.length; i++) {
    const name = headers[i][0];
    const value = headers[i][1];
    switch (name) {
      case "content-length":
        if (contentLength !== -1) throw new ProtocolError("INVALID_CONTENT_LENGTH", "repeated");
        contentLength = parseContentLength(value);
        break;
      case "transfer-encoding":
        (te ??= []).push(value);
        break;
      case "host":
        hostCount++;
        host = value;
        break;
      case "connection":
        connection = connection ? `${connection},${value}` : value;
        break;
      case "expect":
        expect = expect === null ? value : `${expect},${value}`;
        break;
      case "upgrade":
        upgrade = value.toLowerCase();
        break;
      case "content-type":
        contentType = value;
        break;
    }
  }
  // Framing (RFC 9112 §6.1, §6.3).
  let framing = NO_BODY;
  if (te !== null) {
    if (head.minor === 0) throw new ProtocolError("TRANSFER_ENCODING_ON_HTTP10");
    if (contentLength !== -1) throw new ProtocolError("CONFLICTING_FRAMING");
    framing = parseTransferEncoding(te);
  } else if (contentLength > 0) {
    if (contentLength > limits.maxBodyBytes) throw new ProtocolError("BODY_TOO_LARGE");
    framing = { kind: "length", length: contentLength };
  }
  // Host (RFC 9112 §3.2).
  if (hostCount > 1) throw new ProtocolError("MULTIPLE_HOST");
  if (hostCount === 0 && head.minor === 1) throw new ProtocolError("MISSING_HOST");
  let hostName = "";
  let hostPort = "";
  if (host !== null) [hostName, hostPort] = splitHost(host);
  if (head.targetForm === "absolute" || head.targetForm === "authority") {
    const auth = head.targetForm === "absolute"
      ? head.target.slice(head.target.indexOf("://") + 3).split(/[/?]/, 1)[0]
      : head.target;
    const at = auth.lastIndexOf("@");
    [hostName, hostPort] = splitHost(at >= 0 ? auth.slice(at + 1) : auth);
  }
  // Persistence (RFC 9112 §9.3).
  let keepAlive = head.minor === 1;
  if (connection !== "") {
    for (const token of connection.split(",")) {
      const t = token.trim().toLowerCase();
      if (t === "close") {
        keepAlive = false;
        break;
      }
      if (t === "keep-alive" && head.minor === 0) keepAlive = true;
    }
  }
  // Expectations (RFC 9110 §10.1.1).
  let expectContinue = false;
  if (expect !== null) {
    for (const token of expect.split(",")) {
      const t = token.trim().toLowerCase();
      if (t === "") continue;
      if (t !== "100-continue") throw new ProtocolError("EXPECTATION_FAILED");
      expectContinue = head.minor === 1;
    }
  }
  return { framing, keepAlive, expectContinue, hostName, hostPort, upgrade, contentType };
}

/** RFC 9110 §8.6: Content-Length = 1*DIGIT, no sign, list, whitespace or overflow. */
export function parseContentLength(value: string): number {
  const n = value.length;
  if (n === 0) throw new ProtocolError("INVALID_CONTENT_LENGTH");
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) throw new ProtocolError("INVALID_CONTENT_LENGTH");
    v = v * 10 + d;
    if (v > Number.MAX_SAFE_INTEGER) {
      throw new ProtocolError("INVALID_CONTENT_LENGTH", "overflow");
    }
  }
  return v;
}

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f || TCHAR[c] !== 1) return false;
  }
  return true;
}

/**
 * RFC 9112 §6.1/§6.3: only a lone `chunked` is supported for requests. The checks run in order:
 * 1. The final coding is not `chunked` (`gzip`, `identity`, `chunked, gzip`): the body length
 *    cannot be determined, and §6.3 says the server MUST answer 400 and close. This comes before
 *    any 501, because an unknown final coding leaves nothing to frame the body by.
 * 2. `chunked` more than once (`chunked, chunked`, `gzip, chunked, chunked`): §7.1 forbids
 *    applying it twice, so the message is malformed → 400.
 * 3. Another coding before the final `chunked` (`gzip, chunked`, `x-foo, chunked`): the message
 *    is correctly framed, but the body is encoded with a coding we do not decode. §6.1: a server
 *    that receives a transfer coding it does not understand SHOULD answer 501 (Not Implemented);
 *    a known coding we choose not to implement is no different for us. The connection still
 *    closes (every protocol error does), so the unread body is never parsed.
 */
function parseTransferEncoding(lines: string[]): BodyFraming {
  const codings: string[] = [];
  for (const line of lines) {
    for (const raw of line.split(",")) {
      const t = raw.replace(/^[ \t]+|[ \t]+$/g, "");
      if (t === "") continue;
      // Transfer parameters (`gzip;q=1`) are not supported; the name must be a bare token.
      if (!isToken(t)) throw new ProtocolError("INVALID_TRANSFER_ENCODING", "not a token");
      codings.push(t.toLowerCase());
    }
  }
  const n = codings.length;
  if (n === 0) throw new ProtocolError("INVALID_TRANSFER_ENCODING", "empty");
  if (codings[n - 1] !== "chunked") throw new ProtocolError("CHUNKED_NOT_FINAL");
  for (let i = 0; i < n - 1; i++) {
    if (codings[i] === "chunked") {
      throw new ProtocolError("INVALID_TRANSFER_ENCODING", "chunked twice");
    }
  }
  if (n > 1) throw new ProtocolError("UNSUPPORTED_TRANSFER_CODING");
  return CHUNKED;
}

let lastHost = "";
let lastSplit: readonly [string, string] = ["", ""];

/**
 * Splits and validates `uri-host [":" port]` (RFC 9110 §7.2). The last valid value is remembered:
 * clients send the same Host on every request (and the parser hands out the same string for the
 * same bytes), so a repeat costs one comparison.
 */
function splitHost(value: string): readonly [string, string] {
  if (value === lastHost) return lastSplit;
  const split = splitHostUncached(value);
  lastHost = value;
  lastSplit = split;
  return split;
}

function splitHostUncached(value: string): readonly [string, string] {
  // Fast path: a reg-name or IPv4 address with an optional port, no brackets.
  if (value.charCodeAt(0) !== 0x5b) {
    const colon = value.indexOf(":");
    const nameEnd = colon < 0 ? value.length : colon;
    for (let i = 0; i < nameEnd; i++) {
      const c = value.charCodeAt(i);
      if (c > 0x7f || HOST_CHAR[c] !== 1) throw new ProtocolError("INVALID_HOST");
    }
    if (colon < 0) return [value, ""];
    if (colon === 0) throw new ProtocolError("INVALID_HOST");
    const n = value.length - colon - 1;
    if (n > 5) throw new ProtocolError("INVALID_HOST", "port");
    let port = 0;
    for (let i = colon + 1; i < value.length; i++) {
      const d = value.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) throw new ProtocolError("INVALID_HOST");
      port = port * 10 + d;
    }
    if (port > 65535) throw new ProtocolError("INVALID_HOST", "port");
    return [value.slice(0, colon), value.slice(colon + 1)];
  }
  const m = HOST_RE.exec(value);
  if (!m) throw new ProtocolError("INVALID_HOST");
  const name = m[1] !== undefined ? `[${m[1]}]` : m[2];
  if (m[2] !== undefined) {
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (c > 0x7f || HOST_CHAR[c] !== 1) throw new ProtocolError("INVALID_HOST");
    }
  }
  const port = m[3] ?? "";
  if (port.length > 5 || (port !== "" && Number(port) > 65535)) {
    throw new ProtocolError("INVALID_HOST", "port");
  }
  if (name === "" && port !== "") throw new ProtocolError("INVALID_HOST");
  return [name, port];
}
