/**
 * permessage-deflate (RFC 7692) for one server WebSocket: decompressing the client's messages and
 * compressing the server's, with `node:zlib`. Loaded only when a handshake agreed to it (the
 * agreement itself is `server/http/websocket_extensions.ts`), so sockets without compression and
 * servers without WebSockets never load zlib.
 *
 * Contract:
 * - `new PerMessageDeflate(agreement, maxMessageBytes)` is the codec of one socket.
 * - `inflate(payload)` decompresses one whole message (its frames' payloads joined): the 4 bytes
 *   `00 00 ff ff` that the sender removed are put back (§7.2.2) and the data inflated in one
 *   synchronous call. The client's context takeover (browsers use it) is honoured by keeping the
 *   last 2^`clientWindowBits` bytes of the messages it sent, which its later messages may refer
 *   back to, and putting them in front of the message as one uncompressed (stored) deflate
 *   block: zlib then holds exactly the LZ77 window a streaming decompressor would, and those
 *   bytes are cut from the output. (zlib's preset dictionary would do the same, but Deno's
 *   `node:zlib` ignores the `dictionary` option for raw streams; checked.) With
 *   `client_no_context_takeover` nothing is kept. Output over `maxMessageBytes` stops zlib and
 *   throws `WebSocketProtocolError` 1009 (a small frame cannot expand into more memory than the
 *   limit); data zlib rejects throws 1002.
 * - `encode(opcode, payload)` returns the frame to send: compressed (RSV1 set) when the payload is
 *   at least `MIN_COMPRESS_BYTES` and its compressed form is smaller, else a plain frame (a
 *   message may always be sent uncompressed, §6). Each message is compressed on its own
 *   (`server_no_context_takeover`), with the agreed window.
 * - Memory: at most 2^`clientWindowBits` bytes (32 KiB) kept per socket, and only when the client
 *   takes its context over; zlib's working memory exists only during a call.
 */
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { CloseCode, encodeFrame, WebSocketProtocolError } from "./http/websocket_frame.ts";
import type { DeflateAgreement } from "./http/websocket_extensions.ts";
import type { MessageCodec } from "./websocket_options.ts";

/** Payloads shorter than this are sent uncompressed (compressing them gains nothing). */
export const MIN_COMPRESS_BYTES = 64;

/** The empty stored block a sync flush ends with, removed by the sender (RFC 7692 §7.2.1). */
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
/** Bit 6 of the first header byte: RSV1, as `encodeFrame`'s `rsv` option counts it. */
const RSV1 = 4;

function view(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength);
}

function endsWithTail(z: Uint8Array): boolean {
  const at = z.length - TAIL.length;
  return at >= 0 && z[at] === 0 && z[at + 1] === 0 && z[at + 2] === 0xff && z[at + 3] === 0xff;
}

/** One socket's permessage-deflate codec; see the module comment. */
export class PerMessageDeflate implements MessageCodec {
  /** The `Sec-WebSocket-Extensions` value agreed on (what `WebSocket.extensions` reports). */
  readonly response: string;
  readonly #max: number;
  readonly #windowBytes: number;
  readonly #serverBits: number;
  #window: Uint8Array | null = null;

  /** Creates the codec of one socket from its handshake's agreement. */
  constructor(agreement: DeflateAgreement, maxMessageBytes: number) {
    this.response = agreement.response;
    this.#max = Math.max(1, maxMessageBytes);
    this.#windowBytes = agreement.clientNoContextTakeover ? 0 : 2 ** agreement.clientWindowBits;
    this.#serverBits = agreement.serverWindowBits;
  }

  /** Decompresses one whole message; see the module comment. */
  inflate(payload: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
    const window = this.#window;
    const kept = window?.length ?? 0;
    // A stored block (BFINAL 0, BTYPE 00, then LEN and its complement) carrying the window.
    const pre = kept === 0 ? 0 : 5 + kept;
    const input = new Uint8Array(pre + payload.length + TAIL.length);
    if (window !== null && kept > 0) {
      const nlen = ~kept & 0xffff;
      input.set([0, kept & 0xff, kept >> 8, nlen & 0xff, nlen >> 8]);
      input.set(window, 5);
    }
    input.set(payload, pre);
    input.set(TAIL, pre + payload.length);
    let out: Uint8Array;
    try {
      out = inflateRawSync(input, {
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: this.#max + kept,
      }).subarray(kept);
    } catch (err) {
      if ((err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
        throw new WebSocketProtocolError(
          CloseCode.MESSAGE_TOO_BIG,
          `message over the ${this.#max}-byte limit once decompressed`,
        );
      }
      throw new WebSocketProtocolError(
        CloseCode.PROTOCOL_ERROR,
        `compressed message cannot be decompressed: ${(err as Error).message}`,
      );
    }
    if (this.#windowBytes > 0) this.#remember(out);
    return view(out);
  }

  /** Keeps the last `#windowBytes` of everything decompressed so far. */
  #remember(out: Uint8Array): void {
    const keep = this.#windowBytes;
    if (out.length >= keep) {
      this.#window = out.slice(out.length - keep);
      return;
    }
    const old = this.#window ?? new Uint8Array(0);
    const fromOld = Math.min(old.length, keep - out.length);
    const next = new Uint8Array(fromOld + out.length);
    next.set(old.subarray(old.length - fromOld));
    next.set(out, fromOld);
    this.#window = next;
  }

  /** The frame that carries a message; see the module comment. */
  encode(opcode: number, payload: Uint8Array): Uint8Array<ArrayBuffer> {
    if (payload.length >= MIN_COMPRESS_BYTES) {
      const z = deflateRawSync(payload, {
        finishFlush: constants.Z_SYNC_FLUSH,
        windowBits: this.#serverBits,
      });
      const size = z.length - TAIL.length;
      if (size < payload.length && endsWithTail(z)) {
        return encodeFrame(opcode, z.subarray(0, size), { rsv: RSV1 });
      }
    }
    return encodeFrame(opcode, payload);
  }
}
