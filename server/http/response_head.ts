/**
 * Response-head validation and encoding, shared by every app style.
 *
 * Contract (sans-IO, synchronous):
 * - `checkResponseHeader(name, value)` returns `null` for an acceptable app-supplied header or the
 *   name of the rule it breaks: `header-name-token`, `header-value-ctl` (CR, LF, NUL or another
 *   CTL except HTAB), `header-value-latin1` (code units above 0xFF), `hop-by-hop` (RFC 9110 §7.6.1
 *   Connection-specific fields and PEP 3333's list: the server owns them).
 * - `checkStatus(status, reason)` returns `null` or the broken rule (`status-range`, `reason-ctl`).
 * - `encodeResponseHead(...)` turns a validated status and header list into bytes, adding
 *   Date/Server when the app did not, and the server-managed framing headers.
 * - `httpDate(ms)` formats an IMF-fixdate (RFC 9110 §5.6.7).
 */
import { encodeLatin1, TCHAR } from "./bytes.ts";
import { STATUS_TEXT } from "./status.ts";

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

/** Returns `null` if the header may be sent, else the name of the broken rule. */
export function checkResponseHeader(name: string, value: string): string | null {
  if (name.length === 0) return "header-name-token";
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 0x7f || TCHAR[c] !== 1) return "header-name-token";
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return "header-value-ctl";
    if (c > 0xff) return "header-value-latin1";
  }
  if (HOP_BY_HOP.has(name.toLowerCase())) return "hop-by-hop";
  return null;
}

/** Returns `null` for a valid status and reason phrase, else the broken rule. */
export function checkStatus(status: number, reason: string): string | null {
  if (!Number.isInteger(status) || status < 100 || status > 999) return "status-range";
  for (let i = 0; i < reason.length; i++) {
    const c = reason.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return "reason-ctl";
  }
  return null;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/** Formats `ms` since the epoch as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`. */
export function httpDate(ms: number): string {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${
    MONTHS[d.getUTCMonth()]
  } ${d.getUTCFullYear()} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${
    pad2(d.getUTCSeconds())
  } GMT`;
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
  /** Current IMF-fixdate, added unless the app sent Date. */
  date: string;
  /** Server header value; added unless empty or the app sent Server. */
  server: string;
  /** Framing the server chose; `chunked` adds Transfer-Encoding. */
  framing: ResponseFraming;
  /** Adds `Connection: close` (true), `Connection: keep-alive` ("keep-alive") or nothing. */
  connection: "close" | "keep-alive" | "";
  /** Extra server-owned header lines (already validated), e.g. Upgrade for 101. */
  extra?: string;
}

const textCache = new Map<number, string>();

/** Encodes the status line and header block, ending with the empty line. */
export function encodeResponseHead(p: ResponseHeadParts): Uint8Array {
  return encodeLatin1(renderResponseHead(p));
}

/** Renders the status line and header block as a latin-1 string (see `encodeResponseHead`). */
export function renderResponseHead(p: ResponseHeadParts): string {
  let reason = p.reason;
  if (reason === undefined || reason === "") {
    reason = textCache.get(p.status);
    if (reason === undefined) {
      reason = STATUS_TEXT[p.status] ?? "Unknown";
      textCache.set(p.status, reason);
    }
  }
  let s = `HTTP/1.1 ${p.status} ${reason}\r\n`;
  let hasDate = false;
  let hasServer = false;
  const h = p.headers;
  for (let i = 0; i < h.length; i++) {
    const name = h[i][0];
    if (name.length === 4 && name.toLowerCase() === "date") hasDate = true;
    else if (name.length === 6 && name.toLowerCase() === "server") hasServer = true;
    s += `${name}: ${h[i][1]}\r\n`;
  }
  if (!hasDate) s += `Date: ${p.date}\r\n`;
  if (!hasServer && p.server !== "") s += `Server: ${p.server}\r\n`;
  if (p.framing === "chunked") s += "Transfer-Encoding: chunked\r\n";
  if (p.connection === "close") s += "Connection: close\r\n";
  else if (p.connection === "keep-alive") s += "Connection: keep-alive\r\n";
  if (p.extra) s += p.extra;
  s += "\r\n";
  return s;
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
