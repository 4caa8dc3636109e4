/**
 * Response-head validation and encoding, shared by every app style.
 *
 * Contract (sans-IO, synchronous):
 * - `checkResponseHeader(name, value)` returns `null` for an acceptable app-supplied header or the
 *   name of the rule it breaks: `header-name-token`, `header-value-ctl` (CR, LF, NUL or another
 *   CTL except HTAB), `header-value-latin1` (code units above 0xFF), `hop-by-hop` (RFC 9110 §7.6.1
 *   Connection-specific fields and PEP 3333's list: the server owns them).
 * - `checkStatus(status, reason)` returns `null` or the broken rule (`status-range`, `reason-ctl`).
 * - `writeResponseHead(sink, parts)` writes a validated status and header list into a `HeadSink`
 *   (the output queue), adding Date/Server when the app did not (no Date when `date` is ""), the
 *   default lines (`defaults`, `--header`), and the server-managed framing
 *   headers; `encodeResponseHead(parts)` returns the same bytes as one array. Status lines and the
 *   Date/Server lines are encoded once and reused, and so is a `Name: value` line once the same
 *   name was written with the same value twice in a row (up to 1024 names, values up to 256
 *   characters); `checkResponseHeader` likewise skips the scan of a value that passed last time.
 * - Whole heads are remembered too (up to 16 fields): `validateResponseHead` accepts the same
 *   status, reason and header names and values as the last head it accepted without checking
 *   them again, and `writeResponseHead` writes a head whose parts all equal the previous head's
 *   as one copy of its bytes (encoded when the parts repeat, up to 2 KiB). Parts are compared by
 *   value on every call, so a header list changed in place is never served from a stale copy.
 * - `headerKind(name)` classifies a response header name (cached verdicts);
 *   `withContentLength(headers, length)` appends a known length unless one is declared.
 */
import { encodeLatin1 } from "./bytes.ts";
import * as bytesModule from "./bytes.ts";
import { ResponseError, type ResponseRule } from "./errors.ts";
import { HeaderListMemo } from "./header_list_memo.ts";
import * as statusModule from "./status.ts";

// Module-private copies of imported constants (see `server/http/bytes.ts`).
const { TCHAR } = bytesModule;
const { STATUS_TEXT } = statusModule;

/** Hop-by-hop fields an app must not set (RFC 9110 §7.6.1; PEP 3333 "hop-by-hop"). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "trailers",
  "transfer-encoding",
  "upgrade",
]);

/** `headerKind`: a name that is not a token. */
export const KIND_INVALID = -1;
/** `headerKind`: any other valid name. */
export const KIND_OTHER = 0;
/** `headerKind`: Content-Length. */
export const KIND_CONTENT_LENGTH = 1;
/** `headerKind`: Date. */
export const KIND_DATE = 2;
/** `headerKind`: Server. */
export const KIND_SERVER = 3;
/** `headerKind`: a hop-by-hop field (see `HOP_BY_HOP`). */
export const KIND_HOP_BY_HOP = 4;
// Module-private copies for the hot paths (see `server/http/bytes.ts`).
const K_INVALID = KIND_INVALID, K_OTHER = KIND_OTHER, K_CONTENT_LENGTH = KIND_CONTENT_LENGTH;
const K_DATE = KIND_DATE, K_SERVER = KIND_SERVER, K_HOP_BY_HOP = KIND_HOP_BY_HOP;

const MAX_CACHED_KINDS = 1024;
/** Values longer than this are never cached as encoded lines. */
const MAX_CACHED_LINE_VALUE = 256;

/**
 * What is cached per response header name (apps send the same few names, mostly with the same
 * values, on every response): its kind, the last value that passed `checkResponseHeader`, and
 * the encoded `Name: value\r\n` line once a value repeated.
 */
interface NameEntry {
  readonly kind: number;
  /** The last value found valid for this name (never set for an invalid or hop-by-hop name). */
  okValue: string | null;
  /** The last value written; a repeat gets `line`. */
  seen: string | null;
  /** `line` encodes `Name: lineValue\r\n`. */
  lineValue: string | null;
  line: Uint8Array | null;
}
const NAMES = new Map<string, NameEntry>();

function entryOf(name: string): NameEntry {
  let e = NAMES.get(name);
  if (e !== undefined) return e;
  e = { kind: classifyName(name), okValue: null, seen: null, lineValue: null, line: null };
  if (NAMES.size < MAX_CACHED_KINDS) NAMES.set(name, e);
  return e;
}

/**
 * Classifies a response header name (case-insensitively): one of the `KIND_*` constants. Apps
 * send the same few names on every response, so verdicts are cached (up to 1024 names).
 */
export function headerKind(name: string): number {
  return entryOf(name).kind;
}

