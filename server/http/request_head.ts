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
 *   colon, no obs-fold, token names, values free of CTLs. Versions are `HTTP/` DIGIT `.` DIGIT
 *   (anything else → 400); major version 1 is served, any other major → 505. A higher minor
 *   (`HTTP/1.2` … `HTTP/1.9`) is read as `HTTP/1.1` (RFC 9110 §2.5), so `head.version` is always
 *   `HTTP/1.0` or `HTTP/1.1`. One or more empty lines before the request line are skipped
 *   (RFC 9112 §2.2).
 */
import { decodeLatin1, decodeLowerAscii } from "./bytes.ts";
import * as bytesModule from "./bytes.ts";
import { ProtocolError } from "./errors.ts";
import type { Limits } from "../config.ts";

// Module-private copies of imported constants (see `server/http/bytes.ts`).
const { COLON, CR, FIELD_VALUE_CHAR, HTAB, LF, SP, TARGET_CHAR, TCHAR } = bytesModule;

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
  /**
   * "HTTP/1.0" or "HTTP/1.1": the version the request is served as. A request sent as
   * `HTTP/1.x` with x > 1 is "HTTP/1.1" here (RFC 9110 §2.5).
   */
  readonly version: "HTTP/1.0" | "HTTP/1.1";
  /** 0 or 1 (1 also for `HTTP/1.x` with x > 1). */
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
 * `from` and `to` bound the bytes looked at (default: all of `buf`): the result is the one for
 * `buf.subarray(from, to)` (`consumed` and `scanned` count from `from`), without making that view.
 */
export function parseRequestHead(
  buf: Uint8Array,
  limits: HeadLimits,
  scanFrom = 0,
  from = 0,
  to = buf.length,
): HeadResult {
  const len = to;
  // RFC 9112 §2.2: ignore at least one empty line (CRLF) received before the request line.
  let start = from;
  while (start + 1 < len && buf[start] === CR && buf[start + 1] === LF) start += 2;
  if (start < len && buf[start] === LF) throw new ProtocolError("INVALID_LINE_ENDING", "bare LF");
  if (start < len && buf[start] === CR && start + 1 >= len) return { kind: "partial", scanned: 0 };
  if (start < len && buf[start] === CR) throw new ProtocolError("INVALID_LINE_ENDING", "bare CR");

  // Phase 1: find the end of the head, checking line endings. Resume at the last line start.
  // (Byte loops, not indexOf: for header-sized lines a loop is several times cheaper.)
  const resumeAt = from + scanFrom;
  let lineStart = resumeAt > start ? resumeAt : start;
  let end = -1;
  let i = lineStart;
  while (i < len) {
    const b = buf[i];
    if (b === CR) {
      if (i + 1 < len && buf[i + 1] !== LF) {
        throw new ProtocolError("INVALID_LINE_ENDING", "bare CR");
      }
    } else if (b === LF) {
      if (i === lineStart || buf[i - 1] !== CR) {
        throw new ProtocolError("INVALID_LINE_ENDING", "bare LF");
      }
      if (lineStart === start && i - 1 - start > limits.maxRequestLineBytes) {
        throw new ProtocolError("REQUEST_LINE_TOO_LONG");
      }
      if (i - 1 === lineStart && lineStart !== start) {
        end = i + 1;
        break;
      }
      lineStart = i + 1;
    }
    i++;
  }
  if (end < 0) {
    if (lineStart === start && len - start > limits.maxRequestLineBytes + 1) {
      throw new ProtocolError("REQUEST_LINE_TOO_LONG");
    }
    // A complete head may take maxHeadBytes + 4 bytes (its final CRLF CRLF, checked below) and
    // needs at least one more byte than we have, so refuse only what can no longer fit.
    if (len - start > limits.maxHeadBytes + 3) throw new ProtocolError("HEADERS_TOO_LARGE");
    return { kind: "partial", scanned: lineStart - from };
  }
  if (end - start > limits.maxHeadBytes + 4) throw new ProtocolError("HEADERS_TOO_LARGE");

  // Phase 2: the whole head is present and every line ends in CRLF with no other CR. Validate
  // every byte, then turn the pieces into strings through the string cache.
  const line = parseRequestLine(buf, start);
  let offs = fieldOffsets;
  let count = 0;
  let pos = line.end + 2;
  while (pos < end - 2) {
    if (count >= limits.maxHeaderCount) throw new ProtocolError("TOO_MANY_HEADERS");
    if (count * FIELD_SLOTS + FIELD_SLOTS > offs.length) offs = fieldOffsets = growOffsets(offs);
    pos = scanFieldLine(buf, pos, offs, count * FIELD_SLOTS) + 2;
    count++;
  }
  const headers: Array<[string, string]> = new Array(count);
  for (let k = 0, o = 0; k < count; k++, o += FIELD_SLOTS) {
    headers[k] = [
      cachedName(buf, offs[o], offs[o + 1], offs[o + 2]),
      cachedString(buf, offs[o + 3], offs[o + 4], offs[o + 5]),
    ];
  }
  const method = cachedString(buf, start, line.methodEnd, line.methodHash);
  const target = cachedString(buf, line.targetStart, line.targetEnd, line.targetHash);
  const head: RequestHead = {
    method,
    target,
    targetForm: classifyTarget(method, target),
    version: line.minor === 1 ? "HTTP/1.1" : "HTTP/1.0",
    minor: line.minor,
    headers,
  };
  return { kind: "complete", head, consumed: end - from };
}

