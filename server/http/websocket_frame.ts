/**
 * The WebSocket wire protocol (RFC 6455), sans-IO: frames, messages, close payloads.
 *
 * Contract (pure, synchronous; no sockets, no timers, imports nothing):
 * - `parseFrame(buf, options)` looks at the start of `buf` and returns
 *   `{kind: "frame", frame, consumed}` for one complete frame (its payload unmasked into a fresh
 *   array, so `buf` is never modified) or `{kind: "partial"}` when more bytes are needed. It throws
 *   a `WebSocketProtocolError` as soon as the bytes seen so far break a rule, so byte-by-byte
 *   input fails at the same byte as whole input: RSV bits set (RSV1 is allowed, as
 *   `compressed`, on the first frame of a data message when `allowCompressed` says that
 *   permessage-deflate was negotiated), an unknown opcode, an unmasked frame from a client (or a masked one from a server), a
 *   fragmented or oversized (> 125 bytes) control frame, a 64-bit length with its top bit set, a
 *   close payload of length 1 or with a code that may not be sent (all 1002), a close reason that
 *   is not UTF-8 (1007), and a data frame longer than `maxPayloadBytes` (1009, decided from the
 *   header alone, before any of the payload is buffered).
 * - `MessageAssembler.push(frame)` turns frames into events: a whole text/binary message once its
 *   final fragment arrived, or a ping/pong/close (control frames may arrive between fragments).
 *   It rejects a continuation without a started message and a new data frame inside a fragmented
 *   one (1002), a message whose total size passes the limit (1009) and text that is not valid
 *   UTF-8 (1007, checked with a fatal `TextDecoder` when the message is complete; a leading BOM is
 *   kept, it is data). A message whose first frame was `compressed` is handed, whole, to the
 *   `inflate` function the assembler was given (RFC 7692 §6.2) before the UTF-8 check; its
 *   errors (1009 for output over the limit, 1002 for bad data) propagate.
 * - `encodeFrame` builds a frame (unmasked unless a mask key is given: servers never mask);
 *   `encodeClosePayload`/`decodeClosePayload` handle the 2-byte code plus UTF-8 reason.
 * The opening handshake lives in `websocket_handshake.ts`.
 */
import { concatBytes } from "./bytes.ts";

/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = Object.freeze(
  {
    /** Continuation of a fragmented message. */
    CONTINUATION: 0x0,
    /** First (or only) frame of a text message. */
    TEXT: 0x1,
    /** First (or only) frame of a binary message. */
    BINARY: 0x2,
    /** Close control frame. */
    CLOSE: 0x8,
    /** Ping control frame. */
    PING: 0x9,
    /** Pong control frame. */
    PONG: 0xa,
  } as const,
);

/** Close codes used by the server (RFC 6455 §7.4.1). */
export const CloseCode = Object.freeze(
  {
    /** Normal closure. */
    NORMAL: 1000,
    /** The endpoint is going away (server shutdown, idle timeout). */
    GOING_AWAY: 1001,
    /** Protocol error. */
    PROTOCOL_ERROR: 1002,
    /** A data type the endpoint cannot accept. */
    UNSUPPORTED_DATA: 1003,
    /** Reserved: no status code was present (never sent on the wire). */
    NO_STATUS: 1005,
    /** Reserved: closed without a close frame (never sent on the wire). */
    ABNORMAL: 1006,
    /** Message data inconsistent with its type (invalid UTF-8 text). */
    INVALID_PAYLOAD: 1007,
    /** Policy violation. */
    POLICY_VIOLATION: 1008,
    /** A message too big to process. */
    MESSAGE_TOO_BIG: 1009,
    /** Unexpected condition on the server. */
    INTERNAL_ERROR: 1011,
  } as const,
);

/** The largest payload a control frame may carry. */
export const MAX_CONTROL_PAYLOAD = 125;

/** The largest close reason in bytes (125 minus the 2-byte code). */
export const MAX_CLOSE_REASON_BYTES = 123;

/** Bytes that violate RFC 6455; the connection must be closed with `closeCode`. */
export class WebSocketProtocolError extends Error {
  /** The close code to send: 1002 (protocol), 1007 (bad UTF-8) or 1009 (too big). */
  readonly closeCode: number;
  /** Creates an error; `message` is for logs and doubles as the close reason (≤ 123 bytes). */
  constructor(closeCode: number, message: string) {
    super(message);
    this.name = "WebSocketProtocolError";
    this.closeCode = closeCode;
  }
}