function classifyName(name: string): number {
  if (name.length === 0) return K_INVALID;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 0x7f || TCHAR[c] !== 1) return K_INVALID;
  }
  const lower = name.toLowerCase();
  if (HOP_BY_HOP.has(lower)) return K_HOP_BY_HOP;
  if (lower === "content-length") return K_CONTENT_LENGTH;
  if (lower === "date") return K_DATE;
  if (lower === "server") return K_SERVER;
  return K_OTHER;
}

/** Returns `null` if the header may be sent, else the name of the broken rule. */
export function checkResponseHeader(name: string, value: string): ResponseRule | null {
  const e = entryOf(name);
  const kind = e.kind;
  if (kind === K_INVALID) return "header-name-token";
  // The value this name had last time was valid: the same string needs no second scan.
  if (value === e.okValue) return null;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return "header-value-ctl";
    if (c > 0xff) return "header-value-latin1";
  }
  if (kind === K_HOP_BY_HOP) return "hop-by-hop"; // (never cached as valid)
  e.okValue = value;
  return null;
}

/**
 * `headers` plus a `Content-Length: length` pair when `length` ≥ 0 and none of them is a
 * Content-Length (theirs wins); otherwise `headers` itself. For `Responder`s that hand a header
 * list on instead of writing it (the engine's own writer adds the line without a copy).
 */
export function withContentLength(
  headers: ReadonlyArray<readonly [string, string]>,
  length: number,
): ReadonlyArray<readonly [string, string]> {
  if (length < 0) return headers;
  for (let i = 0; i < headers.length; i++) {
    if (headerKind(headers[i][0]) === K_CONTENT_LENGTH) return headers;
  }
  return [...headers, ["Content-Length", String(length)]];
}

/** Returns `null` for a valid status and reason phrase, else the broken rule. */
export function checkStatus(status: number, reason: string): ResponseRule | null {
  if (!Number.isInteger(status) || status < 100 || status > 999) return "status-range";
  for (let i = 0; i < reason.length; i++) {
    const c = reason.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return "reason-ctl";
  }
  return null;
}

/**
 * Validates a final response head an app supplied, the one check every app style uses: the status
 * (100..999 with no 1xx but 101 as a final status, a clean reason phrase), every header
 * (`checkResponseHeader`) and Content-Length (1..15 digits, repeated values equal). Returns the
 * declared Content-Length, or -1 when none was given; throws `ResponseError` naming the rule.
 */
export function validateResponseHead(
  status: number,
  headers: ReadonlyArray<readonly [string, string]>,
  reason = "",
): number {
  const ok = lastValid;
  if (status === ok.status && reason === ok.reason && ok.fields.matches(headers)) {
    return ok.declared;
  }
  const declared = checkResponseHead(status, headers, reason);
  ok.status = status;
  ok.reason = reason;
  ok.declared = declared;
  ok.fields.record(headers);
  return declared;
}

/**
 * The last head `validateResponseHead` accepted and its result: the same status, reason and
 * header names and values are accepted again without a scan.
 */
const lastValid = { status: -1, reason: "", declared: -1, fields: new HeaderListMemo() };

/** `validateResponseHead` without the memo of the last accepted head. */
function checkResponseHead(
  status: number,
  headers: ReadonlyArray<readonly [string, string]>,
  reason: string,
): number {
  const rule = checkStatus(status, reason);
  if (rule) throw new ResponseError(rule, `invalid status ${status}`);
  if (status < 200 && status !== 101) {
    throw new ResponseError("status-range", `${status} is not a final status`);
  }
  let declared = -1;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i];
    const bad = checkResponseHeader(name, value);
    if (bad) throw new ResponseError(bad, `header ${JSON.stringify(name)}`);
    if (headerKind(name) === K_CONTENT_LENGTH) {
      const n = parseContentLengthValue(value);
      if (n < 0 || (declared !== -1 && n !== declared)) {
        throw new ResponseError("content-length-digits", `content-length ${JSON.stringify(value)}`);
      }
      declared = n;
    }
  }
  return declared;
}

