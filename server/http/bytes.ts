/**
 * Byte constants, ABNF lookup tables and a lossless latin-1 decoder for the sans-IO parser.
 *
 * Contract: pure data and pure functions over `Uint8Array`; no I/O, no imports. Each table is a
 * 256-entry `Uint8Array` (1 = allowed) built from the ABNF quoted beside it.
 *
 * Hot paths read module-private bindings (a convention every per-request module follows): an
 * importing module copies the constants it uses into its own `const`s
 * (`const { CR, TCHAR } = bytesModule;`), and a module that exports a constant its own hot code
 * reads keeps a private copy next to it. V8 reads an imported or exported binding through its
 * module cell and does not constant-fold it inside an inlined function: a parser-shaped loop ran
 * ~30 % slower that way, and the whole server ~3 % (pipelined hello world, alternated runs).
 */

/** Carriage return. */
export const CR = 0x0d;
/** Line feed. */
export const LF = 0x0a;
/** Space. */
export const SP = 0x20;
/** Horizontal tab. */
export const HTAB = 0x09;
/** Colon. */
export const COLON = 0x3a;
/** Semicolon. */
export const SEMICOLON = 0x3b;
/** Equals sign. */
export const EQUALS = 0x3d;
/** Double quote. */
export const DQUOTE = 0x22;
/** Backslash. */
export const BACKSLASH = 0x5c;

function table(pred: (b: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) t[b] = pred(b) ? 1 : 0;
  return t;
}

const TCHAR_PUNCT = "!#$%&'*+-.^_`|~";

/**
 * RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_"
 * / "`" / "|" / "~" / DIGIT / ALPHA
 */
export const TCHAR: Uint8Array = table((b) =>
  (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) ||
  TCHAR_PUNCT.includes(String.fromCharCode(b))
);

/**
 * RFC 9110 §5.5: field-vchar = VCHAR / obs-text, plus SP and HTAB inside a value.
 * CTLs (0x00-0x1F except HTAB) and DEL are refused; obs-text (0x80-0xFF) is opaque and allowed.
 */
export const FIELD_VALUE_CHAR: Uint8Array = table((b) =>
  b === HTAB || (b >= 0x20 && b <= 0x7e) || b >= 0x80
);

/**
 * RFC 9112 §3.2 request-target bytes: visible ASCII (0x21-0x7E) except "#" (no fragment is sent
 * on the wire, RFC 9110 §4.2.4). Non-ASCII bytes must be percent-encoded by the client.
 */
export const TARGET_CHAR: Uint8Array = table((b) => b >= 0x21 && b <= 0x7e && b !== 0x23);

/** RFC 9110 §7.2 / RFC 3986 §3.2.2 reg-name bytes: unreserved / pct-encoded / sub-delims. */
export const HOST_CHAR: Uint8Array = table((b) =>
  (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) ||
  "-._~%!$&'()*+,;=".includes(String.fromCharCode(b))
);

/** Hex digit values (0-15), 255 for non-hex bytes. RFC 5234 HEXDIG, case-insensitive. */
export const HEX_VALUE: Uint8Array = (() => {
  const t = new Uint8Array(256).fill(255);
  for (let i = 0; i < 10; i++) t[0x30 + i] = i;
  for (let i = 0; i < 6; i++) {
    t[0x41 + i] = 10 + i;
    t[0x61 + i] = 10 + i;
  }
  return t;
})();

/** Decodes bytes as latin-1 (each byte one UTF-16 code unit, losslessly). */
export function decodeLatin1(buf: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return "";
  if (n < 16) {
    let s = "";
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]);
    return s;
  }
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(
      null,
      buf.subarray(i, Math.min(end, i + 4096)) as unknown as number[],
    );
  }
  return s;
}

/** Decodes an ASCII token and lowercases A-Z on the way. */
export function decodeLowerAscii(buf: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) {
    const b = buf[i];
    s += String.fromCharCode(b >= 0x41 && b <= 0x5a ? b | 0x20 : b);
  }
  return s;
}

/**
 * The number of bytes `TextEncoder` produces for `s` (UTF-8; a lone surrogate becomes U+FFFD,
 * three bytes).
 */
export function utf8Length(s: string): number {
  const len = s.length;
  let n = len;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // a surrogate pair: two code units, four bytes
        i++;
      } else n += 2;
    } else n += 2;
  }
  return n;
}

/** Joins byte arrays into a new one; a single array is returned as it is (no copy). */
export function concatBytes<B extends ArrayBufferLike>(
  parts: readonly Uint8Array<B>[],
): Uint8Array<B | ArrayBuffer> {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Encodes a latin-1 string (code units 0-255) to bytes; higher code units become "?". */
export function encodeLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[i] = c < 256 ? c : 0x3f;
  }
  return out;
}
