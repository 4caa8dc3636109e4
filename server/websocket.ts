/**
 * The server side of a WebSocket connection after the protocol switch: the object apps see (the
 * browser/Deno `WebSocket` surface) and its states, events and closing handshake.
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
 * - Outgoing frames go through one write queue (`server/websocket_io.ts`); `bufferedAmount`
 *   counts queued payload bytes. With permessage-deflate agreed (`attachSocket`'s codec),
 *   messages travel compressed both ways and `extensions` names the agreement.
 * - `send` before `OPEN` throws `InvalidStateError`; after `close()` it is ignored. `close` throws
 *   `InvalidAccessError` for a code that may not be sent, `SyntaxError` for a reason > 123 bytes.
 * - `liveWebSockets()` and `closeAll(code, reason)` let the server (graceful shutdown) and tests
 *   see and end every socket of this process.
 * - Options left out take the process defaults, the `--websocket-*` settings
 *   (`server/websocket_options.ts`). This file is the object apps see; message assembly is in
 *   `server/websocket_inbound.ts`, the socket I/O in `server/websocket_io.ts`, compression in
 *   `server/websocket_deflate.ts`, the `on<event>` properties in `server/websocket_events.ts`.
 */
import {
  CloseCode,
  encodeClosePayload,
  encodeFrame,
  isValidCloseCode,
  MAX_CLOSE_REASON_BYTES,
  Opcode,
  WebSocketProtocolError,
} from "./http/websocket_frame.ts";
import type { SocketDuplex } from "./exchange.ts";
import { isPeerGone } from "./io_errors.ts";
import { InboundFrames, messageData } from "./websocket_inbound.ts";
import { WebSocketEvents } from "./websocket_events.ts";
import {
  IDLE_ACTIVE,
  IDLE_PING,
  IDLE_TIMEOUT,
  type IdleOwner,
  IdleWatch,
} from "./websocket_idle.ts";
import { LiveSet, type LiveSlot } from "./live_set.ts";
import {
  type MessageCodec,
  type ServerWebSocketOptions,
  webSocketDefaults,
  type WebSocketLog,
} from "./websocket_options.ts";
import {
  closeSocket,
  OVERFLOW,
  PEER_EOF,
  READ_FAILED,
  RECEIVED,
  type TransportHooks,
  WebSocketTransport,
  WRITE_FAILED,
} from "./websocket_io.ts";

/** After failing a connection, how long the peer's input is drained before TCP is closed. */
const LINGER_MS = 1000;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

const ATTACH = Symbol("lsbaws.websocket.attach");
const ABANDON = Symbol("lsbaws.websocket.abandon");
const SHUTDOWN = Symbol("lsbaws.websocket.shutdown");

/**
 * A live socket's entry in `LIVE` (not a `Set`: see `server/live_set.ts`). A class, not an object
 * literal, whose allocation site V8 may pretenure: an entry in the old generation pointing at its
 * young socket kept closed sockets alive through young-generation GCs (`bench/RESULTS.md`).
 */
class LiveEntry implements LiveSlot {
  liveSlot = -1;
  /** Creates the entry of `ws`. */
  constructor(readonly ws: ServerWebSocket) {}
}

const LIVE = new LiveSet<LiveEntry>();
const utf8 = new TextEncoder();

interface Ending {
  wasClean: boolean;
  code: number;
  reason: string;
  error?: unknown;
  linger: boolean;
}

