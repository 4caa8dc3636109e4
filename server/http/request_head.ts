/**
 * Request-line and header-field syntax (RFC 9112 §2-§5): bytes in, `RequestHead` out.
 *
 * Contract (sans-IO, synchronous, no `Deno.*`):
 * - `parseRequestHead(buf, limits, scanFrom)` looks at `buf` (which starts at the first unparsed
 *   byte) and returns `{kind: "complete", head, consumed}` when a whole head is present,
 *   `{kind: "partial", scanned}` when more bytes are needed, or throws `ProtocolError`.
 * - Partial input never produces an error unless the bytes seen so far are already invalid
 *   (a bare CR or LF, an exceeded limit). Callers pass the previous `scanned` back as `scanFrom`
 *   so a head fed one byte at a time is scanned in linear time.
 * - Only syntax is checked here; the meaning of fields (framing, Host, Connection) is
 *   `framing.ts`'s job. Header names are lowercased; values are latin-1 strings with OWS trimmed.
 * - Absolute-form targets must be `http://` or `https://` URIs without userinfo (RFC 9110
 *   §4.2.4: a recipient SHOULD treat userinfo as an error).
 * - Strict profile: CRLF only (bare CR or LF → 400), single SP separators, no whitespace before a
 *   colon, no obs-fold, token names, values free of CTLs, `HTTP/1.0` or `HTTP/1.1` only (505 for
 *   other well-formed versions). One or more empty lines before the request line are skipped
 *   (RFC 9112 §2.2).
 */
import {
  COLON,
  CR,
  decodeLatin1,
  decodeLowerAscii,
  FIELD_VALUE_CHAR,
  HTAB,
  LF,
  SP,
  TARGET_CHAR,
  TCHAR,
} from "./bytes.ts";
import { ProtocolError } from "./errors.ts";
import type { Limits } from "../config.ts";

/** The four request-target forms of RFC 9112 §3.2. */
export type TargetForm = "origin" | "absolute" | "authority" | "asterisk";

