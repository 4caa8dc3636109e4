/**
 * The WebSocket opening handshake (RFC 6455 §4.2), sans-IO.
 *
 * Contract (pure, synchronous; no sockets, no timers):
 * - `checkHandshake` validates an opening handshake (RFC 6455 §4.2.1) and returns `null` or the
 *   reason it fails with the status to answer (always 400; a bad version adds
 *   `Sec-WebSocket-Version: 13`, as §4.4 shows).
 * - `acceptKey(key)` computes `Sec-WebSocket-Accept` with the synchronous `sha1` below, so an
 *   upgrade can complete synchronously like `Deno.upgradeWebSocket`.
 * - `hasToken` and `parseProtocols` read the comma-separated header values the handshake uses.
 */

/** The GUID every accept key is derived with (RFC 6455 §1.3). */
export const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const utf8 = new TextEncoder();

/** What `checkHandshake` needs from a request. */
export interface HandshakeRequest {
  /** Request method. */
  readonly method: string;
  /** "HTTP/1.0" or "HTTP/1.1". */
  readonly version: string;
  /** A header's (combined) value or null, like `Headers.get`. */
  header(name: string): string | null;
}

/** Why a handshake was refused, and how to answer. */
export interface HandshakeFailure {
  /** A short human-readable reason (safe to send to the client). */
  readonly reason: string;
  /** The status to answer with (400). */
  readonly status: number;
  /** Extra response headers (`Sec-WebSocket-Version: 13` for a version mismatch). */
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

/** Whether the comma-separated `value` contains `token` (case-insensitive, OWS trimmed). */
export function hasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  const want = token.toLowerCase();
  for (const part of value.split(",")) {
    if (part.trim().toLowerCase() === want) return true;
  }
  return false;
}

/** Splits a `Sec-WebSocket-Protocol` request value into its tokens (empty when absent). */
export function parseProtocols(value: string | null): string[] {
  if (value === null) return [];
  return value.split(",").map((p) => p.trim()).filter((p) => p !== "");
}

const KEY_RE = /^[A-Za-z0-9+/]{22}==$/;

function fail(reason: string, headers: Array<[string, string]> = []): HandshakeFailure {
  return { reason, status: 400, headers };
}

/** Validates an opening handshake (RFC 6455 §4.2.1); `null` when it is acceptable. */
export function checkHandshake(req: HandshakeRequest): HandshakeFailure | null {
  if (req.method !== "GET") return fail(`WebSocket handshake must use GET, not ${req.method}`);
  if (req.version !== "HTTP/1.1") return fail("WebSocket handshake requires HTTP/1.1");
  if (!hasToken(req.header("upgrade"), "websocket")) {
    return fail("Invalid Header: 'upgrade' header must contain 'websocket'");
  }
  if (!hasToken(req.header("connection"), "upgrade")) {
    return fail("Invalid Header: 'connection' header must contain 'Upgrade'");
  }
  const version = req.header("sec-websocket-version");
  if (version === null || version.trim() !== "13") {
    return fail("Invalid Header: 'sec-websocket-version' must be 13", [[
      "sec-websocket-version",
      "13",
    ]]);
  }
  const key = req.header("sec-websocket-key");
  if (key === null) return fail("Invalid Header: 'sec-websocket-key' header must be set");
  if (!KEY_RE.test(key.trim())) {
    return fail("Invalid Header: 'sec-websocket-key' must be the base64 of 16 bytes");
  }
  return null;
}

/** `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (base64 of SHA-1 of key + GUID). */
export function acceptKey(key: string): string {
  return base64(sha1(utf8.encode(key.trim() + WS_GUID)));
}

/** Standard base64 (with padding) of `bytes`. */
export function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

/** SHA-1 (FIPS 180-4) of `data`, synchronously; used only for the handshake's accept key. */
export function sha1(data: Uint8Array): Uint8Array {
  const bitLen = data.length * 8;
  const padded = new Uint8Array((((data.length + 8) >>> 6) + 1) << 6);
  padded.set(data);
  padded[data.length] = 0x80;
  const dv = new DataView(padded.buffer);
  dv.setUint32(padded.length - 8, Math.floor(bitLen / 0x1_0000_0000));
  dv.setUint32(padded.length - 4, bitLen >>> 0);
  let h0 = 0x67452301, h1 = 0xefcdab89, h2 = 0x98badcfe, h3 = 0x10325476, h4 = 0xc3d2e1f0;
  const w = new Uint32Array(80);
  for (let block = 0; block < padded.length; block += 64) {
    for (let t = 0; t < 16; t++) w[t] = dv.getUint32(block + t * 4);
    for (let t = 16; t < 80; t++) w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    let a = h0, b = h1, c = h2, d = h3, e = h4;
    for (let t = 0; t < 80; t++) {
      let f: number, k: number;
      if (t < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (t < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (t < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6;
      }
      const tmp = (rotl(a, 5) + f + e + k + w[t]) | 0;
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = tmp;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  const out = new Uint8Array(20);
  const ov = new DataView(out.buffer);
  ov.setUint32(0, h0 >>> 0);
  ov.setUint32(4, h1 >>> 0);
  ov.setUint32(8, h2 >>> 0);
  ov.setUint32(12, h3 >>> 0);
  ov.setUint32(16, h4 >>> 0);
  return out;
}
