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

  // Phase 2: the whole head is present. Validate every byte and note where each piece lies,
  // then decode the head to a string once and slice the pieces out of it.
  const lineEnd = buf.indexOf(LF, start) - 1;
  const line = parseRequestLine(buf, start, lineEnd);
  let offs = fieldOffsets;
  let count = 0;
  let ascii = true;
  let pos = lineEnd + 2;
  while (pos < end - 2) {
    const eol = buf.indexOf(LF, pos) - 1;
    if (count >= limits.maxHeaderCount) throw new ProtocolError("TOO_MANY_HEADERS");
    if (count * 5 + 5 > offs.length) offs = fieldOffsets = growOffsets(offs);
    ascii = scanFieldLine(buf, pos, eol, offs, count * 5) && ascii;
    count++;
    pos = eol + 2;
  }
  // ASCII is the same in UTF-8 and latin-1, and the runtime's UTF-8 decoder is far faster than
  // building the string in JS; obs-text (bytes ≥ 0x80) takes the lossless latin-1 path.
  const text = ascii
    ? ASCII_DECODER.decode(buf.subarray(start, end))
    : decodeLatin1(buf, start, end);
  const headers: Array<[string, string]> = new Array(count);
  for (let k = 0, o = 0; k < count; k++, o += 5) {
    let name = text.slice(offs[o] - start, offs[o + 1] - start);
    if (offs[o + 4] === 1) name = name.toLowerCase();
    headers[k] = [name, text.slice(offs[o + 2] - start, offs[o + 3] - start)];
  }
  const method = text.slice(0, line.methodEnd - start);
  const target = text.slice(line.targetStart - start, line.targetEnd - start);
  const head: RequestHead = {
    method,
    target,
    targetForm: classifyTarget(method, target),
    version: line.minor === 1 ? "HTTP/1.1" : "HTTP/1.0",
    minor: line.minor,
    headers,
  };
  return { kind: "complete", head, consumed: end };
}

const ASCII_DECODER = new TextDecoder();
/** Scratch space for field offsets: five numbers per field (see `scanFieldLine`). */
let fieldOffsets: Int32Array = new Int32Array(5 * 32);

function growOffsets(offs: Int32Array): Int32Array {
  const next = new Int32Array(offs.length * 2);
  next.set(offs);
  return next;
}

/**
 * Validates `name: value` between `start` and `end` (CRLF excluded) and stores, at `o` in `offs`:
 * name start, name end, value start, value end (OWS trimmed), and 1 if the name has uppercase
 * letters. Returns whether the value is ASCII. Same rules as `parseFieldLine`.
 */
function scanFieldLine(
  buf: Uint8Array,
  start: number,
  end: number,
  offs: Int32Array,
  o: number,
): boolean {
  const first = buf[start];
  if (first === SP || first === HTAB) {
    throw new ProtocolError("OBSOLETE_LINE_FOLDING", "line starts with whitespace");
  }
  let i = start;
  let upper = 0;
  for (; i < end; i++) {
    const b = buf[i];
    if (TCHAR[b] !== 1) break;
    if (b >= 0x41 && b <= 0x5a) upper = 1;
  }
  if (i === end || buf[i] !== COLON) fieldNameError(buf, i, end);
  if (i === start) throw new ProtocolError("INVALID_HEADER_NAME", "empty name");
  let vs = i + 1;
  let ve = end;
  while (vs < ve && (buf[vs] === SP || buf[vs] === HTAB)) vs++;
  while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
  let high = 0;
  for (let k = vs; k < ve; k++) {
    const b = buf[k];
    if (FIELD_VALUE_CHAR[b] !== 1) throw new ProtocolError("INVALID_HEADER_VALUE");
    high |= b;
  }
  offs[o] = start;
  offs[o + 1] = i;
  offs[o + 2] = vs;
  offs[o + 3] = ve;
  offs[o + 4] = upper;
  return high < 0x80;
}

/** Throws the error for a field name that is not followed by a colon. */
function fieldNameError(buf: Uint8Array, i: number, end: number): never {
  if (i < end && (buf[i] === SP || buf[i] === HTAB)) {
    let j = i;
    while (j < end && (buf[j] === SP || buf[j] === HTAB)) j++;
    if (j < end && buf[j] === COLON) throw new ProtocolError("WHITESPACE_BEFORE_COLON");
  }
  throw new ProtocolError("INVALID_HEADER_NAME");
}

/** Parses `name: value` between `start` and `end` (CRLF excluded). Used for trailers. */
export function parseFieldLine(buf: Uint8Array, start: number, end: number): [string, string] {
  const first = buf[start];
  if (first === SP || first === HTAB) {
    throw new ProtocolError("OBSOLETE_LINE_FOLDING", "line starts with whitespace");
  }
  let i = start;
  while (i < end && TCHAR[buf[i]] === 1) i++;
  if (i === end || buf[i] !== COLON) fieldNameError(buf, i, end);
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

/** Positions of the request line's pieces in the buffer. */
interface LineOffsets {
  readonly methodEnd: number;
  readonly targetStart: number;
  readonly targetEnd: number;
  readonly minor: 0 | 1;
}

function parseRequestLine(buf: Uint8Array, start: number, end: number): LineOffsets {
  let i = start;
  while (i < end && TCHAR[buf[i]] === 1) i++;
  if (i === start) throw new ProtocolError("INVALID_METHOD");
  if (i === end || buf[i] !== SP) {
    throw new ProtocolError(i === end ? "INVALID_REQUEST_LINE" : "INVALID_METHOD");
  }
  const ts = i + 1;
  let j = ts;
  while (j < end && TARGET_CHAR[buf[j]] === 1) j++;
  if (j === ts) throw new ProtocolError("INVALID_REQUEST_LINE", "empty target or double space");
  if (j === end) throw new ProtocolError("INVALID_REQUEST_LINE", "missing version");
  if (buf[j] !== SP) throw new ProtocolError("INVALID_TARGET");
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
  return { methodEnd: i, targetStart: ts, targetEnd: j, minor: minor as 0 | 1 };
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
