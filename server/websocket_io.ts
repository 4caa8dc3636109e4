/**
 * WebSocket I/O on a taken-over connection: the read loop that feeds `InboundFrames`, the single
 * write queue, and the end of the TCP connection. It knows nothing about events or states; the
 * socket object (`server/websocket.ts`) reacts through `TransportHooks`: symbol-keyed methods of
 * the socket itself, not a closure per hook and socket (closures a socket makes over itself kept
 * closed sockets alive through young-generation GCs under churn; see `server/websocket_idle.ts`).
 *
 * Contract:
 * - `run(initial)` first yields one macrotask (so nothing is delivered in the task that fired
 *   `open`) with `setImmediate`, not a 0 ms timer, which waited 1-2 ms and churned the runtime's
 *   timer table; it feeds the bytes that arrived with the upgrade request, then reads until EOF. After
 *   each chunk it calls `[RECEIVED]()`. Once `drainInput()` was called, input is read and dropped
 *   (so our close frame is not lost to a TCP reset) and a read error counts as EOF. `run` never
 *   rejects: EOF goes to `[PEER_EOF]()`, a read error to `[READ_FAILED](err)`.
 * - Writing: frames (and `Blob`s, encoded when their turn comes) go out in order through one
 *   writer, so frames never interleave; messages (`sendMessage`, `Blob`s) are framed by the
 *   negotiated codec (permessage-deflate) when one was given to the constructor, which also hands
 *   it to `InboundFrames`; small frames queued back to back are coalesced into one
 *   write of at most 64 KiB. `bufferedAmount` counts queued application payload bytes. A write
 *   error drops the queue and calls `[WRITE_FAILED](err)`. `drained()` resolves once the queue is
 *   empty (or writing failed); nothing here rejects.
 * - Each transport counts one opened session in the metrics (`server/metrics.ts`).
 * - `linger(ms)` half-closes and waits up to `ms` for the peer's EOF; `close()` closes the socket.
 * This file and `server/connection.ts` are the only ones that read or write sockets.
 */
import { setImmediate } from "node:timers";
import { encodeFrame, Opcode } from "./http/websocket_frame.ts";
import { type InboundFrames, READ_SIZE } from "./websocket_inbound.ts";
import { countWebSocketOpened } from "./metrics.ts";
import type { SocketDuplex } from "./exchange.ts";
import type { MessageCodec } from "./websocket_options.ts";

/** Most bytes of small frames coalesced into one write. */
const COALESCE_BYTES = 64 * 1024;

/** `TransportHooks`: bytes were committed to the inbound buffer. */
export const RECEIVED: unique symbol = Symbol("lsbaws.websocket.received");
/** `TransportHooks`: the inbound buffer is full (unreachable: frames are capped below its size). */
export const OVERFLOW: unique symbol = Symbol("lsbaws.websocket.overflow");
/** `TransportHooks`: the peer ended its side (or a read failed while input was only drained). */
export const PEER_EOF: unique symbol = Symbol("lsbaws.websocket.eof");
/** `TransportHooks`: reading failed. */
export const READ_FAILED: unique symbol = Symbol("lsbaws.websocket.readFailed");
/** `TransportHooks`: writing failed; the queue was dropped. */
export const WRITE_FAILED: unique symbol = Symbol("lsbaws.websocket.writeFailed");

/** How the socket object learns what happened on the connection (see the module comment). */
export interface TransportHooks {
  /** Bytes were committed to the inbound buffer. */
  [RECEIVED](): void;
  /** The inbound buffer is full. */
  [OVERFLOW](): void;
  /** The peer ended its side. */
  [PEER_EOF](): void;
  /** Reading failed. */
  [READ_FAILED](err: unknown): void;
  /** Writing failed; the queue was dropped. */
  [WRITE_FAILED](err: unknown): void;
}

type OutItem = { frame: Uint8Array; app: number } | { blob: Blob };

/** The I/O side of one WebSocket; see the module comment. */
export class WebSocketTransport {
  readonly #conn: SocketDuplex;
  readonly #inbound: InboundFrames;
  readonly #hooks: TransportHooks;
  readonly #codec: MessageCodec | null;
  #draining = false;
  #eof = false;
  #eofWaiters: Array<() => void> = [];
  #out: OutItem[] = [];
  #buffered = 0;
  #writing = false;
  #drainWaiters: Array<() => void> = [];

  /** Wraps a taken-over connection whose input feeds `inbound`. */
  constructor(
    conn: SocketDuplex,
    inbound: InboundFrames,
    hooks: TransportHooks,
    codec: MessageCodec | null = null,
  ) {
    this.#conn = conn;
    this.#inbound = inbound;
    this.#hooks = hooks;
    this.#codec = codec;
    if (codec !== null) inbound.useCodec(codec);
    countWebSocketOpened();
  }

  /** The peer's EOF was seen. */
  get eof(): boolean {
    return this.#eof;
  }

  /** Application payload bytes queued and not yet handed to the socket. */
  get bufferedAmount(): number {
    return this.#buffered;
  }

