/**
 * bytes.ts: the ABNF lookup tables byte for byte, and the latin-1 codecs.
 */
import assert from "node:assert/strict";
import {
  concatBytes,
  decodeLatin1,
  decodeLowerAscii,
  encodeLatin1,
  FIELD_VALUE_CHAR,
  HEX_VALUE,
  HOST_CHAR,
  TARGET_CHAR,
  TCHAR,
  utf8Length,
} from "../../../server/http/bytes.ts";
import { mulberry32 } from "./_helpers.ts";

function allowed(table: Uint8Array): string {
  let s = "";
  for (let b = 0; b < 256; b++) if (table[b] === 1) s += String.fromCharCode(b);
  return s;
}

const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function sorted(s: string): string {
  return [...s].sort().join("");
}

Deno.test("TCHAR is exactly RFC 9110 tchar", () => {
  assert.equal(allowed(TCHAR), sorted(`!#$%&'*+-.^_\`|~${ALNUM}`));
});

Deno.test("FIELD_VALUE_CHAR allows HTAB, SP, VCHAR and obs-text and refuses other CTLs and DEL", () => {
  for (let b = 0; b < 256; b++) {
    const want = b === 0x09 || (b >= 0x20 && b <= 0x7e) || b >= 0x80;
    assert.equal(FIELD_VALUE_CHAR[b] === 1, want, `0x${b.toString(16)}`);
  }
});

Deno.test("TARGET_CHAR allows visible ASCII except # and refuses SP, CTLs and non-ASCII", () => {
  for (let b = 0; b < 256; b++) {
    const want = b >= 0x21 && b <= 0x7e && b !== 0x23;
    assert.equal(TARGET_CHAR[b] === 1, want, `0x${b.toString(16)}`);
  }
});

Deno.test("HOST_CHAR is reg-name: unreserved, pct-encoded and sub-delims", () => {
  assert.equal(allowed(HOST_CHAR), sorted(`-._~%!$&'()*+,;=${ALNUM}`));
});

Deno.test("HEX_VALUE maps hex digits of either case and marks everything else 255", () => {
  for (let b = 0; b < 256; b++) {
    const c = String.fromCharCode(b);
    const want = /^[0-9a-fA-F]$/.test(c) ? parseInt(c, 16) : 255;
    assert.equal(HEX_VALUE[b], want, `0x${b.toString(16)}`);
  }
});

Deno.test("decodeLatin1 maps each byte to one code unit, for short and long ranges", () => {
  const all = new Uint8Array(256);
  for (let b = 0; b < 256; b++) all[b] = b;
  let want = "";
  for (let b = 0; b < 256; b++) want += String.fromCharCode(b);
  assert.equal(decodeLatin1(all, 0, 256), want);
  assert.equal(decodeLatin1(all, 65, 70), "ABCDE");
  assert.equal(decodeLatin1(all, 5, 5), "");
  assert.equal(decodeLatin1(all, 9, 3), "");
  const big = new Uint8Array(10000).map((_, i) => i % 251);
  const s = decodeLatin1(big, 3, 9999);
  assert.equal(s.length, 9996);
  for (let i = 0; i < s.length; i++) assert.equal(s.charCodeAt(i), big[i + 3]);
});

Deno.test("decodeLowerAscii lowercases only A-Z", () => {
  const buf = Uint8Array.from([0x41, 0x5a, 0x61, 0x2d, 0x40, 0x5b, 0xc9]);
  assert.equal(decodeLowerAscii(buf, 0, buf.length), "aza-@[\xc9");
});

Deno.test("encodeLatin1 is the inverse of decodeLatin1 and maps code units above 0xFF to ?", () => {
  const bytes = new Uint8Array(256).map((_, i) => i);
  assert.deepStrictEqual(encodeLatin1(decodeLatin1(bytes, 0, 256)), bytes);
  assert.deepStrictEqual(encodeLatin1("a\u0100\u20acb"), Uint8Array.from([0x61, 0x3f, 0x3f, 0x62]));
});

Deno.test("utf8Length matches TextEncoder for ASCII, 2-4 byte characters and lone surrogates", () => {
  const cases = [
    "",
    "hello",
    "\u00e9",
    "\u07ff\u0800",
    "\u20ac",
    "\u{1F600}",
    "\ud800",
    "\udc00x",
    "\ud800\ud800\udc00",
    "a\u00e9\u20ac\u{10FFFF}\ud83d",
  ];
  const enc = new TextEncoder();
  for (const s of cases) assert.equal(utf8Length(s), enc.encode(s).length, JSON.stringify(s));
  const rand = mulberry32(7);
  for (let i = 0; i < 200; i++) {
    let s = "";
    for (let j = 0; j < 20; j++) s += String.fromCharCode(Math.floor(rand() * 0x10000));
    assert.equal(utf8Length(s), enc.encode(s).length);
  }
});

Deno.test("concatBytes joins in order, returns a lone array as is and nothing as empty", () => {
  const a = new Uint8Array([1, 2]);
  assert.deepStrictEqual([...concatBytes([a, new Uint8Array(0), new Uint8Array([3])])], [1, 2, 3]);
  assert.strictEqual(concatBytes([a]), a);
  assert.equal(concatBytes([]).length, 0);
});