/** 1 to 15 ASCII digits as a number, else -1. */
function parseContentLengthValue(s: string): number {
  const n = s.length;
  if (n === 0 || n > 15) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** How the response body is delimited on the wire. */
export type ResponseFraming = "none" | "length" | "chunked" | "close";

/** Inputs to `encodeResponseHead`. */
export interface ResponseHeadParts {
  /** Status code. */
  status: number;
  /** Reason phrase (defaults to the standard text). */
  reason?: string;
  /** App headers, already validated. */
  headers: ReadonlyArray<readonly [string, string]>;
  /** Current IMF-fixdate, added unless the app sent Date ("": no Date line). */
  date: string;
  /** Server header value; added unless empty or the app sent Server. */
  server: string;
  /** Framing the server chose; `chunked` adds Transfer-Encoding. */
  framing: ResponseFraming;
  /** Adds `Connection: close` (true), `Connection: keep-alive` ("keep-alive") or nothing. */
  connection: "close" | "keep-alive" | "";
  /**
   * A Content-Length the server adds after the app's headers (-1 or absent: none); the caller
   * makes sure the app sent none and that the status allows one.
   */
  length?: number;
  /** Extra server-owned header lines (already validated), e.g. Upgrade for 101. */
  extra?: string;
  /** Default header lines (`--header`, already validated), written after Date and Server. */
  defaults?: string;
}

/** Where `writeResponseHead` puts bytes (the connection's `OutputQueue`, or a plain buffer). */
export interface HeadSink {
  /** Appends a latin-1 string (code units 0-255) as bytes. */
  pushAscii(s: string): void;
  /** Appends bytes. */
  pushBytes(b: Uint8Array): void;
}

const STATUS_LINES = new Map<number, Uint8Array>();
const COLON_SP = encodeLatin1(": ");
const CRLF = encodeLatin1("\r\n");
const CONTENT_LENGTH_PREFIX = encodeLatin1("Content-Length: ");
const TE_CHUNKED = encodeLatin1("Transfer-Encoding: chunked\r\n");
const CONNECTION_CLOSE = encodeLatin1("Connection: close\r\n");
const CONNECTION_KEEP_ALIVE = encodeLatin1("Connection: keep-alive\r\n");
let cachedDate = "";
let cachedServer = "";
let cachedDefaults = "";
let cachedDateServer: Uint8Array = new Uint8Array(0);

/** `HTTP/1.1 NNN Standard Reason\r\n`, encoded once per status. */
function statusLine(status: number): Uint8Array {
  let line = STATUS_LINES.get(status);
  if (line === undefined) {
    line = encodeLatin1(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Unknown"}\r\n`);
    if (STATUS_LINES.size < 1000) STATUS_LINES.set(status, line);
  }
  return line;
}

/**
 * `Date: …\r\nServer: …\r\n` and the default lines, re-encoded only when the date (once a
 * second), the server or the defaults change.
 */
function dateServerLines(date: string, server: string, defaults: string): Uint8Array {
  if (date !== cachedDate || server !== cachedServer || defaults !== cachedDefaults) {
    cachedDateServer = encodeLatin1(
      (date === "" ? "" : `Date: ${date}\r\n`) + (server === "" ? "" : `Server: ${server}\r\n`) +
        defaults,
    );
    cachedDate = date;
    cachedServer = server;
    cachedDefaults = defaults;
  }
  return cachedDateServer;
}

/** Encoded heads longer than this are never kept whole. */
const MAX_MEMO_BYTES = 2048;

/**
 * The last head written, by its parts, and its whole encoding once the same parts came twice in
 * a row. Apps answer request after request with the same status and headers; within the same
 * second (the Date line) such a head is then one copy instead of a line-by-line encoding.
 */
const memo = {
  status: -1,
  reason: "",
  date: "",
  server: "",
  framing: "",
  connection: "",
  length: -1,
  extra: "",
  defaults: "",
  /** The encoding of these parts; null until they repeat, or when too long to keep. */
  bytes: null as Uint8Array | null,
  /** These parts encode to more than `MAX_MEMO_BYTES`: always written line by line. */
  tooLong: false,
  fields: new HeaderListMemo(),
};

/** Whether `p` has exactly the parts recorded in `memo` (strings compared by value). */
function sameAsMemo(p: ResponseHeadParts): boolean {
  const m = memo;
  return p.status === m.status && p.date === m.date && p.server === m.server &&
    p.framing === m.framing && p.connection === m.connection && (p.reason ?? "") === m.reason &&
    lengthOf(p) === m.length && (p.extra ?? "") === m.extra &&
    (p.defaults ?? "") === m.defaults && m.fields.matches(p.headers);
}

/** Records `p`'s parts in `memo` (its bytes not yet known). */
function recordMemo(p: ResponseHeadParts): void {
  const m = memo;
  m.bytes = null;
  m.tooLong = false;
  m.status = p.status;
  m.reason = p.reason ?? "";
  m.date = p.date;
  m.server = p.server;
  m.framing = p.framing;
  m.connection = p.connection;
  m.length = lengthOf(p);
  m.extra = p.extra ?? "";
  m.defaults = p.defaults ?? "";
  m.fields.record(p.headers);
}

/** The Content-Length the server adds, -1 for none. */
function lengthOf(p: ResponseHeadParts): number {
  return p.length !== undefined && p.length >= 0 ? p.length : -1;
}

/**
 * Writes the status line and header block, ending with the empty line, to `sink`; returns the
 * number of bytes written. Date and Server are added unless the app sent them; the framing and
 * connection lines come last. A head whose parts equal the previous head's (status, reason,
 * every header name and value, date, server, framing, connection, length, extra) is written from
 * the previous head's bytes, encoded once when the parts repeat (at most 16 fields, 2 KiB).
 */
export function writeResponseHead(sink: HeadSink, p: ResponseHeadParts): number {
  if (!sameAsMemo(p)) {
    recordMemo(p);
    return writeHeadLines(sink, p);
  }
  let bytes = memo.bytes;
  if (bytes === null) {
    if (memo.tooLong) return writeHeadLines(sink, p);
    bytes = encodeResponseHead(p);
    if (bytes.length > MAX_MEMO_BYTES) memo.tooLong = true;
    else memo.bytes = bytes;
  }
  sink.pushBytes(bytes);
  return bytes.length;
}

/** `writeResponseHead` without the whole-head memo: line by line. */
function writeHeadLines(sink: HeadSink, p: ResponseHeadParts): number {
  let n: number;
  if (p.reason === undefined || p.reason === "") {
    const line = statusLine(p.status);
    sink.pushBytes(line);
    n = line.length;
  } else {
    const line = `HTTP/1.1 ${p.status} ${p.reason}\r\n`;
    sink.pushAscii(line);
    n = line.length;
  }
  let hasDate = false;
  let hasServer = false;
  const h = p.headers;
  for (let i = 0; i < h.length; i++) {
    const name = h[i][0];
    const value = h[i][1];
    const e = entryOf(name);
    const kind = e.kind;
    if (kind === K_DATE) hasDate = true;
    else if (kind === K_SERVER) hasServer = true;
    if (value === e.lineValue) {
      sink.pushBytes(e.line!);
    } else {
      sink.pushAscii(name);
      sink.pushBytes(COLON_SP);
      sink.pushAscii(value);
      sink.pushBytes(CRLF);
      // The second time in a row this name has this value, its line is encoded once for reuse.
      if (value === e.seen && value.length <= MAX_CACHED_LINE_VALUE) {
        e.line = encodeLatin1(`${name}: ${value}\r\n`);
        e.lineValue = value;
      } else {
        e.seen = value;
      }
    }
    n += name.length + value.length + 4;
  }
  if (p.length !== undefined && p.length >= 0) {
    const digits = String(p.length);
    sink.pushBytes(CONTENT_LENGTH_PREFIX);
    sink.pushAscii(digits);
    sink.pushBytes(CRLF);
    n += CONTENT_LENGTH_PREFIX.length + digits.length + 2;
  }
  if (!hasDate && !hasServer) {
    const lines = dateServerLines(p.date, p.server, p.defaults ?? "");
    sink.pushBytes(lines);
    n += lines.length;
  } else {
    const line = (!hasDate && p.date !== "" ? `Date: ${p.date}\r\n` : "") +
      (!hasServer && p.server !== "" ? `Server: ${p.server}\r\n` : "") + (p.defaults ?? "");
    sink.pushAscii(line);
    n += line.length;
  }
  if (p.framing === "chunked") {
    sink.pushBytes(TE_CHUNKED);
    n += TE_CHUNKED.length;
  }
  if (p.connection === "close") {
    sink.pushBytes(CONNECTION_CLOSE);
    n += CONNECTION_CLOSE.length;
  } else if (p.connection === "keep-alive") {
    sink.pushBytes(CONNECTION_KEEP_ALIVE);
    n += CONNECTION_KEEP_ALIVE.length;
  }
  if (p.extra) {
    sink.pushAscii(p.extra);
    n += p.extra.length;
  }
  sink.pushBytes(CRLF);
  return n + 2;
}

/** Encodes the status line and header block, ending with the empty line. */
export function encodeResponseHead(p: ResponseHeadParts): Uint8Array {
  const bytes: number[] = [];
  writeHeadLines({
    pushAscii(s: string) {
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        bytes.push(c < 256 ? c : 0x3f);
      }
    },
    pushBytes(b: Uint8Array) {
      for (let i = 0; i < b.length; i++) bytes.push(b[i]);
    },
  }, p);
  return new Uint8Array(bytes);
}

/** Encodes the size line of a chunk carrying `n` bytes (`n` > 0): lowercase hex and CRLF. */
export function encodeChunkHeader(n: number): Uint8Array {
  return encodeLatin1(`${n.toString(16)}\r\n`);
}

/** CRLF after chunk data. */
export const CRLF_BYTES: Uint8Array = new Uint8Array([0x0d, 0x0a]);

/** The last chunk with an empty trailer section. */
export const LAST_CHUNK: Uint8Array = new Uint8Array([0x30, 0x0d, 0x0a, 0x0d, 0x0a]);

/** `HTTP/1.1 100 Continue` interim response. */
export const CONTINUE_RESPONSE: Uint8Array = encodeLatin1("HTTP/1.1 100 Continue\r\n\r\n");
