/**
 * WebSocket message assembly: bytes read from the peer become whole messages and control frames.
 *
 * Contract (pure: no I/O):
 * - `InboundFrames` owns the receive buffer. The reader writes into `writable()` and `commit(n)`s
 *   what arrived; `next()` then parses one frame at a time (client frames must be masked,
 *   RFC 6455 §5.1), reassembles fragments, and returns the next complete event (`text`,
 *   `binary`, `ping`, `pong`, `close`), or null when more bytes are needed.
 * - A message over `maxMessageBytes` is refused from its frame header, before its payload is
 *   buffered; that and every other violation throws `WebSocketProtocolError` (with its close
 *   code: 1002, 1007 or 1009).
 * - The buffer starts at `idleBytes` and asks for `READ_SIZE` only once a read filled it, as an
 *   HTTP connection's does (`server/http/receive_buffer.ts`); `release()` (the socket closed)
 *   returns idle-sized storage to that module's pool. A 64 KiB buffer per socket from the start
 *   was ~4x the socket's heap, and its external memory made V8 collect garbage at every few
 *   sockets under connect/close churn (about a hundred full collections a second).
 * - `useCodec(codec)` (permessage-deflate was agreed) lets frames carry RSV1 and inflates the
 *   messages they start (`server/websocket_deflate.ts`); without it RSV1 is a 1002.
 * - `messageData(bytes, binaryType)` is what a `message` event carries for a binary message.
 */
import { ReceiveBuffer } from "./http/receive_buffer.ts";
import { MessageAssembler, parseFrame, type WebSocketEvent } from "./http/websocket_frame.ts";
import type { MessageCodec } from "./websocket_options.ts";

/** Size of each read from the socket. */
export const READ_SIZE = 64 * 1024;

/** Largest frame header (2 + 8 length + 4 mask bytes). */
const MAX_HEADER_BYTES = 14;

/** Incoming bytes → complete WebSocket events; see the module comment. */
export class InboundFrames {
  readonly #rb: ReceiveBuffer;
  readonly #asm: MessageAssembler;

  /** Creates an empty buffer (of `idleBytes`) for messages of at most `maxMessageBytes`. */
  constructor(maxMessageBytes: number, idleBytes: number) {
    this.#asm = new MessageAssembler(maxMessageBytes);
    this.#rb = new ReceiveBuffer(
      READ_SIZE,
      maxMessageBytes + MAX_HEADER_BYTES + READ_SIZE,
      idleBytes,
    );
  }

  /** Accepts compressed messages from now on, decompressed by `codec`. */
  useCodec(codec: MessageCodec): void {
    this.#asm.inflate = (data) => codec.inflate(data);
  }

  /** The socket closed: hands the storage back (false while a read still holds a view). */
  release(): boolean {
    return this.#rb.release();
  }

  /** Room to read into (empty only if the buffer is full, which the frame limit prevents). */
  writable(): Uint8Array {
    return this.#rb.writable();
  }

  /** Records `n` bytes written into `writable()`. */
  commit(n: number): void {
    this.#rb.commit(n);
  }

  /** The next complete event, or null when more bytes are needed. Throws on a violation. */
  next(): WebSocketEvent | null {
    while (this.#rb.length > 0) {
      const r = parseFrame(this.#rb.view(), {
        expectMasked: true,
        maxPayloadBytes: this.#asm.remaining,
        allowCompressed: this.#asm.inflate !== null,
      });
      if (r.kind === "partial") return null;
      this.#rb.consume(r.consumed);
      const ev = this.#asm.push(r.frame);
      if (ev !== null) return ev;
    }
    return null;
  }
}

/** The `data` of a `message` event for a binary message: an `ArrayBuffer`, or a `Blob`. */
export function messageData(
  b: Uint8Array<ArrayBuffer>,
  binaryType: BinaryType,
): ArrayBuffer | Blob {
  if (binaryType === "blob") return new Blob([b]);
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.slice().buffer;
}
