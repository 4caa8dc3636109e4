/**
 * The server side of a WebSocket connection after the protocol switch: the object apps see (the
 * browser/Deno `WebSocket` surface) plus the I/O that drives it on the taken-over socket.
 *
 * Contract:
 * - `new ServerWebSocket(options)` starts in `CONNECTING`. `attachSocket(ws, conn, buffered)` is
 *   called once the `101` head was written: the socket turns `OPEN`, fires `open`, then parses
 *   `buffered` and everything read from `conn` with `server/http/websocket_frame.ts`.
 *   `abandonSocket(ws, reason)` is for an upgrade that never happened (the app answered something
 *   else, or the connection died first): `error` and `close` (1006) fire, no I/O is done.
 * - Incoming: fragments are reassembled; text arrives as a string, binary as an `ArrayBuffer`
 *   (`binaryType` defaults to `"arraybuffer"` as on Deno's server sockets; `"blob"` gives a
 *   `Blob`); a ping is answered with a pong carrying the same payload; any frame resets the idle
 *   timer. Messages that arrive after `close()` was called are dropped (WHATWG).
 * - Closing handshake: a close frame from the peer is answered with a close frame echoing its code
 *   and reason, then the server closes TCP first (RFC 6455 §7.1.1) and `close` fires with
 *   `wasClean: true`. `close(code, reason)` sends a close frame and waits up to `closeTimeout`
 *   seconds for the reply, then closes TCP (`wasClean: false`, 1006, if none came).
 * - Failing: a protocol violation (`WebSocketProtocolError`: 1002, 1007 or 1009 for a message
 *   over `maxMessageBytes`, default 16 MiB, checked from frame headers before buffering), an idle
 *   timeout (no frame for `idleTimeout` s after a ping sent at half of it: 1001, as Deno does) or
 *   `closeAll` sends a close frame with that code, half-closes, drains the peer's input for up to
 *   1 s so the close frame is not lost to a TCP reset, then closes; `error` fires (protocol and
 *   idle failures) followed by `close` with `wasClean: false` and the code that was sent.
 * - A peer that vanishes (EOF or reset without a close frame) gives `close` with 1006. No promise
 *   created here ever rejects unhandled; listener exceptions are reported by `EventTarget` itself.
 * - Outgoing frames go through one write queue (a single writer, frames never interleave, small
 *   frames written back to back are coalesced); `bufferedAmount` counts queued payload bytes.
 * - `send` before `OPEN` throws `InvalidStateError`; after `close()` it is ignored. `close` throws
 *   `InvalidAccessError` for a code that may not be sent and `SyntaxError` for a reason over 123
 *   UTF-8 bytes.
 * - `liveWebSockets()` and `closeAll(code, reason)` let the server (graceful shutdown) and tests
 *   see and end every socket of this process.
 * This file and `server/connection.ts` are the only ones that read or write sockets.
 */
import { ReceiveBuffer } from "./http/receive_buffer.ts";
import {
  encodeClosePayload,
  encodeFrame,
  isValidCloseCode,
  MAX_CLOSE_REASON_BYTES,
  MessageAssembler,
  Opcode,
  parseFrame,
  WebSocketProtocolError,
} from "./http/websocket_frame.ts";
import type { SocketDuplex } from "./exchange.ts";
import { isPeerGone } from "./io_errors.ts";

/** Default largest message accepted (bytes), as uvicorn and the `websockets` library use. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Default idle timeout in seconds (Deno's `upgradeWebSocket` default). */
export const DEFAULT_IDLE_TIMEOUT = 30;
/** Default time (seconds) to wait for the peer's close frame after `close()`. */
export const DEFAULT_CLOSE_TIMEOUT = 5;
const LINGER_MS = 1000;
const READ_SIZE = 64 * 1024;
const COALESCE_BYTES = 64 * 1024;

/** Log hook: the exchange's error log. */
export type WebSocketLog = (level: "debug" | "info" | "warning" | "error", msg: string) => void;

