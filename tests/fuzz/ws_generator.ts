/**
 * A seeded, deterministic generator of WebSocket client frame sequences for the WebSocket fuzz
 * runner (`tests/fuzz/ws_runner.ts`).
 *
 * Contract:
 * - `generateWsCase(seed, id)` depends only on its arguments: every case draws from its own
 *   mulberry32 stream derived from (seed, id) (`caseSeed` and `Rng` of tests/fuzz/common.ts, the
 *   seed salted), so case `id` can be rebuilt alone (`deno task fuzz --mode websocket --seed S
 *   --only ID`).
 * - A case is the valid opening handshake `HANDSHAKE` (to apps/websocket.ts, the echo app), then
 *   client frames built from a valid base of 1-5 items (text, binary, fragmented text or binary
 *   with a ping and sometimes a pong between fragments, ping, unsolicited pong; often ended by a
 *   close with a code and reason, a bare code or nothing) and 0-2 mutations: RSV bits, a reserved
 *   opcode, an unmasked frame, a fragmented or over-125-byte control frame (also a short one with
 *   a 16/64-bit length), a continuation without a start, a new data frame inside a fragmented
 *   message, invalid UTF-8 in a text message (bad byte, truncated sequence, surrogate, overlong,
 *   above U+10FFFF; whole or fragmented) or in a close reason, an invalid close code, a 1-byte
 *   close payload, a length over `WS_MAX_MESSAGE_BYTES` (a new message or a fragment that passes
 *   the limit), a 64-bit length with its top bit set, garbage after a close, random byte damage,
 *   truncation inside a frame, a non-minimal length encoding. Transport: whole, split at random
 *   points (half of them inside frame headers) or, for short inputs, byte by byte; sometimes sent
 *   with the handshake before the 101 ("eager"). Ending: half-close or close.
 * - Verdicts are certain by construction (the frames before the deciding one are valid; frames
 *   and bytes after it cannot change the outcome): "close:1002", "close:1007", "close:1009" when
 *   the first violating frame comes before any client Close (the server must send exactly that
 *   close code after the `replies` owed to the valid frames before it); "echo" when the stream is
 *   valid up to its end or up to a client Close (`replies`: every message echoed, every ping
 *   ponged, in order, and the Close payload sent back); "any" when byte damage, a truncation or a
 *   non-minimal length (which RFC 6455 forbids but a server may accept) lies before that point.
 *   The server must run with `WS_MAX_MESSAGE_BYTES` as its message limit. Valid text never starts
 *   with "!" (the echo app reads "!close ..." as a command).
 */
import { concatBytes } from "../server/http/_helpers.ts";
import { caseSeed, pickDelivery, pickWeighted, Rng } from "./common.ts";

/** The message limit the server under test must run with (70,000: all three length forms). */
export const WS_MAX_MESSAGE_BYTES = 70_000;

/** The handshake's key (the RFC 6455 sample nonce). */
export const WS_KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** The `Sec-WebSocket-Accept` the server must answer `WS_KEY` with. */
export const WS_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

const enc = new TextEncoder();