/** One parsed frame. */
export interface Frame {
  /** FIN bit: the last fragment of a message (always true for control frames). */
  readonly fin: boolean;
  /** The opcode (see `Opcode`). */
  readonly opcode: number;
  /** Whether the frame was masked on the wire. */
  readonly masked: boolean;
  /** The payload, unmasked, in a fresh array that starts at offset 0 of its own buffer. */
  readonly payload: Uint8Array<ArrayBuffer>;
  /** RSV1: the message this frame starts is compressed (permessage-deflate). */
  readonly compressed?: boolean;
}

/** Result of `parseFrame`. */
export type FrameResult =
  | { readonly kind: "frame"; readonly frame: Frame; readonly consumed: number }
  | { readonly kind: "partial" };

/** Options for `parseFrame`. */
export interface ParseFrameOptions {
  /**
   * True on a server: frames from clients must be masked. False on a client: frames from servers
   * must not be masked. Either violation is a 1002.
   */
  readonly expectMasked: boolean;
  /** Largest data-frame payload accepted (1009 beyond it); control frames are capped at 125. */
  readonly maxPayloadBytes?: number;
  /** permessage-deflate was negotiated: RSV1 marks a compressed message (default false). */
  readonly allowCompressed?: boolean;
}

const PARTIAL: FrameResult = Object.freeze({ kind: "partial" });
const EMPTY: Uint8Array<ArrayBuffer> = new Uint8Array(0);

function isControl(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

function isKnownOpcode(opcode: number): boolean {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}

/** Whether `code` may appear in a close frame on the wire (RFC 6455 §7.4, IANA registry). */
export function isValidCloseCode(code: number): boolean {
  return Number.isInteger(code) &&
    ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
      (code >= 3000 && code <= 4999));
}

/** Parses one frame from the start of `buf`; see the module comment. */
export function parseFrame(buf: Uint8Array, options: ParseFrameOptions): FrameResult {
  const n = buf.length;
  if (n < 1) return PARTIAL;
  const b0 = buf[0];
  const rsv = b0 & 0x70;
  if (rsv !== 0 && (rsv !== 0x40 || options.allowCompressed !== true)) {
    throw new WebSocketProtocolError(
      CloseCode.PROTOCOL_ERROR,
      "reserved bits set without a negotiated extension",
    );
  }
  const opcode = b0 & 0x0f;
  if (rsv !== 0 && (isControl(opcode) || opcode === Opcode.CONTINUATION)) {
    throw new WebSocketProtocolError(
      CloseCode.PROTOCOL_ERROR,
      "RSV1 set on a control or continuation frame",
    );
  }
  if (!isKnownOpcode(opcode)) {
    throw new WebSocketProtocolError(
      CloseCode.PROTOCOL_ERROR,
      `reserved opcode 0x${opcode.toString(16)}`,
    );
  }
  const fin = (b0 & 0x80) !== 0;
  const control = isControl(opcode);
  if (control && !fin) {
    throw new WebSocketProtocolError(CloseCode.PROTOCOL_ERROR, "fragmented control frame");
  }
  if (n < 2) return PARTIAL;
  const b1 = buf[1];
  const masked = (b1 & 0x80) !== 0;
  if (masked !== options.expectMasked) {
    throw new WebSocketProtocolError(
      CloseCode.PROTOCOL_ERROR,
      options.expectMasked ? "unmasked frame from a client" : "masked frame from a server",
    );
  }
  const len7 = b1 & 0x7f;
  if (control && len7 > MAX_CONTROL_PAYLOAD) {
    throw new WebSocketProtocolError(
      CloseCode.PROTOCOL_ERROR,
      "control frame payload over 125 bytes",
    );
  }
  let length: number;
  let offset: number;
  if (len7 < 126) {
    length = len7;
    offset = 2;
  } else if (len7 === 126) {
    if (n < 4) return PARTIAL;
    length = (buf[2] << 8) | buf[3];
    offset = 4;
  } else {
    if (n < 3) return PARTIAL;
    if ((buf[2] & 0x80) !== 0) {
      throw new WebSocketProtocolError(
        CloseCode.PROTOCOL_ERROR,
        "64-bit payload length with the top bit set",
      );
    }
    if (n < 10) return PARTIAL;
    const high = ((buf[2] << 24) >>> 0) + (buf[3] << 16) + (buf[4] << 8) + buf[5];
    const low = ((buf[6] << 24) >>> 0) + (buf[7] << 16) + (buf[8] << 8) + buf[9];
    length = high * 0x1_0000_0000 + low;
    offset = 10;
  }
  const max = options.maxPayloadBytes;
  if (!control && max !== undefined && length > max) {
    throw new WebSocketProtocolError(
      CloseCode.MESSAGE_TOO_BIG,
      `message over the ${max}-byte limit`,
    );
  }
  const maskAt = offset;
  if (masked) offset += 4;
  const end = offset + length;
  if (n < end) return PARTIAL;
  let payload: Uint8Array<ArrayBuffer>;
  if (length === 0) payload = EMPTY;
  else {
    payload = buf.slice(offset, end);
    if (masked) unmask(payload, buf, maskAt);
  }
  if (opcode === Opcode.CLOSE) checkClosePayload(payload);
  const frame: Frame = rsv === 0
    ? { fin, opcode, masked, payload }
    : { fin, opcode, masked, payload, compressed: true };
  return { kind: "frame", frame, consumed: end };
}