/**
 * String cache. Request heads repeat the same methods, targets, names and values request after
 * request, and building a JS string from bytes costs far more than comparing bytes with a string
 * we already have. While validating, the scanner hashes each piece; a piece of at most
 * `CACHE_MAX_LEN` bytes is looked up in a direct-mapped table and reused when its bytes match
 * exactly (no allocation), otherwise decoded and stored in the slot. The cache only ever returns
 * a string equal to the bytes, so it cannot change what is parsed.
 */
const CACHE_SLOTS = 2048;
const CACHE_MAX_LEN = 160;
const valueCache: string[] = new Array(CACHE_SLOTS).fill("");
const nameCache: string[] = new Array(CACHE_SLOTS).fill("");
const ASCII_DECODER = new TextDecoder();

/** Mixes a running hash (`h * 31 + byte`) into a slot number. */
function slotOf(hash: number, len: number): number {
  const h = (hash ^ (hash >>> 13) ^ len) >>> 0;
  return (h ^ (h >>> 7)) & (CACHE_SLOTS - 1);
}

/** The latin-1 string for `buf[start, end)`; `hash` is the running hash of those bytes. */
function cachedString(buf: Uint8Array, start: number, end: number, hash: number): string {
  const n = end - start;
  if (n === 0) return "";
  if (n > CACHE_MAX_LEN) return decodeLong(buf, start, end);
  const slot = slotOf(hash, n);
  const s = valueCache[slot];
  if (s.length === n) {
    let i = 0;
    while (i < n && s.charCodeAt(i) === buf[start + i]) i++;
    if (i === n) return s;
  }
  const fresh = decodeLatin1(buf, start, end);
  valueCache[slot] = fresh;
  return fresh;
}

/** Like `cachedString` for a field name (tchar only), lowercased; `hash` is over lowercase bytes. */
function cachedName(buf: Uint8Array, start: number, end: number, hash: number): string {
  const n = end - start;
  if (n > CACHE_MAX_LEN) return decodeLowerAscii(buf, start, end);
  const slot = slotOf(hash, n);
  const s = nameCache[slot];
  if (s.length === n) {
    let i = 0;
    while (i < n && s.charCodeAt(i) === LOWER[buf[start + i]]) i++;
    if (i === n) return s;
  }
  const fresh = decodeLowerAscii(buf, start, end);
  nameCache[slot] = fresh;
  return fresh;
}

/** Decodes a long piece: the runtime's UTF-8 decoder for ASCII (same result, much faster). */
function decodeLong(buf: Uint8Array, start: number, end: number): string {
  for (let i = start; i < end; i++) {
    if (buf[i] >= 0x80) return decodeLatin1(buf, start, end);
  }
  return ASCII_DECODER.decode(buf.subarray(start, end));
}

/** ASCII lowercase table. */
const LOWER: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) t[b] = b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
  return t;
})();

/** Numbers stored per field in the scratch array (see `scanFieldLine`). */
const FIELD_SLOTS = 6;
/** Scratch space for field offsets, reused by every parse (the parser is synchronous). */
let fieldOffsets: Int32Array = new Int32Array(FIELD_SLOTS * 32);

function growOffsets(offs: Int32Array): Int32Array {
  const next = new Int32Array(offs.length * 2);
  next.set(offs);
  return next;
}

/**
 * Validates the field line `name: value` starting at `start` (it ends at the next CR, which
 * phase 1 guarantees is followed by LF) and stores, at `o` in `offs`: name start, name end, hash
 * of the lowercased name, value start, value end (OWS trimmed), hash of the value. Returns the
 * position of the line's CR. Same rules as `parseFieldLine`.
 */