/** Options for a server socket. */
export interface ServerWebSocketOptions {
  /** The negotiated subprotocol ("" when none). */
  readonly protocol?: string;
  /** The URL the socket was opened on (reported as `url`; "" when unknown). */
  readonly url?: string;
  /** Largest message (after reassembly) accepted; larger ones close with 1009. */
  readonly maxMessageBytes?: number;
  /**
   * Seconds without any frame from the peer before it is pinged (at half) and then closed with
   * 1001 (at the full time); 0 disables. Default 30, as `Deno.upgradeWebSocket`.
   */
  readonly idleTimeout?: number;
  /** Seconds to wait for the peer's close frame after `close()` (default 5). */
  readonly closeTimeout?: number;
  /** Where to log protocol errors (info) and I/O errors (debug). */
  readonly log?: WebSocketLog;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

const ATTACH = Symbol("lsbaws.websocket.attach");
const ABANDON = Symbol("lsbaws.websocket.abandon");
const SHUTDOWN = Symbol("lsbaws.websocket.shutdown");

const LIVE = new Set<ServerWebSocket>();
const utf8 = new TextEncoder();

type Handler = ((this: WebSocket, ev: Event) => unknown) | null;
type OutItem = { frame: Uint8Array; app: number } | { blob: Blob };

interface Ending {
  wasClean: boolean;
  code: number;
  reason: string;
  error?: unknown;
  linger: boolean;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** A server-side WebSocket with the browser/Deno `WebSocket` surface; see the module comment. */
export class ServerWebSocket extends EventTarget implements WebSocket {
  /** readyState: the opening handshake has not completed. */
  static readonly CONNECTING = CONNECTING;
  /** readyState: messages can be sent and received. */
  static readonly OPEN = OPEN;
  /** readyState: the closing handshake started. */
  static readonly CLOSING = CLOSING;
  /** readyState: the connection is closed. */
  static readonly CLOSED = CLOSED;
  /** readyState: the opening handshake has not completed. */
  readonly CONNECTING = CONNECTING;
  /** readyState: messages can be sent and received. */
  readonly OPEN = OPEN;
  /** readyState: the closing handshake started. */
  readonly CLOSING = CLOSING;
  /** readyState: the connection is closed. */
  readonly CLOSED = CLOSED;

  /** The negotiated subprotocol ("" when none). */
  readonly protocol: string;
  /** Negotiated extensions: always "" (no extension is supported). */
  readonly extensions = "";
  /** The URL the socket was opened on (`ws:`/`wss:`), or "". */
  readonly url: string;

  #state = CONNECTING;
  #binaryType: BinaryType = "arraybuffer";
  #handlers: Record<string, Handler> = {};
  readonly #max: number;
  readonly #idleMs: number;
  readonly #closeMs: number;
  readonly #log: WebSocketLog;
  #conn: SocketDuplex | null = null;
  #asm: MessageAssembler;
  #out: OutItem[] = [];
  #buffered = 0;
  #writing = false;
  #drainWaiters: Array<() => void> = [];
  #closeSent = false;
  #pendingClose: { code?: number; reason: string } | null = null;
  #ending = false;
  #eof = false;
  #eofWaiters: Array<() => void> = [];
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #pinged = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #closedWaiters: Array<() => void> = [];

  /** Creates a socket in `CONNECTING`; see `ServerWebSocketOptions`. */
  constructor(options: ServerWebSocketOptions = {}) {
    super();
    this.protocol = options.protocol ?? "";
    this.url = options.url ?? "";
    this.#max = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#idleMs = (options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT) * 1000;
    this.#closeMs = (options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT) * 1000;
    const log = options.log;
    this.#log = (level, msg) => {
      try {
        log?.(level, msg);
      } catch {
        // A broken log hook must not break the socket.
      }
    };
    this.#asm = new MessageAssembler(this.#max);
  }

  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  get readyState(): number {
    return this.#state;
  }