  /** From now on input is read and dropped (the connection is closing). */
  drainInput(): void {
    this.#draining = true;
  }

  /** The read loop; see the module comment. Never rejects. */
  async run(initial: Uint8Array): Promise<void> {
    try {
      await new Promise((r) => setImmediate(r));
      if (initial.length > 0) this.#ingest(initial);
      while (!this.#eof) {
        const view = this.#draining ? DISCARD : this.#inbound.writable();
        if (view.length === 0) {
          this.#hooks[OVERFLOW]();
          continue;
        }
        const n = await this.#conn.read(view);
        if (n === null) return this.#onEof();
        if (this.#draining) continue;
        this.#inbound.commit(n);
        this.#hooks[RECEIVED]();
      }
    } catch (err) {
      if (this.#draining) return this.#onEof();
      this.#hooks[READ_FAILED](err);
    } finally {
      this.#inbound.release(); // no read holds a view any more
    }
  }

  /** Feeds bytes that arrived with the upgrade request (possibly larger than one read). */
  #ingest(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length && !this.#draining) {
      const view = this.#inbound.writable();
      if (view.length === 0) return this.#hooks[OVERFLOW]();
      const n = Math.min(view.length, bytes.length - off);
      view.set(bytes.subarray(off, off + n));
      this.#inbound.commit(n);
      off += n;
      this.#hooks[RECEIVED]();
    }
  }

  #onEof(): void {
    this.#eof = true;
    for (const w of this.#eofWaiters.splice(0)) w();
    this.#hooks[PEER_EOF]();
  }

  /** Queues an encoded frame carrying `appBytes` of application payload and starts writing. */
  send(frame: Uint8Array, appBytes: number): void {
    this.#buffered += appBytes;
    this.#out.push({ frame, app: appBytes });
    this.#pump();
  }

  /** Queues one text or binary message (compressed when a codec was agreed) and starts writing. */
  sendMessage(opcode: number, payload: Uint8Array): void {
    this.send(this.#encode(opcode, payload), payload.length);
  }

  #encode(opcode: number, payload: Uint8Array): Uint8Array {
    return this.#codec === null
      ? encodeFrame(opcode, payload)
      : this.#codec.encode(opcode, payload);
  }

  /** Queues a `Blob` as one binary message and starts writing. */
  sendBlob(blob: Blob): void {
    this.#buffered += blob.size;
    this.#out.push({ blob });
    this.#pump();
  }

  /** Drops whatever is still queued. */
  clear(): void {
    this.#out.length = 0;
    this.#buffered = 0;
  }

  /** Single writer: drains the queue in order; never rejects. */
  #pump(): void {
    if (this.#writing) return;
    this.#writing = true;
    void this.#writeLoop();
  }

  async #writeLoop(): Promise<void> {
    try {
      while (this.#out.length > 0) {
        const item = this.#out[0];
        let bytes: Uint8Array;
        let app: number;
        if ("blob" in item) {
          const ab = await item.blob.arrayBuffer();
          this.#out.shift();
          bytes = this.#encode(Opcode.BINARY, new Uint8Array(ab));
          app = item.blob.size;
        } else {
          // Coalesce consecutive small frames into one write.
          let count = 0;
          let size = 0;
          app = 0;
          while (count < this.#out.length) {
            const it = this.#out[count];
            if ("blob" in it) break;
            if (count > 0 && size + it.frame.length > COALESCE_BYTES) break;
            size += it.frame.length;
            app += it.app;
            count++;
          }
          const items = this.#out.splice(0, count) as Array<{ frame: Uint8Array; app: number }>;
          if (count === 1) bytes = items[0].frame;
          else {
            bytes = new Uint8Array(size);
            let o = 0;
            for (const it of items) {
              bytes.set(it.frame, o);
              o += it.frame.length;
            }
          }
        }
        let off = 0;
        while (off < bytes.length) {
          off += await this.#conn.write(off === 0 ? bytes : bytes.subarray(off));
        }
        this.#buffered = Math.max(0, this.#buffered - app);
      }
    } catch (err) {
      this.clear();
      this.#hooks[WRITE_FAILED](err);
    } finally {
      this.#writing = false;
      for (const w of this.#drainWaiters.splice(0)) w();
    }
  }

  /** Resolves once the write queue is empty (or writing failed). */
  drained(): Promise<void> {
    if (!this.#writing && this.#out.length === 0) return Promise.resolve();
    if (!this.#writing) this.#pump();
    return new Promise((r) => this.#drainWaiters.push(r));
  }

  /** Half-closes, then waits up to `ms` for the peer's EOF. */
  async linger(ms: number): Promise<void> {
    if (this.#eof) return;
    await this.#conn.closeWrite().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#eofWaiters.push(resolve);
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * Where a closing socket's input is read and dropped: one buffer for all of them (its contents
 * are never looked at), not 64 KiB per socket.
 */
const DISCARD = new Uint8Array(READ_SIZE);

/** Closes a socket nobody will use (a second attach, or one arriving while the socket ends). */
export function closeSocket(conn: SocketDuplex): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