/** The opening handshake every case starts with. */
export const HANDSHAKE: Uint8Array = enc.encode(
  [
    "GET / HTTP/1.1",
    "Host: fuzz",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${WS_KEY}`,
    "Sec-WebSocket-Version: 13",
    "",
    "",
  ].join("\r\n"),
);

/** Frame opcodes. */
export const Op = Object.freeze({ CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 });

/** What the server must do with a case (see the module comment). */
export type WsVerdict = "echo" | "close:1002" | "close:1007" | "close:1009" | "any";

/** How the frames reach the server. */
export type WsDelivery = "whole" | "split" | "bytewise";

/** How the client ends: half-close (then read until the server closes) or close. */
export type WsEnding = "halfclose" | "close";

/** A frame the server owes: its opcode and (unmasked) payload. */
export interface ServerFrame {
  /** Opcode (text, binary, pong or close). */
  readonly opcode: number;
  /** Payload bytes. */
  readonly payload: Uint8Array;
}

/** One WebSocket fuzz case. */
export interface WsCase {
  /** Case number within the run. */
  readonly id: number;
  /** The first mutation ("valid" when none): the summary groups by it. */
  readonly kind: string;
  /** Every mutation applied, in order. */
  readonly mutations: readonly string[];
  /** The base items, joined by "+". */
  readonly base: string;
  /** The client frames (sent after `HANDSHAKE`). */
  readonly bytes: Uint8Array;
  /** Whether the frames go out with the handshake, before the 101 arrived. */
  readonly eager: boolean;
  /** Delivery mode. */
  readonly delivery: WsDelivery;
  /** Cut points (ascending offsets into `bytes`) for "split" delivery. */
  readonly cuts: readonly number[];
  /** How the client ends the connection. */
  readonly ending: WsEnding;
  /** The expected verdict. */
  readonly verdict: WsVerdict;
  /** Frames the server owes, in order ("echo": all of them; "close:N": those before its Close). */
  readonly replies: readonly ServerFrame[];
}

/** A client frame before encoding. */
interface CFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  mask: Uint8Array;
  /** The payload bytes written (unmasked form). */
  payload: Uint8Array;
  /** Length encoding: minimal, or forced 16-bit / 64-bit. */
  form: "min" | 16 | 64;
  /** The length written in the header when it is not `payload.length`. */
  declared?: number;
  /** Set the top bit of a 64-bit length. */
  msb?: boolean;
  /** This frame breaks the protocol: the server must close with this code. */
  violation?: 1002 | 1007 | 1009;
}

/** Encodes one client frame exactly as described (this generator's own encoder). */
function encode(f: CFrame): Uint8Array {
  const len = f.declared ?? f.payload.length;
  const form = f.form !== "min" ? f.form : len < 126 ? 7 : len < 0x10000 ? 16 : 64;
  const head: number[] = [(f.fin ? 0x80 : 0) | ((f.rsv & 7) << 4) | (f.opcode & 0xf)];
  const m = f.masked ? 0x80 : 0;
  if (form === 7) head.push(m | len);
  else if (form === 16) head.push(m | 126, (len >> 8) & 0xff, len & 0xff);
  else {
    const hi = Math.floor(len / 0x1_0000_0000);
    head.push(m | 127, (hi >>> 24) & 0xff, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff);
    head.push(len >>> 24 & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
    if (f.msb) head[2] |= 0x80;
  }
  if (f.masked) head.push(...f.mask);
  const body = f.payload.slice();
  if (f.masked) { for (let i = 0; i < body.length; i++) body[i] ^= f.mask[i & 3]; }
  return concatBytes(Uint8Array.from(head), body);
}

function frame(r: Rng, opcode: number, payload: Uint8Array, fin = true): CFrame {
  const mask = r.chance(0.1) ? new Uint8Array(4) : r.bytes(4);
  return { fin, rsv: 0, opcode, masked: true, mask, payload, form: "min" };
}

// ---- Payloads --------------------------------------------------------------------------------

/** UTF-8 of one code point (this generator's own encoder; no surrogates are passed in). */
function utf8(cp: number): number[] {
  if (cp < 0x80) return [cp];
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 0x3f)];
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
  return [
    0xf0 | (cp >> 18),
    0x80 | ((cp >> 12) & 0x3f),
    0x80 | ((cp >> 6) & 0x3f),
    0x80 | (cp & 0x3f),
  ];
}

/** Valid UTF-8 of exactly `n` bytes (mixed 1-4 byte characters, sometimes a leading BOM). */
function validText(r: Rng, n: number): Uint8Array {
  const out: number[] = [];
  if (n >= 3 && r.chance(0.05)) out.push(0xef, 0xbb, 0xbf);
  const wide = r.chance(0.6);
  while (out.length < n) {
    const left = n - out.length;
    const roll = wide ? r.float() : 0;
    let cp: number;
    if (roll < 0.7 || left < 4) cp = r.chance(0.05) ? r.int(0x20) : r.range(0x20, 0x7e);
    else if (roll < 0.8) cp = r.range(0x80, 0x7ff);
    else if (roll < 0.92) {
      cp = r.range(0x800, 0xffff);
      if (cp >= 0xd800 && cp <= 0xdfff) cp -= 0x800;
    } else cp = r.range(0x10000, 0x10ffff);
    if (out.length === 0 && cp === 0x21) cp = 0x61; // never "!": "!close" is an app command
    out.push(...utf8(cp));
  }
  return Uint8Array.from(out);
}

/** Offsets in valid UTF-8 `b` where a character starts (and the end). */
function charStarts(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i <= b.length; i++) if (i === b.length || (b[i] & 0xc0) !== 0x80) out.push(i);
  return out;
}

/** Byte sequences a strict UTF-8 decoder must refuse, by kind. */
const BAD_UTF8: ReadonlyArray<readonly [string, readonly number[]]> = [
  ["bad-byte", [0xff]],
  ["bad-byte", [0xfe]],
  ["bad-byte", [0xc0]],
  ["bad-byte", [0xf5, 0x80, 0x80, 0x80]],
  ["lone-continuation", [0x80]],
  ["lone-continuation", [0xbf, 0xbf]],
  ["truncated", [0xe2, 0x82]],
  ["truncated", [0xf0, 0x9f, 0x98]],
  ["truncated", [0xc3]],
  ["surrogate", [0xed, 0xa0, 0x80]],
  ["surrogate", [0xed, 0xbf, 0xbf]],
  ["overlong", [0xc0, 0xaf]],
  ["overlong", [0xc1, 0xbf]],
  ["overlong", [0xe0, 0x80, 0xaf]],
  ["overlong", [0xf0, 0x80, 0x80, 0xaf]],
  ["above-max", [0xf4, 0x90, 0x80, 0x80]],
];

/** Valid UTF-8 of about `n` bytes with one invalid sequence at a character boundary. */
function invalidText(r: Rng, n: number): { bytes: Uint8Array; how: string } {
  const [how, bad] = r.pick(BAD_UTF8);
  const text = validText(r, Math.max(0, n - bad.length));
  const at = r.pick(charStarts(text));
  return { bytes: concatBytes(text.subarray(0, at), Uint8Array.from(bad), text.subarray(at)), how };
}

/** A data message size: mostly small, sometimes 16-bit, rarely 64-bit or exactly the limit. */
function dataSize(r: Rng): number {
  const roll = r.float();
  if (roll < 0.35) return r.int(21);
  if (roll < 0.65) return r.range(21, 125);
  if (roll < 0.85) return r.range(126, 1024);
  if (roll < 0.95) return r.range(1025, 0xffff);
  if (roll < 0.99) return r.range(0x10000, WS_MAX_MESSAGE_BYTES);
  return WS_MAX_MESSAGE_BYTES;
}

/** Close codes a client may send. */
const VALID_CODES = [1000, 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1014, 3000];
/** Close codes that may not appear on the wire. */
const INVALID_CODES = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];

function closePayload(code: number, reason: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.from([code >> 8, code & 0xff]), reason);
}

// ---- Base items ------------------------------------------------------------------------------

/** Splits `payload` into fragments with control frames between (at least one ping). */
function fragments(r: Rng, opcode: number, payload: Uint8Array): CFrame[] {
  const n = r.range(2, 4);
  const cuts = new Set<number>();
  for (let k = 0; k < n - 1; k++) cuts.add(r.int(payload.length + 1));
  const at = [0, ...[...cuts].sort((a, b) => a - b), payload.length];
  const out: CFrame[] = [];
  let pinged = false;
  for (let i = 0; i + 1 < at.length; i++) {
    const last = i + 2 === at.length;
    out.push(frame(r, i === 0 ? opcode : Op.CONT, payload.slice(at[i], at[i + 1]), last));
    if (!last && (r.chance(0.5) || (!pinged && i + 3 === at.length))) {
      out.push(frame(r, Op.PING, r.bytes(r.int(20))));
      pinged = true;
    }
    if (!last && r.chance(0.15)) out.push(frame(r, Op.PONG, r.bytes(r.int(8))));
  }
  return out;
}

type Item = { name: string; frames: CFrame[] };

function baseItem(r: Rng): Item {
  const roll = r.int(100);
  if (roll < 30) return { name: "text", frames: [frame(r, Op.TEXT, validText(r, dataSize(r)))] };
  if (roll < 50) return { name: "binary", frames: [frame(r, Op.BINARY, r.bytes(dataSize(r)))] };
  if (roll < 68) {
    return { name: "frag-text", frames: fragments(r, Op.TEXT, validText(r, dataSize(r))) };
  }
  if (roll < 76) {
    return { name: "frag-binary", frames: fragments(r, Op.BINARY, r.bytes(dataSize(r))) };
  }
  if (roll < 94) {
    return { name: "ping", frames: [frame(r, Op.PING, r.bytes(r.chance(0.1) ? 125 : r.int(40)))] };
  }
  return { name: "pong", frames: [frame(r, Op.PONG, r.bytes(r.int(30)))] };
}

function closeItem(r: Rng): Item {
  const roll = r.float();
  let payload: Uint8Array;
  if (roll < 0.15) payload = new Uint8Array(0);
  else if (roll < 0.35) payload = closePayload(r.pick(VALID_CODES), new Uint8Array(0));
  else {
    const code = r.chance(0.2) ? r.range(3000, 4999) : r.pick(VALID_CODES);
    payload = closePayload(code, validText(r, r.chance(0.1) ? 123 : r.int(30)));
  }
  return { name: "close", frames: [frame(r, Op.CLOSE, payload)] };
}

// ---- The reference model ---------------------------------------------------------------------

/** Where the outcome is decided: the first violating frame or client Close (or the end). */
function decisive(frames: readonly CFrame[]): number {
  const i = frames.findIndex((f) => f.violation !== undefined || f.opcode === Op.CLOSE);
  return i < 0 ? frames.length : i;
}

/** The fragment state after `frames[0..k)` (all valid): inside a message, and its bytes so far. */
function stateAt(frames: readonly CFrame[], k: number): { inFragment: boolean; pending: number } {
  let inFragment = false;
  let pending = 0;
  for (let i = 0; i < k; i++) {
    const f = frames[i];
    if (f.opcode >= 8) continue;
    if (f.opcode !== Op.CONT) pending = 0;
    pending += f.payload.length;
    inFragment = !f.fin;
    if (f.fin) pending = 0;
  }
  return { inFragment, pending };
}

/** What the server owes for the valid frames `frames[0..k)`: echoes and pongs, in order. */
function repliesTo(frames: readonly CFrame[], k: number): ServerFrame[] {
  const out: ServerFrame[] = [];
  let op = -1;
  let parts: Uint8Array[] = [];
  for (let i = 0; i < k; i++) {
    const f = frames[i];
    if (f.opcode === Op.PING) out.push({ opcode: Op.PONG, payload: f.payload });
    else if (f.opcode === Op.TEXT || f.opcode === Op.BINARY || f.opcode === Op.CONT) {
      if (f.opcode !== Op.CONT) {
        op = f.opcode;
        parts = [];
      }
      parts.push(f.payload);
      if (f.fin) out.push({ opcode: op, payload: concatBytes(...parts) });
    }
  }
  return out;
}

// ---- Frame mutations (each inserts or turns one frame into a violation) -----------------------

/** Insertion points up to the decisive frame, with their fragment state. */
function points(frames: readonly CFrame[]): Point[] {
  const out: Point[] = [];
  for (let k = 0; k <= decisive(frames); k++) out.push({ k, ...stateAt(frames, k) });
  return out;
}

interface Point {
  readonly k: number;
  readonly inFragment: boolean;
  readonly pending: number;
}

function pickPoint(r: Rng, frames: CFrame[], want?: boolean): Point {
  const ps = points(frames).filter((p) => want === undefined || p.inFragment === want);
  if (ps.length > 0) return r.pick(ps);
  // None inside a message: start one (a valid first fragment) at an outside point.
  const at = r.pick(points(frames).filter((p) => !p.inFragment)).k;
  const first = frame(r, r.pick([Op.TEXT, Op.BINARY]), validText(r, r.int(200)), false);
  frames.splice(at, 0, first);
  return { k: at + 1, inFragment: true, pending: first.payload.length };
}

/** An existing frame before or at the decisive one, or -1. */
function pickFrame(r: Rng, frames: CFrame[]): number {
  const d = decisive(frames);
  const n = Math.min(d + 1, frames.length);
  return n === 0 ? -1 : r.int(n);
}

function smallFrame(r: Rng, opcode: number): CFrame {
  return frame(r, opcode, r.bytes(r.int(30)), opcode >= 8 ? true : r.chance(0.7));
}

type FrameMutator = (r: Rng, frames: CFrame[]) => void;

const rsvBits: FrameMutator = (r, frames) => {
  const i = pickFrame(r, frames);
  if (i >= 0 && r.chance(0.6)) {
    frames[i].rsv = r.range(1, 7);
    frames[i].violation = 1002;
    return;
  }
  const f = smallFrame(r, r.pick([Op.TEXT, Op.BINARY, Op.PING, Op.CONT]));
  f.rsv = r.range(1, 7);
  f.violation = 1002;
  frames.splice(pickPoint(r, frames).k, 0, f);
};

const reservedOpcode: FrameMutator = (r, frames) => {
  const op = r.pick([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]);
  const i = pickFrame(r, frames);
  if (i >= 0 && r.chance(0.4)) {
    frames[i].opcode = op;
    frames[i].violation = 1002;
    return;
  }
  const f = smallFrame(r, op);
  f.fin = r.chance(0.7);
  f.violation = 1002;
  frames.splice(pickPoint(r, frames).k, 0, f);
};

const unmasked: FrameMutator = (r, frames) => {
  const i = pickFrame(r, frames);
  if (i >= 0 && r.chance(0.6)) {
    frames[i].masked = false;
    frames[i].violation = 1002;
    return;
  }
  const f = smallFrame(r, r.pick([Op.TEXT, Op.BINARY, Op.PING, Op.PONG]));
  f.masked = false;
  f.violation = 1002;
  frames.splice(pickPoint(r, frames).k, 0, f);
};

const controlFragmented: FrameMutator = (r, frames) => {
  const op = r.pick([Op.PING, Op.PONG, Op.CLOSE]);
  const payload = op === Op.CLOSE
    ? closePayload(1000, validText(r, r.int(10)))
    : r.bytes(r.int(20));
  const f = frame(r, op, payload, false);
  f.violation = 1002;
  frames.splice(pickPoint(r, frames).k, 0, f);
};

const controlLong: FrameMutator = (r, frames) => {
  const op = r.pick([Op.PING, Op.PONG, Op.CLOSE]);
  const short = r.chance(0.3);
  const n = short ? r.int(126) : r.range(126, 400);
  const payload = op === Op.CLOSE && n >= 2 ? closePayload(1000, validText(r, n - 2)) : r.bytes(n);
  const f = frame(r, op, payload);
  if (short) f.form = r.pick([16, 64] as const); // a 16/64-bit length marker: over 125 either way
  f.violation = 1002;
  frames.splice(pickPoint(r, frames).k, 0, f);
};

const continuationWithoutStart: FrameMutator = (r, frames) => {
  const f = smallFrame(r, Op.CONT);
  f.violation = 1002;
  frames.splice(pickPoint(r, frames, false).k, 0, f);
};

const dataInFragment: FrameMutator = (r, frames) => {
  const { k, pending } = pickPoint(r, frames, true);
  const room = WS_MAX_MESSAGE_BYTES - pending;
  const f = frame(r, r.pick([Op.TEXT, Op.BINARY]), validText(r, Math.min(room, r.int(20))));
  f.fin = r.chance(0.7);
  f.violation = 1002;
  frames.splice(k, 0, f);
};

const badUtf8Text: FrameMutator = (r, frames) => {
  const { bytes } = invalidText(r, Math.min(dataSize(r), WS_MAX_MESSAGE_BYTES - 4));
  const fs = r.chance(0.5) ? [frame(r, Op.TEXT, bytes)] : fragments(r, Op.TEXT, bytes);
  fs[fs.length - 1].violation = 1007;
  frames.splice(pickPoint(r, frames, false).k, 0, ...fs);
};

const badUtf8Close: FrameMutator = (r, frames) => {
  const { bytes } = invalidText(r, r.int(40));
  const f = frame(r, Op.CLOSE, closePayload(r.pick(VALID_CODES), bytes));
  f.violation = 1007;
  frames.splice(pickPoint(r, frames).k, 0, f);
};

const badCloseCode: FrameMutator = (r, frames) => {
  const reason = r.chance(0.5) ? validText(r, r.int(20)) : new Uint8Array(0);
  const f = frame(r, Op.CLOSE, closePayload(r.pick(INVALID_CODES), reason));
  f.violation = 1002;
  frames.splice(pickPoint(r, frames).k, 0, f);
};

const closeOneByte: FrameMutator = (r, frames) => {
  const f = frame(r, Op.CLOSE, r.bytes(1));
  f.violation = 1002;
  frames.splice(pickPoint(r, frames).k, 0, f);
};

const tooBig: FrameMutator = (r, frames) => {
  const inside = r.chance(0.4);
  const { k, pending } = pickPoint(r, frames, inside);
  const room = WS_MAX_MESSAGE_BYTES - pending;
  const declared = r.chance(0.6)
    ? room + r.range(1, 2000)
    : r.pick([2 ** 31, 2 ** 32 + 5, 2 ** 40, Number.MAX_SAFE_INTEGER, room + 65536]);
  const f = frame(r, inside ? Op.CONT : r.pick([Op.TEXT, Op.BINARY]), r.bytes(r.int(200)));
  f.fin = r.chance(0.7);
  f.declared = declared;
  f.violation = 1009;
  frames.splice(k, 0, f);
};

const msb64: FrameMutator = (r, frames) => {
  const { k, inFragment } = pickPoint(r, frames);
  const f = frame(r, inFragment ? Op.CONT : r.pick([Op.TEXT, Op.BINARY]), r.bytes(r.int(20)));
  f.form = 64;
  f.declared = r.chance(0.5) ? f.payload.length : r.int(2 ** 31);
  f.msb = true;
  f.violation = 1002;
  frames.splice(k, 0, f);
};

/** A valid data frame before the decisive point re-encoded with a longer length form. */
const nonMinimal: FrameMutator = (r, frames) => {
  const d = decisive(frames);
  const data = frames.slice(0, d).filter((f) => f.opcode < 8 && f.payload.length < 0x10000);
  if (data.length === 0) return;
  const f = r.pick(data);
  f.form = f.payload.length < 126 && r.chance(0.5) ? 16 : 64;
};

// ---- Byte mutations (after encoding) ----------------------------------------------------------

interface Encoded {
  bytes: Uint8Array;
  starts: number[];
  ends: number[];
  /** Bytes from here on cannot change the verdict (Infinity: every byte counts). */
  safeFrom: number;
  certain: boolean;
}

function damage(r: Rng, e: Encoded): void {
  let b: Uint8Array = e.bytes.slice();
  const n = r.range(1, 4);
  for (let k = 0; k < n && b.length > 0; k++) {
    const at = r.int(b.length);
    const op = r.int(4);
    if (at < e.safeFrom) e.certain = false;
    if (op === 0) b[at] ^= 1 << r.int(8);
    else if (op === 1) b[at] = r.int(256);
    else if (op === 2) b = concatBytes(b.subarray(0, at), b.subarray(at + r.range(1, 8)));
    else b = concatBytes(b.subarray(0, at), r.bytes(r.range(1, 6)), b.subarray(at));
  }
  e.bytes = b;
}

function truncate(r: Rng, e: Encoded): void {
  const i = r.int(e.starts.length);
  const start = e.starts[i];
  const end = e.ends[i];
  const cut = end - start > 1 ? r.range(start + 1, end - 1) : start + 1;
  if (cut < e.safeFrom) e.certain = false;
  e.bytes = e.bytes.subarray(0, Math.min(cut, e.bytes.length));
}

function garbageTail(r: Rng, e: Encoded): void {
  const n = r.range(1, 300);
  const tail = r.chance(0.5)
    ? r.bytes(n)
    : encode(frame(r, r.pick([Op.TEXT, Op.PING, Op.CLOSE, 3, Op.CONT]), r.bytes(n % 100)));
  if (e.bytes.length < e.safeFrom) e.certain = false;
  e.bytes = concatBytes(e.bytes, tail);
}

// ---- Case assembly ---------------------------------------------------------------------------

const FRAME_MUTATORS: ReadonlyArray<readonly [string, number, FrameMutator]> = [
  ["rsv", 6, rsvBits],
  ["opcode", 6, reservedOpcode],
  ["unmasked", 6, unmasked],
  ["control-fragmented", 5, controlFragmented],
  ["control-long", 5, controlLong],
  ["continuation", 5, continuationWithoutStart],
  ["data-in-fragment", 5, dataInFragment],
  ["bad-utf8-text", 8, badUtf8Text],
  ["bad-utf8-close", 5, badUtf8Close],
  ["bad-close-code", 5, badCloseCode],
  ["close-1byte", 3, closeOneByte],
  ["too-big", 7, tooBig],
  ["msb64", 4, msb64],
  ["non-minimal", 3, nonMinimal],
];
const BYTE_MUTATORS: ReadonlyArray<readonly [string, number, (r: Rng, e: Encoded) => void]> = [
  ["damage", 9, damage],
  ["truncate", 7, truncate],
  ["garbage-after", 5, garbageTail],
];
const VALID_WEIGHT = 20;
const ALL: ReadonlyArray<readonly [string, number]> = [
  ["valid", VALID_WEIGHT],
  ...FRAME_MUTATORS.map(([k, w]) => [k, w] as const),
  ...BYTE_MUTATORS.map(([k, w]) => [k, w] as const),
];

/** Names of every first-mutation kind, in a stable order. */
export const WS_KINDS: readonly string[] = ALL.map(([k]) => k);

/** Encodes frames and decides the verdict and replies (before any byte mutation). */
function encodeAll(
  frames: readonly CFrame[],
): Encoded & { verdict: WsVerdict; replies: ServerFrame[] } {
  const parts = frames.map(encode);
  const starts: number[] = [];
  const ends: number[] = [];
  let at = 0;
  for (const p of parts) {
    starts.push(at);
    at += p.length;
    ends.push(at);
  }
  const d = decisive(frames);
  const replies = repliesTo(frames, d);
  let verdict: WsVerdict = "echo";
  if (d < frames.length) {
    const f = frames[d];
    if (f.violation !== undefined) verdict = `close:${f.violation}`;
    else replies.push({ opcode: Op.CLOSE, payload: f.payload });
  }
  return {
    bytes: concatBytes(...parts),
    starts,
    ends,
    safeFrom: d < frames.length ? ends[d] : Infinity,
    certain: true,
    verdict,
    replies,
  };
}

/** Builds case `id` of the run seeded with `seed` (see the module comment). */
export function generateWsCase(seed: number, id: number): WsCase {
  const r = new Rng(caseSeed(seed ^ 0x5753, id));
  const items: Item[] = [];
  for (let n = r.range(1, 5); n > 0; n--) items.push(baseItem(r));
  if (r.chance(0.55)) items.push(closeItem(r));
  const mutations: string[] = [];
  const [first] = pickWeighted(r, ALL);
  if (first !== "valid") mutations.push(first);
  if (first !== "valid" && r.chance(0.3)) mutations.push(r.pick(WS_KINDS.slice(1)));
  if (mutations.includes("garbage-after") && items[items.length - 1].name !== "close") {
    items.push(closeItem(r)); // garbage after a close
  }
  const frames = items.flatMap((it) => it.frames);
  for (const m of mutations) FRAME_MUTATORS.find(([k]) => k === m)?.[2](r, frames);
  const e = encodeAll(frames);
  for (const m of mutations) BYTE_MUTATORS.find(([k]) => k === m)?.[2](r, e);
  // A non-minimal length before the decisive frame: RFC 6455 forbids it, a server may accept it.
  const nonMinimalEarly = frames.slice(0, decisive(frames)).some((f) => f.form !== "min");
  const verdict: WsVerdict = e.certain && !nonMinimalEarly ? e.verdict : "any";
  const bytes = e.bytes;
  const { delivery, cuts } = pickDelivery(
    r,
    bytes.length,
    { bytewise: 0.04, split: 0.35, maxCuts: 5 },
    () => r.chance(0.5) ? r.pick(e.starts) + r.range(1, 3) : r.range(1, bytes.length - 1),
  );
  return {
    id,
    kind: mutations[0] ?? "valid",
    mutations,
    base: items.map((it) => it.name).join("+"),
    bytes,
    eager: r.chance(0.2),
    delivery,
    cuts,
    ending: r.chance(0.5) ? "halfclose" : "close",
    verdict,
    replies: verdict === "any" ? [] : e.replies,
  };
}

/**
 * A known-good case for health checks: the text messages `texts`, a binary message, a ping, then
 * a close 1000 "bye"; verdict "echo".
 */
export function roundTripCase(texts: readonly string[], id = -1): WsCase {
  const r = new Rng(caseSeed(0x5753, id >>> 0));
  const frames = [
    ...texts.map((t) => frame(r, Op.TEXT, enc.encode(t))),
    frame(r, Op.BINARY, Uint8Array.from([0, 1, 2, 255])),
    frame(r, Op.PING, enc.encode("health")),
    frame(r, Op.CLOSE, closePayload(1000, enc.encode("bye"))),
  ];
  const e = encodeAll(frames);
  return {
    id,
    kind: "health",
    mutations: [],
    base: "health",
    bytes: e.bytes,
    eager: false,
    delivery: "whole",
    cuts: [],
    ending: "close",
    verdict: "echo",
    replies: e.replies,
  };
}