/** A syntactically valid request head. */
export interface RequestHead {
  /** Method token, case preserved (methods are case-sensitive). */
  readonly method: string;
  /** Raw request-target as sent (latin-1). */
  readonly target: string;
  /** Which request-target form `target` has. */
  readonly targetForm: TargetForm;
  /** "HTTP/1.0" or "HTTP/1.1". */
  readonly version: "HTTP/1.0" | "HTTP/1.1";
  /** 0 or 1. */
  readonly minor: 0 | 1;
  /** Header fields in order: lowercase name, value with OWS trimmed. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

/** Result of `parseRequestHead`. */
export type HeadResult =
  | { readonly kind: "complete"; readonly head: RequestHead; readonly consumed: number }
  | { readonly kind: "partial"; readonly scanned: number };

type HeadLimits = Pick<Limits, "maxRequestLineBytes" | "maxHeadBytes" | "maxHeaderCount">;

/**
 * Parses one request head from the start of `buf`. See the module comment for the contract.
 * `scanFrom` is the `scanned` value of a previous partial result for the same bytes (default 0).
 */
export function parseRequestHead(buf: Uint8Array, limits: HeadLimits, scanFrom = 0): HeadResult {
  const len = buf.length;
  // RFC 9112 §2.2: ignore at least one empty line (CRLF) received before the request line.
  let start = 0;
  while (start + 1 < len && buf[start] === CR && buf[start + 1] === LF) start += 2;
  if (start < len && buf[start] === LF) throw new ProtocolError("INVALID_LINE_ENDING", "bare LF");
  if (start < len && buf[start] === CR && start + 1 >= len) return { kind: "partial", scanned: 0 };
  if (start < len && buf[start] === CR) throw new ProtocolError("INVALID_LINE_ENDING", "bare CR");

  // Phase 1: find the end of the head, checking line endings. Resume at the last line start.
  let lineStart = scanFrom > start ? scanFrom : start;
  let end = -1;
  while (true) {
    const lf = buf.indexOf(LF, lineStart);
    const stop = lf < 0 ? len : lf;
    const cr = buf.indexOf(CR, lineStart);
    if (cr >= 0 && cr < stop - 1) throw new ProtocolError("INVALID_LINE_ENDING", "bare CR");
    if (lf < 0) break;
    if (lf === lineStart || buf[lf - 1] !== CR) {
      throw new ProtocolError("INVALID_LINE_ENDING", "bare LF");
    }
    if (lineStart === start && lf - 1 - start > limits.maxRequestLineBytes) {
      throw new ProtocolError("REQUEST_LINE_TOO_LONG");
    }
    if (lf - 1 === lineStart && lineStart !== start) {
      end = lf + 1;
      break;
    }
    lineStart = lf + 1;
  }
  if (end < 0) {
    if (lineStart === start && len - start > limits.maxRequestLineBytes + 1) {
      throw new ProtocolError("REQUEST_LINE_TOO_LONG");
    }
    // A complete head may take maxHeadBytes + 4 bytes (its final CRLF CRLF, checked below) and
    // needs at least one more byte than we have, so refuse only what can no longer fit.
    if (len - start > limits.maxHeadBytes + 3) throw new ProtocolError("HEADERS_TOO_LARGE");
    return { kind: "partial", scanned: lineStart };
  }
  if (end - start > limits.maxHeadBytes + 4) throw new ProtocolError("HEADERS_TOO_LARGE");

  // Phase 2: the whole head is present; parse it.
  const lineEnd = buf.indexOf(LF, start) - 1;
  const line = parseRequestLine(buf, start, lineEnd);
  const headers: Array<[string, string]> = [];
  let pos = lineEnd + 2;
  while (pos < end - 2) {
    const eol = buf.indexOf(LF, pos) - 1;
    if (headers.length >= limits.maxHeaderCount) throw new ProtocolError("TOO_MANY_HEADERS");
    headers.push(parseFieldLine(buf, pos, eol));
    pos = eol + 2;
  }
  const head: RequestHead = {
    method: line.method,
    target: line.target,
    targetForm: line.targetForm,
    version: line.version,
    minor: line.minor,
    headers,
  };
  return { kind: "complete", head, consumed: end };
}

/** Parses `name: value` between `start` and `end` (CRLF excluded). Exported for trailers. */
export function parseFieldLine(buf: Uint8Array, start: number, end: number): [string, string] {
  const first = buf[start];
  if (first === SP || first === HTAB) {
    throw new ProtocolError("OBSOLETE_LINE_FOLDING", "line starts with whitespace");
  }
  let i = start;
  while (i < end && TCHAR[buf[i]] === 1) i++;
  if (i === end || buf[i] !== COLON) {
    if (i < end && (buf[i] === SP || buf[i] === HTAB)) {
      let j = i;
      while (j < end && (buf[j] === SP || buf[j] === HTAB)) j++;
      if (j < end && buf[j] === COLON) throw new ProtocolError("WHITESPACE_BEFORE_COLON");
    }
    throw new ProtocolError("INVALID_HEADER_NAME");
  }
  if (i === start) throw new ProtocolError("INVALID_HEADER_NAME", "empty name");
  const name = decodeLowerAscii(buf, start, i);
  let vs = i + 1;
  let ve = end;
  while (vs < ve && (buf[vs] === SP || buf[vs] === HTAB)) vs++;
  while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
  for (let k = vs; k < ve; k++) {
    if (FIELD_VALUE_CHAR[buf[k]] !== 1) throw new ProtocolError("INVALID_HEADER_VALUE");
  }
  return [name, decodeLatin1(buf, vs, ve)];
}

const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

function parseRequestLine(
  buf: Uint8Array,
  start: number,
  end: number,
): Omit<RequestHead, "headers"> {
  let i = start;
  while (i < end && TCHAR[buf[i]] === 1) i++;
  if (i === start) throw new ProtocolError("INVALID_METHOD");
  if (i === end || buf[i] !== SP) {
    throw new ProtocolError(i === end ? "INVALID_REQUEST_LINE" : "INVALID_METHOD");
  }
  const method = decodeLatin1(buf, start, i);
  const ts = i + 1;
  let j = ts;
  while (j < end && TARGET_CHAR[buf[j]] === 1) j++;
  if (j === ts) throw new ProtocolError("INVALID_REQUEST_LINE", "empty target or double space");
  if (j === end) throw new ProtocolError("INVALID_REQUEST_LINE", "missing version");
  if (buf[j] !== SP) throw new ProtocolError("INVALID_TARGET");
  const target = decodeLatin1(buf, ts, j);
  const vs = j + 1;
  if (end - vs !== 8) {
    // Well-formed but longer versions (HTTP/10.0) and trailing junk are syntax errors.
    throw new ProtocolError("INVALID_VERSION");
  }
  for (let k = 0; k < 5; k++) {
    if (buf[vs + k] !== HTTP_SLASH[k]) throw new ProtocolError("INVALID_VERSION");
  }
  const major = buf[vs + 5] - 0x30;
  const minor = buf[vs + 7] - 0x30;
  if (major < 0 || major > 9 || minor < 0 || minor > 9 || buf[vs + 6] !== 0x2e) {
    throw new ProtocolError("INVALID_VERSION");
  }
  if (major !== 1 || minor > 1) throw new ProtocolError("UNSUPPORTED_VERSION");
  const targetForm = classifyTarget(method, target);
  return {
    method,
    target,
    targetForm,
    version: minor === 1 ? "HTTP/1.1" : "HTTP/1.0",
    minor: minor as 0 | 1,
  };
}

const ABSOLUTE_RE = /^[Hh][Tt][Tt][Pp][Ss]?:\/\/[^/?@]+(?:[/?]|$)/;
const AUTHORITY_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]+):[0-9]+$/;

/** RFC 9112 §3.2: decides the target form and enforces which methods may use which form. */
function classifyTarget(method: string, target: string): TargetForm {
  if (method === "CONNECT") {
    if (!AUTHORITY_RE.test(target)) throw new ProtocolError("INVALID_TARGET", "CONNECT form");
    return "authority";
  }
  const c = target.charCodeAt(0);
  if (c === 0x2f) return "origin";
  if (target === "*") {
    if (method !== "OPTIONS") throw new ProtocolError("INVALID_TARGET", "* needs OPTIONS");
    return "asterisk";
  }
  if (ABSOLUTE_RE.test(target)) return "absolute";
  throw new ProtocolError("INVALID_TARGET");
}