/** The ending of a connection that stopped without a closing handshake (1006; never mutated). */
const ABNORMAL: Ending = { wasClean: false, code: CloseCode.ABNORMAL, reason: "", linger: false };
/** The close code of a server that goes away (shutdown, idle timeout). */
const GOING_AWAY: number = CloseCode.GOING_AWAY;

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** A server-side WebSocket with the browser/Deno `WebSocket` surface; see the module comment. */
export class ServerWebSocket extends WebSocketEvents
  implements WebSocket, IdleOwner, TransportHooks {
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
  /** Negotiated extensions: the permessage-deflate agreement once open, else "". */
  get extensions(): string {
    return this.#codec?.response ?? "";
  }
  /** The URL the socket was opened on (`ws:`/`wss:`), or "". */
  readonly url: string;

  #state = CONNECTING;
  #binaryType: BinaryType = "arraybuffer";
  readonly #max: number;
  readonly #closeMs: number;
  readonly #logHook: WebSocketLog | undefined;
  #io: WebSocketTransport | null = null;
  #codec: MessageCodec | null = null;
  #inbound: InboundFrames;
  #closeSent = false;
  #pendingClose: { code?: number; reason: string } | null = null;
  #ending = false;
  readonly #idle: IdleWatch;
  readonly #live: LiveEntry = new LiveEntry(this);
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #closedWaiters: Array<() => void> = [];

  /** Creates a socket in `CONNECTING`; see `ServerWebSocketOptions`. */
  constructor(options: ServerWebSocketOptions = {}) {
    super();
    const defaults = webSocketDefaults();
    this.protocol = options.protocol ?? "";
    this.url = options.url ?? "";
    this.#max = options.maxMessageBytes ?? defaults.websocketMaxMessageBytes;
    const idleMs = options.idleTimeout === undefined
      ? defaults.websocketIdleTimeoutMs
      : options.idleTimeout * 1000;
    // No closure in here captures the socket: see `server/websocket_idle.ts`.
    this.#idle = new IdleWatch(idleMs, this);
    this.#closeMs = options.closeTimeout === undefined
      ? defaults.websocketCloseTimeoutMs
      : options.closeTimeout * 1000;
    this.#logHook = options.log;
    this.#inbound = new InboundFrames(this.#max, defaults.idleReadBufferBytes);
  }

  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  get readyState(): number {
    return this.#state;
  }

  /** Payload bytes queued by `send()` and not yet handed to the socket. */
  get bufferedAmount(): number {
    return this.#io?.bufferedAmount ?? 0;
  }

  /** How binary messages are delivered: "arraybuffer" (default) or "blob". */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }
  set binaryType(value: BinaryType) {
    if (value === "blob" || value === "arraybuffer") this.#binaryType = value;
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
      this.#io?.sendBlob(data);
    } else if (ArrayBuffer.isView(data)) {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      this.#io?.sendMessage(Opcode.BINARY, bytes);
    } else if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) {
      this.#io?.sendMessage(Opcode.BINARY, new Uint8Array(data as ArrayBufferLike));
    } else {
      this.#io?.sendMessage(Opcode.TEXT, utf8.encode(String(data)));
    }
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
    if (code === undefined && text !== "") code = CloseCode.NORMAL;
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
    this.#idle.clear();
    this.#closeTimer = setTimeout(() => {
      this.#closeTimer = undefined;
      this.#log("debug", "websocket: no close frame from the peer in time; closing");
      this.#end(ABNORMAL);
    }, this.#closeMs);
  }

  #sendClose(code: number | undefined, reason: string): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    this.#push(encodeFrame(Opcode.CLOSE, encodeClosePayload(code, reason)), 0);
  }

  /** Logs through the log hook; a broken hook must not break the socket. */
  #log(level: "debug" | "info" | "warning" | "error", msg: string): void {
    try {
      this.#logHook?.(level, msg);
    } catch {
      // Ignored: see above.
    }
  }

  // Internal callbacks of the idle watch (`IdleOwner`) and the transport (`TransportHooks`):
  // methods, not closures over the socket (see `server/websocket_idle.ts`).
  [IDLE_ACTIVE](): boolean {
    return this.#state === OPEN && !this.#ending;
  }

  [IDLE_PING](): void {
    this.#push(encodeFrame(Opcode.PING), 0);
  }

  [IDLE_TIMEOUT](): void {
    const reason = "No response from ping frame.";
    this.#log("info", `websocket: idle timeout; closing with 1001`);
    this.#fail(GOING_AWAY, reason, new Error(reason));
  }

  [RECEIVED](): void {
    this.#idle.touch();
    this.#process();
  }

  [OVERFLOW](): void {
    this.#fail(CloseCode.MESSAGE_TOO_BIG, "receive buffer full");
  }

  [PEER_EOF](): void {
    if (!this.#ending) {
      this.#log("debug", "websocket: peer closed TCP without a close frame");
      this.#end(ABNORMAL);
    }
  }

  [READ_FAILED](err: unknown): void {
    this.#onIoError("read", err);
  }

  [WRITE_FAILED](err: unknown): void {
    if (!this.#ending) this.#onIoError("write", err);
  }

  /** Internal (see `attachSocket`). */
  [ATTACH](conn: SocketDuplex, buffered: Uint8Array, codec: MessageCodec | null): void {
    if (this.#io !== null || this.#ending) {
      closeSocket(conn);
      return;
    }
    this.#codec = codec;
    const io = new WebSocketTransport(conn, this.#inbound, this, codec);
    this.#io = io;
    LIVE.add(this.#live);
    const pending = this.#pendingClose;
    if (pending) {
      this.#startClose(pending.code, pending.reason);
    } else {
      this.#state = OPEN;
      this.#idle.arm();
      this.dispatchEvent(new Event("open"));
    }
    void io.run(buffered);
  }

  /** Internal (see `abandonSocket`). */
  [ABANDON](reason: unknown): void {
    if (this.#io !== null || this.#ending) return;
    this.#ending = true;
    this.#state = CLOSED;
    this.dispatchEvent(new ErrorEvent("error", { error: reason, message: describe(reason) }));
    this.dispatchEvent(new CloseEvent("close", ABNORMAL));
    this.#resolveClosed();
  }

  /** Internal (see `closeAll`): fails the connection with `code` and waits until it is closed. */
  [SHUTDOWN](code: number, reason: string): Promise<void> {
    if (this.#state === CLOSED) return Promise.resolve();
    const done = new Promise<void>((r) => this.#closedWaiters.push(r));
    if (this.#io === null) this[ABANDON](new Error(reason));
    else {
      this.#sendClose(code, reason);
      this.#end({ wasClean: false, code, reason, linger: true });
    }
    return done;
  }

  /** A read or write failed: the peer vanished (debug) or something else broke (error). */
  #onIoError(what: "read" | "write", err: unknown): void {
    if (isPeerGone(err)) {
      this.#log("debug", `websocket: peer went away: ${describe(err)}`);
      this.#end(ABNORMAL);
    } else {
      this.#log("error", `websocket: ${what} failed: ${describe(err)}`);
      this.#end({ ...ABNORMAL, error: err });
    }
  }

  /** Handles every complete event in the inbound buffer. */
  #process(): void {
    while (!this.#ending) {
      let ev;
      try {
        ev = this.#inbound.next();
      } catch (err) {
        if (err instanceof WebSocketProtocolError) {
          this.#log("info", `websocket: closing with ${err.closeCode}: ${err.message}`);
          this.#fail(err.closeCode, err.message, err);
          return;
        }
        throw err;
      }
      if (ev === null) return;
      switch (ev.type) {
        case "text":
          if (this.#state === OPEN) {
            this.dispatchEvent(new MessageEvent("message", { data: ev.data, origin: this.url }));
          }
          break;
        case "binary":
          if (this.#state === OPEN) {
            const data = messageData(ev.data, this.#binaryType);
            this.dispatchEvent(new MessageEvent("message", { data, origin: this.url }));
          }
          break;
        case "ping":
          if (!this.#closeSent) this.#push(encodeFrame(Opcode.PONG, ev.data), 0);
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
      this.#sendClose(code === CloseCode.NO_STATUS ? undefined : code, reason);
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

  /** Tears down once: flush, (linger), close TCP, then fire `error`? and `close`. */
  #end(e: Ending): void {
    if (this.#ending) return;
    this.#ending = true;
    if (this.#state !== CLOSED) this.#state = CLOSING;
    this.#idle.clear();
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#io?.drainInput();
    void this.#teardown(e);
  }

  async #teardown(e: Ending): Promise<void> {
    const io = this.#io!;
    try {
      await io.drained();
      if (e.linger) await io.linger(LINGER_MS);
    } catch {
      // Nothing here may reject; the socket is closed below regardless.
    }
    io.close();
    this.#state = CLOSED;
    io.clear();
    LIVE.delete(this.#live);
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

  /** Queues a frame (writing starts at once). */
  #push(frame: Uint8Array, appBytes: number): void {
    this.#io?.send(frame, appBytes);
  }
}

/** Starts `ws` on a taken-over connection (the 101 head was written), with its agreed codec. */
export function attachSocket(
  ws: ServerWebSocket,
  conn: SocketDuplex,
  buffered: Uint8Array,
  codec: MessageCodec | null = null,
): void {
  ws[ATTACH](conn, buffered, codec);
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
export function closeAll(code = GOING_AWAY, reason = "server shutting down"): Promise<void> {
  return Promise.all([...LIVE].map((e) => e.ws[SHUTDOWN](code, reason))).then(() => {});
}