/** XORs `data` in place with the 4-byte key at `key[at..at+4]` (masking is its own inverse). */
export function unmask(data: Uint8Array, key: Uint8Array, at = 0): void {
  const k0 = key[at], k1 = key[at + 1], k2 = key[at + 2], k3 = key[at + 3];
  const len = data.length;
  let i = 0;
  if (len >= 64 && data.byteOffset % 4 === 0) {
    // Word at a time: the key's bytes in memory order form one 32-bit word.
    const words = new Uint32Array(data.buffer, data.byteOffset, len >>> 2);
    const kb = new Uint8Array([k0, k1, k2, k3]);
    const k = new Uint32Array(kb.buffer)[0];
    for (let w = 0; w < words.length; w++) words[w] ^= k;
    i = words.length << 2;
  }
  for (; i < len; i++) {
    switch (i & 3) {
      case 0:
        data[i] ^= k0;
        break;
      case 1:
        data[i] ^= k1;
        break;
      case 2:
        data[i] ^= k2;
        break;
      default:
        data[i] ^= k3;
    }
  }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function checkClosePayload(payload: Uint8Array): void {
  if (payload.length === 0) return;
  if (payload.length === 1) {
    throw new WebSocketProtocolError(CloseCode.PROTOCOL_ERROR, "close payload of 1 byte");
  }
  const code = (payload[0] << 8) | payload[1];
  if (!isValidCloseCode(code)) {
    throw new WebSocketProtocolError(CloseCode.PROTOCOL_ERROR, `invalid close code ${code}`);
  }
  try {
    strictUtf8.decode(payload.subarray(2));
  } catch {
    throw new WebSocketProtocolError(CloseCode.INVALID_PAYLOAD, "close reason is not valid UTF-8");
  }
}

/** A decoded close payload. */
export interface ClosePayload {
  /** The status code, or 1005 when the frame carried none. */
  readonly code: number;
  /** The UTF-8 reason ("" when absent). */
  readonly reason: string;
}

/** Decodes a close payload already checked by `parseFrame` (1005 for an empty payload). */
export function decodeClosePayload(payload: Uint8Array): ClosePayload {
  if (payload.length < 2) return { code: CloseCode.NO_STATUS, reason: "" };
  return {
    code: (payload[0] << 8) | payload[1],
    reason: strictUtf8.decode(payload.subarray(2)),
  };
}

const utf8 = new TextEncoder();

/**
 * Encodes a close payload: empty when `code` is undefined or 1005, else the code and the UTF-8
 * reason, truncated to 123 bytes at a character boundary. Throws `RangeError` for a code that may
 * not be sent.
 */
export function encodeClosePayload(code?: number, reason = ""): Uint8Array<ArrayBuffer> {
  if (code === undefined || code === CloseCode.NO_STATUS) return EMPTY;
  if (!isValidCloseCode(code)) throw new RangeError(`close code ${code} may not be sent`);
  let r = utf8.encode(reason);
  if (r.length > MAX_CLOSE_REASON_BYTES) {
    let cut = MAX_CLOSE_REASON_BYTES;
    while (cut > 0 && (r[cut] & 0xc0) === 0x80) cut--;
    r = r.subarray(0, cut);
  }
  const out = new Uint8Array(2 + r.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}

/** Options for `encodeFrame`. */
export interface EncodeFrameOptions {
  /** FIN bit (default true). */
  readonly fin?: boolean;
  /** A 4-byte masking key (clients only); without it the frame is unmasked. */
  readonly mask?: Uint8Array;
  /** Raw RSV bits (0..7) to set, for tests of invalid frames (default 0). */
  readonly rsv?: number;
}

/** Encodes one frame (header and payload in one fresh array); see the module comment. */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array = EMPTY,
  options: EncodeFrameOptions = {},
): Uint8Array<ArrayBuffer> {
  const len = payload.length;
  const mask = options.mask;
  const headerLen = (len < 126 ? 2 : len < 0x10000 ? 4 : 10) + (mask ? 4 : 0);
  const out = new Uint8Array(headerLen + len);
  out[0] = (options.fin === false ? 0 : 0x80) | ((options.rsv ?? 0) & 7) << 4 | (opcode & 0x0f);
  let o: number;
  if (len < 126) {
    out[1] = len;
    o = 2;
  } else if (len < 0x10000) {
    out[1] = 126;
    out[2] = len >> 8;
    out[3] = len & 0xff;
    o = 4;
  } else {
    out[1] = 127;
    const high = Math.floor(len / 0x1_0000_0000);
    out[2] = high >>> 24;
    out[3] = (high >>> 16) & 0xff;
    out[4] = (high >>> 8) & 0xff;
    out[5] = high & 0xff;
    out[6] = len >>> 24;
    out[7] = (len >>> 16) & 0xff;
    out[8] = (len >>> 8) & 0xff;
    out[9] = len & 0xff;
    o = 10;
  }
  if (mask) {
    out[1] |= 0x80;
    out.set(mask.subarray(0, 4), o);
    o += 4;
    out.set(payload, o);
    unmask(out.subarray(o), mask, 0);
  } else {
    out.set(payload, o);
  }
  return out;
}

/** What `MessageAssembler.push` yields. */
export type WebSocketEvent =
  | { readonly type: "text"; readonly data: string }
  | { readonly type: "binary"; readonly data: Uint8Array<ArrayBuffer> }
  | { readonly type: "ping"; readonly data: Uint8Array<ArrayBuffer> }
  | { readonly type: "pong"; readonly data: Uint8Array<ArrayBuffer> }
  | { readonly type: "close"; readonly code: number; readonly reason: string };

/** Reassembles fragmented messages and enforces the message size limit; see the module comment. */
export class MessageAssembler {
  readonly #max: number;
  #opcode = -1;
  #compressed = false;
  #parts: Uint8Array<ArrayBuffer>[] = [];
  #size = 0;
  /** Decompresses a whole compressed message (permessage-deflate), or null before one is set. */
  inflate: ((data: Uint8Array<ArrayBuffer>) => Uint8Array<ArrayBuffer>) | null = null;

  /** Creates an assembler that rejects messages over `maxMessageBytes` (1009). */
  constructor(maxMessageBytes: number) {
    this.#max = maxMessageBytes;
  }

  /** Bytes of the message in progress (0 between messages). */
  get pendingBytes(): number {
    return this.#size;
  }

  /** The payload room left for the next data frame before the limit is reached. */
  get remaining(): number {
    return this.#max - this.#size;
  }

  /** Whether a fragmented message is in progress. */
  get fragmented(): boolean {
    return this.#opcode !== -1;
  }

  /** Feeds one frame; returns an event, or `null` when a message is still incomplete. */
  push(frame: Frame): WebSocketEvent | null {
    const op = frame.opcode;
    switch (op) {
      case Opcode.PING:
        return { type: "ping", data: frame.payload };
      case Opcode.PONG:
        return { type: "pong", data: frame.payload };
      case Opcode.CLOSE: {
        const c = decodeClosePayload(frame.payload);
        return { type: "close", code: c.code, reason: c.reason };
      }
      case Opcode.CONTINUATION:
        if (this.#opcode === -1) {
          throw new WebSocketProtocolError(
            CloseCode.PROTOCOL_ERROR,
            "continuation frame without a started message",
          );
        }
        break;
      default:
        if (this.#opcode !== -1) {
          throw new WebSocketProtocolError(
            CloseCode.PROTOCOL_ERROR,
            "new data frame inside a fragmented message",
          );
        }
        this.#opcode = op;
        this.#compressed = frame.compressed === true;
    }
    this.#size += frame.payload.length;
    if (this.#size > this.#max) {
      throw new WebSocketProtocolError(
        CloseCode.MESSAGE_TOO_BIG,
        `message over the ${this.#max}-byte limit`,
      );
    }
    if (frame.payload.length > 0) this.#parts.push(frame.payload);
    if (!frame.fin) return null;
    let data = concatBytes(this.#parts) as Uint8Array<ArrayBuffer>;
    const opcode = this.#opcode;
    if (this.#compressed) {
      if (this.inflate === null) {
        throw new WebSocketProtocolError(CloseCode.PROTOCOL_ERROR, "compressed message");
      }
      data = this.inflate(data);
    }
    this.#opcode = -1;
    this.#parts = [];
    this.#size = 0;
    if (opcode === Opcode.BINARY) return { type: "binary", data };
    try {
      return { type: "text", data: strictUtf8.decode(data) };
    } catch {
      throw new WebSocketProtocolError(
        CloseCode.INVALID_PAYLOAD,
        "text message is not valid UTF-8",
      );
    }
  }
}