function scanFieldLine(buf: Uint8Array, start: number, offs: Int32Array, o: number): number {
  const first = buf[start];
  if (first === SP || first === HTAB) {
    throw new ProtocolError("OBSOLETE_LINE_FOLDING", "line starts with whitespace");
  }
  let i = start;
  let nameHash = 0;
  for (;; i++) {
    const b = buf[i];
    if (TCHAR[b] !== 1) break;
    nameHash = (Math.imul(nameHash, 31) + LOWER[b]) | 0;
  }
  if (buf[i] !== COLON) fieldNameError(buf, i);
  if (i === start) throw new ProtocolError("INVALID_HEADER_NAME", "empty name");
  let vs = i + 1;
  while (buf[vs] === SP || buf[vs] === HTAB) vs++;
  let k = vs;
  let valueHash = 0;
  // Hash up to the last non-OWS byte; trailing OWS is trimmed after the CR is found.
  let ve = vs;
  let hashAtVe = 0;
  for (;; k++) {
    const b = buf[k];
    if (FIELD_VALUE_CHAR[b] !== 1) {
      if (b === CR) break;
      throw new ProtocolError("INVALID_HEADER_VALUE");
    }
    valueHash = (Math.imul(valueHash, 31) + b) | 0;
    if (b !== SP && b !== HTAB) {
      ve = k + 1;
      hashAtVe = valueHash;
    }
  }
  offs[o] = start;
  offs[o + 1] = i;
  offs[o + 2] = nameHash;
  offs[o + 3] = vs;
  offs[o + 4] = ve;
  offs[o + 5] = hashAtVe;
  return k;
}

/** Throws the error for a field name that is not followed by a colon. */
function fieldNameError(buf: Uint8Array, i: number, end = buf.length): never {
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

/** Positions (and hashes, for the string cache) of the request line's pieces. */
interface LineOffsets {
  methodEnd: number;
  methodHash: number;
  targetStart: number;
  targetEnd: number;
  targetHash: number;
  minor: 0 | 1;
  /** Position of the line's CR. */
  end: number;
}

/** Where `parseRequestLine` puts its result: one record, reused (the parser is synchronous). */
const lineOffsets: LineOffsets = {
  methodEnd: 0,
  methodHash: 0,
  targetStart: 0,
  targetEnd: 0,
  targetHash: 0,
  minor: 1,
  end: 0,
};

/** Validates the request line starting at `start`; returns `lineOffsets`, filled in. */
function parseRequestLine(buf: Uint8Array, start: number): LineOffsets {
  let i = start;
  let methodHash = 0;
  for (;; i++) {
    const b = buf[i];
    if (TCHAR[b] !== 1) break;
    methodHash = (Math.imul(methodHash, 31) + b) | 0;
  }
  if (i === start) throw new ProtocolError("INVALID_METHOD");
  if (buf[i] !== SP) {
    throw new ProtocolError(buf[i] === CR ? "INVALID_REQUEST_LINE" : "INVALID_METHOD");
  }
  const ts = i + 1;
  let j = ts;
  let targetHash = 0;
  for (;; j++) {
    const b = buf[j];
    if (TARGET_CHAR[b] !== 1) break;
    targetHash = (Math.imul(targetHash, 31) + b) | 0;
  }
  if (j === ts) throw new ProtocolError("INVALID_REQUEST_LINE", "empty target or double space");
  if (buf[j] === CR) throw new ProtocolError("INVALID_REQUEST_LINE", "missing version");
  if (buf[j] !== SP) throw new ProtocolError("INVALID_TARGET");
  const vs = j + 1;
  let end = vs;
  while (buf[end] !== CR) end++;
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
  // RFC 9110 §2.5: only a different major version is refused (505). A recipient of a higher minor
  // version than it supports treats the message as the highest minor it conforms to, so HTTP/1.2
  // through HTTP/1.9 are served exactly as HTTP/1.1: a `HTTP/1.1` status line, 1.1 keep-alive,
  // chunked bodies, and SERVER_PROTOCOL "HTTP/1.1" for gateway apps. For SERVER_PROTOCOL, gunicorn
  // echoes the request's version (and even answers with a `HTTP/1.2` status line) while waitress
  // falls back to 1.0 for both; we report the version whose rules we actually apply, which is also
  // the response's version and the only value the gateway contract allows (1.0 or 1.1).
  if (major !== 1) throw new ProtocolError("UNSUPPORTED_VERSION");
  const line = lineOffsets;
  line.methodEnd = i;
  line.methodHash = methodHash;
  line.targetStart = ts;
  line.targetEnd = j;
  line.targetHash = targetHash;
  line.minor = minor === 0 ? 0 : 1;
  line.end = end;
  return line;
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
