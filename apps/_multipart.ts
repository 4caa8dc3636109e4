/**
 * A streaming multipart/form-data parser (RFC 7578 over RFC 2046 §5.1), private to apps/.
 *
 * Contract:
 * - `boundaryOf(contentType)` returns the boundary parameter of a `multipart/form-data` type, or
 *   null when the type is something else or has no valid boundary (1-70 characters).
 * - `parseMultipart(chunks, boundary)` is an async generator over the body's chunks. It yields a
 *   `part` event (the part's headers, lowercased names) at the start of each part, then `data`
 *   events with the part's bytes as they arrive, and stops after the closing delimiter. Memory
 *   stays bounded whatever the body size: at most one input chunk plus the delimiter length is
 *   held, and `data` views are handed out before the next chunk is pulled (so a consumer that
 *   awaits its writes applies back-pressure to the upload).
 * - Malformed input (no opening delimiter, a part head over `maxHeadBytes`, a body that ends
 *   before the closing delimiter) throws `MultipartError`.
 */

/** One parser event. */
export type MultipartEvent =
  | { readonly kind: "part"; readonly headers: ReadonlyMap<string, string> }
  | { readonly kind: "data"; readonly bytes: Uint8Array };

/** The body is not valid multipart/form-data. */
export class MultipartError extends Error {
  /** Creates an error describing what is wrong with the body. */
  constructor(message: string) {
    super(message);
    this.name = "MultipartError";
  }
}

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");
const CRLFCRLF = encoder.encode("\r\n\r\n");
const BOUNDARY_RE = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

/** The boundary of a multipart/form-data content type, or null. */
export function boundaryOf(contentType: string | null | undefined): string | null {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType)) return null;
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m ? (m[1] ?? m[2]) : null;
  return boundary !== null && BOUNDARY_RE.test(boundary) ? boundary : null;
}

/** Parses a multipart body chunk by chunk (see the module comment). */
export async function* parseMultipart(
  chunks: AsyncIterable<Uint8Array>,
  boundary: string,
  maxHeadBytes = 16 * 1024,
): AsyncGenerator<MultipartEvent> {
  // The opening delimiter has no leading CRLF; every later one does.
  const first = encoder.encode(`--${boundary}`);
  const delimiter = encoder.encode(`\r\n--${boundary}`);
  let buf: Uint8Array = new Uint8Array(0);
  let state: "preamble" | "after-delimiter" | "head" | "body" = "preamble";
  for await (const chunk of chunks) {
    buf = buf.length === 0 ? chunk : concat(buf, chunk);
    while (true) {
      if (state === "preamble") {
        const at = indexOf(buf, first, 0);
        if (at < 0) {
          if (buf.length > maxHeadBytes) throw new MultipartError("no opening boundary");
          break;
        }
        buf = buf.subarray(at + first.length);
        state = "after-delimiter";
      }
      if (state === "after-delimiter") {
        if (buf.length < 2) break;
        if (buf[0] === 0x2d && buf[1] === 0x2d) return; // "--": the closing delimiter
        // Transport padding (spaces and tabs) may follow a delimiter before its CRLF.
        let i = 0;
        while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
        if (i + 2 > buf.length) break;
        if (buf[i] !== 0x0d || buf[i + 1] !== 0x0a) throw new MultipartError("bad delimiter line");
        buf = buf.subarray(i + 2);
        state = "head";
      }
      if (state === "head") {
        const end = indexOf(buf, CRLFCRLF, 0);
        const emptyHead = buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a;
        if (end < 0 && !emptyHead) {
          if (buf.length > maxHeadBytes) throw new MultipartError("part head too large");
          break;
        }
        const headEnd = emptyHead ? 0 : end;
        yield { kind: "part", headers: parseHead(latin1.decode(buf.subarray(0, headEnd))) };
        buf = buf.subarray(emptyHead ? 2 : end + 4);
        state = "body";
      }
      if (state === "body") {
        const at = indexOf(buf, delimiter, 0);
        if (at >= 0) {
          if (at > 0) yield { kind: "data", bytes: buf.subarray(0, at) };
          buf = buf.subarray(at + delimiter.length);
          state = "after-delimiter";
          continue;
        }
        // Keep only what could be the start of a delimiter split across chunks.
        const keep = Math.min(buf.length, delimiter.length - 1);
        const safe = safePrefix(buf, delimiter, buf.length - keep);
        if (safe > 0) yield { kind: "data", bytes: buf.subarray(0, safe) };
        buf = safe === buf.length ? new Uint8Array(0) : buf.slice(safe);
        break;
      }
    }
  }
  throw new MultipartError("the body ended before the closing boundary");
}

/** Header lines of a part head → lowercased name → value. */
function parseHead(text: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

/** Parses `form-data; name="x"; filename="y"` into its parameters. */
export function dispositionOf(value: string | undefined): { name?: string; filename?: string } {
  const out: { name?: string; filename?: string } = {};
  if (!value) return out;
  for (const m of value.matchAll(/;\s*(name|filename)=(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/gi)) {
    const v = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3];
    // Browsers send UTF-8 bytes in these quoted strings; the head was decoded as latin-1.
    out[m[1].toLowerCase() as "name" | "filename"] = utf8(v);
  }
  return out;
}

function utf8(s: string): string {
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i) & 0xff;
  return new TextDecoder().decode(bytes);
}

/**
 * How many leading bytes of `buf` cannot be part of a delimiter: everything before `from`,
 * plus any position at or after it where `buf`'s tail does not start a delimiter.
 */
function safePrefix(buf: Uint8Array, delimiter: Uint8Array, from: number): number {
  for (let i = Math.max(0, from); i < buf.length; i++) {
    if (buf[i] !== delimiter[0]) continue;
    let j = 1;
    while (i + j < buf.length && buf[i + j] === delimiter[j]) j++;
    if (i + j === buf.length) return i;
  }
  return buf.length;
}

/** First index of `needle` in `hay` at or after `from`, or -1. */
function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  const last = hay.length - needle.length;
  let i = hay.indexOf(first, from);
  while (i >= 0 && i <= last) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
    i = hay.indexOf(first, i + 1);
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