  /** Payload bytes queued by `send()` and not yet handed to the socket. */
  get bufferedAmount(): number {
    return this.#buffered;
  }

  /** How binary messages are delivered: "arraybuffer" (default) or "blob". */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }
  set binaryType(value: BinaryType) {
    if (value === "blob" || value === "arraybuffer") this.#binaryType = value;
  }

  /** `open` event handler property. */
  get onopen(): Handler {
    return this.#handlers.open ?? null;
  }
  set onopen(fn: Handler) {
    this.#setHandler("open", fn);
  }
  /** `message` event handler property. */
  get onmessage(): ((this: WebSocket, ev: MessageEvent) => unknown) | null {
    return this.#handlers.message ?? null;
  }
  set onmessage(fn: ((this: WebSocket, ev: MessageEvent) => unknown) | null) {
    this.#setHandler("message", fn as Handler);
  }
  /** `close` event handler property. */
  get onclose(): ((this: WebSocket, ev: CloseEvent) => unknown) | null {
    return this.#handlers.close ?? null;
  }
  set onclose(fn: ((this: WebSocket, ev: CloseEvent) => unknown) | null) {
    this.#setHandler("close", fn as Handler);
  }
  /** `error` event handler property. */
  get onerror(): Handler {
    return this.#handlers.error ?? null;
  }
  set onerror(fn: Handler) {
    this.#setHandler("error", fn);
  }

