/**
 * What a server WebSocket is created with: its options and the process-wide defaults for the
 * options left out.
 *
 * Contract:
 * - `ServerWebSocketOptions` are those of `new ServerWebSocket(options)` (`server/websocket.ts`).
 * - Until `setWebSocketDefaults(config)` is called (by `main.ts`, from the `websocket*` settings
 *   and `--idle-read-buffer-bytes`), the defaults are the settings' defaults, which are the same
 *   values as `Deno.upgradeWebSocket`'s (permessage-deflate, which Deno's does not offer, is on
 *   by default, as in uvicorn). `webSocketDefaults()` returns the ones in effect; a
 *   socket reads them once, when it is created.
 */
import { type Config, DEFAULTS } from "./config.ts";

/** Process-wide defaults for options a socket is created without (the `websocket*` settings). */
export type WebSocketDefaults = Pick<
  Config,
  | "websocketMaxMessageBytes"
  | "websocketIdleTimeoutMs"
  | "websocketCloseTimeoutMs"
  | "websocketPerMessageDeflate"
  | "idleReadBufferBytes"
>;

let defaults: WebSocketDefaults = DEFAULTS;

/** The defaults in effect now. */
export function webSocketDefaults(): WebSocketDefaults {
  return defaults;
}

/** Sets the defaults for sockets created from now on (see the module comment). */
export function setWebSocketDefaults(config: WebSocketDefaults): void {
  const {
    websocketMaxMessageBytes,
    websocketIdleTimeoutMs,
    websocketCloseTimeoutMs,
    websocketPerMessageDeflate,
    idleReadBufferBytes,
  } = config;
  defaults = {
    websocketMaxMessageBytes,
    websocketIdleTimeoutMs,
    websocketCloseTimeoutMs,
    websocketPerMessageDeflate,
    idleReadBufferBytes,
  };
}

/**
 * How a socket's messages are carried when an extension was negotiated (permessage-deflate,
 * `server/websocket_deflate.ts`): incoming compressed messages are inflated, outgoing ones framed.
 */
export interface MessageCodec {
  /** The `Sec-WebSocket-Extensions` value agreed on. */
  readonly response: string;
  /** Decompresses one whole compressed message; throws `WebSocketProtocolError`. */
  inflate(payload: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer>;
  /** The frame (header and payload) that sends one message. */
  encode(opcode: number, payload: Uint8Array): Uint8Array<ArrayBuffer>;
}

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