  #setHandler(type: string, fn: Handler): void {
    const had = type in this.#handlers;
    this.#handlers[type] = typeof fn === "function" ? fn : null;
    if (!had) {
      this.addEventListener(type, (ev) => {
        const h = this.#handlers[type];
        if (h) h.call(this, ev);
      });
    }
  }

  /**
   * Queues a message: a string as text, an `ArrayBuffer`, view or `Blob` as binary (anything else
   * is converted to a string). Throws `InvalidStateError` while `CONNECTING`; ignored once closing.
   */
  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    if (this.#state === CONNECTING) {
      throw new DOMException("'readyState' not OPEN", "InvalidStateError");
    }
    if (this.#state !== OPEN) return;
    if (data instanceof Blob) {
      this.#buffered += data.size;
      this.#out.push({ blob: data });
    } else if (ArrayBuffer.isView(data)) {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      this.#push(encodeFrame(Opcode.BINARY, bytes), bytes.length);
    } else if (data instanceof ArrayBuffer || isSharedArrayBuffer(data)) {
      const bytes = new Uint8Array(data as ArrayBufferLike);
      this.#push(encodeFrame(Opcode.BINARY, bytes), bytes.length);
    } else {
      const bytes = utf8.encode(String(data));
      this.#push(encodeFrame(Opcode.TEXT, bytes), bytes.length);
    }
    this.#pump();
  }

  /**
   * Starts the closing handshake with `code` (1000 or a sendable code: 1001-1003, 1007-1014,
   * 3000-4999) and `reason` (at most 123 UTF-8 bytes). Does nothing once closing or closed.
   */
  close(code?: number, reason?: string): void {
    if (code !== undefined) {
      code = Number(code);
      if (!isValidCloseCode(code)) {
        throw new DOMException(
          `The close code must be 1000, 1001-1003, 1007-1014 or 3000-4999: received ${code}`,
          "InvalidAccessError",
        );
      }
    }
    const text = reason === undefined ? "" : String(reason);
    if (utf8.encode(text).length > MAX_CLOSE_REASON_BYTES) {
      throw new DOMException("The close reason may not be longer than 123 bytes", "SyntaxError");
    }
    if (code === undefined && text !== "") code = 1000;
    if (this.#state === CONNECTING) {
      this.#state = CLOSING;
      this.#pendingClose = { code, reason: text };
      return;
    }
    if (this.#state !== OPEN) return;
    this.#startClose(code, text);
  }

  #startClose(code: number | undefined, reason: string): void {
    this.#state = CLOSING;
    this.#sendClose(code, reason);
    this.#clearIdle();
    this.#closeTimer = setTimeout(() => {
      this.#closeTimer = undefined;
      this.#log("debug", "websocket: no close frame from the peer in time; closing");
      this.#end({ wasClean: false, code: 1006, reason: "", linger: false });
    }, this.#closeMs);
  }

  #sendClose(code: number | undefined, reason: string): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    this.#push(encodeFrame(Opcode.CLOSE, encodeClosePayload(code, reason)), 0);
    this.#pump();
  }

  /** Internal (see `attachSocket`). */
  [ATTACH](conn: SocketDuplex, buffered: Uint8Array): void {
    if (this.#conn !== null || this.#ending) {
      try {
        conn.close();
      } catch {
        // already closed
      }
      return;
    }
    this.#conn = conn;
    LIVE.add(this);
    const pending = this.#pendingClose;
    if (pending) {
      this.#startClose(pending.code, pending.reason);
    } else {
      this.#state = OPEN;
      this.#armIdle();
      this.dispatchEvent(new Event("open"));
    }
    void this.#readLoop(buffered);
  }

  /** Internal (see `abandonSocket`). */
  [ABANDON](reason: unknown): void {
    if (this.#conn !== null || this.#ending) return;
    this.#ending = true;
    this.#state = CLOSED;
    this.dispatchEvent(
      new ErrorEvent("error", { error: reason, message: describe(reason) }),
    );
    this.dispatchEvent(new CloseEvent("close", { wasClean: false, code: 1006, reason: "" }));
    this.#resolveClosed();
  }

  /** Internal (see `closeAll`): fails the connection with `code` and waits until it is closed. */
  [SHUTDOWN](code: number, reason: string): Promise<void> {
    if (this.#state === CLOSED) return Promise.resolve();
    const done = new Promise<void>((r) => this.#closedWaiters.push(r));
    if (this.#conn === null) this[ABANDON](new Error(reason));
    else {
      this.#sendClose(code, reason);
      this.#end({ wasClean: false, code, reason, linger: true });
    }
    return done;
  }

  async #readLoop(initial: Uint8Array): Promise<void> {
    const conn = this.#conn!;
    const rb = new ReceiveBuffer(READ_SIZE, this.#max + 14 + READ_SIZE);
    try {
      // Like Deno, deliver nothing in the task that fired `open`: listeners added by an `open`
      // handler (even after an await) still see the first messages.
      await new Promise((r) => setTimeout(r, 0));
      if (initial.length > 0) this.#ingest(rb, initial);
      let discard: Uint8Array | null = null;
      while (!this.#eof) {
        // While closing, input is only drained (so our close frame is not lost to a reset).
        const view = this.#ending ? (discard ??= new Uint8Array(READ_SIZE)) : rb.writable();
        if (view.length === 0) {
          // Unreachable: frames are capped below the buffer size. Fail rather than spin.
          this.#fail(1009, "receive buffer full");
          continue;
        }
        const n = await conn.read(view);
        if (n === null) {
          this.#onEof();
          return;
        }
        if (this.#ending) continue;
        rb.commit(n);
        this.#touch();
        this.#process(rb);
      }
    } catch (err) {
      if (this.#ending) {
        this.#onEof();
        return;
      }
      if (isPeerGone(err)) {
        this.#log("debug", `websocket: peer went away: ${describe(err)}`);
        this.#end({ wasClean: false, code: 1006, reason: "", linger: false });
      } else {
        this.#log("error", `websocket: read failed: ${describe(err)}`);
        this.#end({ wasClean: false, code: 1006, reason: "", linger: false, error: err });
      }
    }
  }

  /** Feeds bytes that arrived with the upgrade request (possibly larger than one read). */
  #ingest(rb: ReceiveBuffer, bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length && !this.#ending) {
      const view = rb.writable();
      if (view.length === 0) return this.#fail(1009, "receive buffer full"); // unreachable
      const n = Math.min(view.length, bytes.length - off);
      view.set(bytes.subarray(off, off + n));
      rb.commit(n);
      off += n;
      this.#touch();
      this.#process(rb);
    }
  }

  /** Parses and handles every complete frame in the buffer. */
  #process(rb: ReceiveBuffer): void {
    while (!this.#ending && rb.length > 0) {
      let ev;
      try {
        const r = parseFrame(rb.view(), {
          expectMasked: true,
          maxPayloadBytes: this.#asm.remaining,
        });
        if (r.kind === "partial") return;
        rb.consume(r.consumed);
        ev = this.#asm.push(r.frame);
      } catch (err) {
        if (err instanceof WebSocketProtocolError) {
          this.#log("info", `websocket: closing with ${err.closeCode}: ${err.message}`);
          this.#fail(err.closeCode, err.message, err);
          return;
        }
        throw err;
      }
      if (ev === null) continue;
      switch (ev.type) {
        case "text":
          if (this.#state === OPEN) {
            this.dispatchEvent(new MessageEvent("message", { data: ev.data, origin: this.url }));
          }
          break;
        case "binary":
          if (this.#state === OPEN) {
            const b = ev.data;
            const data = this.#binaryType === "blob"
              ? new Blob([b])
              : b.byteOffset === 0 && b.byteLength === b.buffer.byteLength
              ? b.buffer
              : b.slice().buffer;
            this.dispatchEvent(new MessageEvent("message", { data, origin: this.url }));
          }
          break;
        case "ping":
          if (!this.#closeSent) {
            this.#push(encodeFrame(Opcode.PONG, ev.data), 0);
            this.#pump();
          }
          break;
        case "pong":
          break;
        case "close":
          this.#onPeerClose(ev.code, ev.reason);
          return;
      }
    }
  }

  #onPeerClose(code: number, reason: string): void {
    if (this.#state === OPEN) {
      this.#state = CLOSING;
      this.#sendClose(code === 1005 ? undefined : code, reason);
    }
    this.#end({ wasClean: true, code, reason, linger: false });
  }

  /** Fails the connection: close frame with `code`, then a lingering TCP close. */
  #fail(code: number, reason: string, error?: unknown): void {
    if (this.#ending) return;
    this.#state = CLOSING;
    this.#sendClose(code, reason);
    this.#end({ wasClean: false, code, reason, linger: true, error });
  }

  #onEof(): void {
    this.#eof = true;
    for (const w of this.#eofWaiters.splice(0)) w();
    if (!this.#ending) {
      this.#log("debug", "websocket: peer closed TCP without a close frame");
      this.#end({ wasClean: false, code: 1006, reason: "", linger: false });
    }
  }

  /** Tears down once: flush, (linger), close TCP, then fire `error`? and `close`. */
  #end(e: Ending): void {
    if (this.#ending) return;
    this.#ending = true;
    if (this.#state !== CLOSED) this.#state = CLOSING;
    this.#clearIdle();
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    void this.#teardown(e);
  }

  async #teardown(e: Ending): Promise<void> {
    const conn = this.#conn!;
    try {
      await this.#drained();
      if (e.linger && !this.#eof) {
        await conn.closeWrite().catch(() => {});
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          this.#eofWaiters.push(resolve);
          timer = setTimeout(resolve, LINGER_MS);
        });
        clearTimeout(timer);
      }
    } catch {
      // Nothing here may reject; the socket is closed below regardless.
    }
    try {
      conn.close();
    } catch {
      // Already closed.
    }
    this.#state = CLOSED;
    this.#out.length = 0;
    this.#buffered = 0;
    LIVE.delete(this);
    if (e.error !== undefined) {
      this.dispatchEvent(
        new ErrorEvent("error", { error: e.error, message: describe(e.error) }),
      );
    }
    this.dispatchEvent(
      new CloseEvent("close", { wasClean: e.wasClean, code: e.code, reason: e.reason }),
    );
    this.#resolveClosed();
  }

  #resolveClosed(): void {
    for (const w of this.#closedWaiters.splice(0)) w();
  }

  // --- idle handling -------------------------------------------------------------------------

  #armIdle(): void {
    if (this.#idleMs <= 0 || this.#ending) return;
    this.#clearIdle();
    this.#pinged = false;
    this.#idleTimer = setTimeout(() => this.#onIdle(), this.#idleMs / 2);
  }

  #touch(): void {
    if (this.#idleTimer !== undefined) this.#armIdle();
  }

  #clearIdle(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  #onIdle(): void {
    this.#idleTimer = undefined;
    if (this.#state !== OPEN || this.#ending) return;
    if (!this.#pinged) {
      this.#pinged = true;
      this.#push(encodeFrame(Opcode.PING), 0);
      this.#pump();
      this.#idleTimer = setTimeout(() => this.#onIdle(), this.#idleMs / 2);
      return;
    }
    const reason = "No response from ping frame.";
    this.#log("info", `websocket: idle timeout; closing with 1001`);
    this.#fail(1001, reason, new Error(reason));
  }

  // --- writing -------------------------------------------------------------------------------

  #push(frame: Uint8Array, appBytes: number): void {
    this.#buffered += appBytes;
    this.#out.push({ frame, app: appBytes });
  }

  /** Single writer: drains the queue in order; never rejects. */
  #pump(): void {
    if (this.#writing || this.#conn === null) return;
    this.#writing = true;
    void this.#writeLoop();
  }

  async #writeLoop(): Promise<void> {
    const conn = this.#conn!;
    try {
      while (this.#out.length > 0) {
        const item = this.#out[0];
        let bytes: Uint8Array;
        let app: number;
        if ("blob" in item) {
          const ab = await item.blob.arrayBuffer();
          this.#out.shift();
          bytes = encodeFrame(Opcode.BINARY, new Uint8Array(ab));
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
          off += await conn.write(off === 0 ? bytes : bytes.subarray(off));
        }
        this.#buffered = Math.max(0, this.#buffered - app);
      }
    } catch (err) {
      this.#out.length = 0;
      this.#buffered = 0;
      if (!this.#ending) {
        if (isPeerGone(err)) this.#log("debug", `websocket: peer went away: ${describe(err)}`);
        else this.#log("error", `websocket: write failed: ${describe(err)}`);
        this.#end({
          wasClean: false,
          code: 1006,
          reason: "",
          linger: false,
          error: isPeerGone(err) ? undefined : err,
        });
      }
    } finally {
      this.#writing = false;
      for (const w of this.#drainWaiters.splice(0)) w();
    }
  }

  /** Resolves once the write queue is empty (or writing failed). */
  #drained(): Promise<void> {
    if (!this.#writing && this.#out.length === 0) return Promise.resolve();
    if (!this.#writing) this.#pump();
    return new Promise((r) => this.#drainWaiters.push(r));
  }
}

function isSharedArrayBuffer(v: unknown): boolean {
  return typeof SharedArrayBuffer !== "undefined" && v instanceof SharedArrayBuffer;
}

/** Starts `ws` on a taken-over connection (the 101 head was already written). */
export function attachSocket(
  ws: ServerWebSocket,
  conn: SocketDuplex,
  buffered: Uint8Array,
): void {
  ws[ATTACH](conn, buffered);
}

/** Marks an upgrade that never happened: `error`, then `close` with 1006. */
export function abandonSocket(ws: ServerWebSocket, reason: unknown): void {
  ws[ABANDON](reason);
}

/** Number of WebSockets of this process that are attached and not yet closed. */
export function liveWebSockets(): number {
  return LIVE.size;
}

/**
 * Closes every live WebSocket with `code` (default 1001, going away) and resolves once all of
 * them are closed; meant for graceful shutdown.
 */
export function closeAll(code = 1001, reason = "server shutting down"): Promise<void> {
  return Promise.all([...LIVE].map((ws) => ws[SHUTDOWN](code, reason))).then(() => {});
}
