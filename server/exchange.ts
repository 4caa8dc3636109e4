/**
 * The seam between the connection engine and an app style ("two app styles, one core").
 *
 * Contract:
 * - the engine (`server/dispatch.ts`, driven by a socket driver) parses a request and calls a `Handler` with an `Exchange`: the parsed
 *   head, a `BodyReader` over the request body, connection facts and a `Responder`.
 * - The handler (gateway or fetch adapter, in `gateway/`) produces the response only through the
 *   `Responder`: `head()` once, then `write()` any number of times, then `end()`. The connection
 *   owns framing (Content-Length vs chunked vs close-delimited), HEAD/204/304 suppression,
 *   Date/Server/Connection headers, batching and back-pressure.
 * - A handler that throws before `head()` (or whose `head()` was never flushed) gets the canned
 *   500; after the head went out, the connection is aborted. Errors that carry a `status` field
 *   (400..599) use that status instead of 500.
 * - `head()` validates every header (names are tokens; values free of CR, LF, NUL and other CTLs
 *   except HTAB; no hop-by-hop fields) and throws `ResponseError` naming the rule; nothing
 *   is sent until the first non-empty `write()` or `end()`.
 * Types only: this file has no runtime code.
 */
import type { RequestHead } from "./http/request_head.ts";

/** Peer or local address of a connection, shaped like `Deno.NetAddr`/`Deno.UnixAddr`. */
export interface ConnAddr {
  /** "tcp" or "unix". */
  readonly transport: "tcp" | "unix";
  /** IP address (no brackets for IPv6), or the socket path for unix sockets. */
  readonly hostname: string;
  /** Port (0 for unix sockets). */
  readonly port: number;
}

/** Streaming access to one request's decoded body. */
export interface BodyReader {
  /** Declared Content-Length, `null` for chunked bodies, 0 when the request has no body. */
  readonly contentLength: number | null;
  /**
   * Resolves to the next piece of body data (at most `max` bytes when given), or `null` once the
   * body is complete. The returned bytes are a fresh copy owned by the caller. The first call sends
   * `100 Continue` when the client asked for it. Rejects with a `ProtocolError` on malformed
   * framing, a limit or a timeout, and with `Deno.errors.ConnectionReset`-style errors if the client
   * went away.
   */
  read(max?: number): Promise<Uint8Array | null>;
  /**
   * Like `read(target.length)`, but copies the bytes into `target` from its start: resolves to
   * how many were written (at least 1), or 0 once the body is complete. Same `100 Continue` and
   * errors as `read`; an empty `target` is a `RangeError`. Optional: a reader that hands its
   * chunks on without copying leaves it out.
   */
  readInto?(target: Uint8Array): Promise<number>;
  /** True once the whole body has been received and decoded. */
  readonly done: boolean;
  /** Total decoded body bytes delivered so far. */
  readonly bytesRead: number;
}

/** Sends one response. Calls must follow `head`, `write*`, `end` (or `abort`). */
export interface Responder {
  /**
   * Sets the status line and header list. May be called again only while `headSent` is false
   * (replacing the earlier values, as PEP 3333's exc_info requires). Throws `ResponseError`
   * for an invalid status or header. Date and Server are added unless present; Connection,
   * Content-Length for bodiless statuses and Transfer-Encoding are managed by the server.
   * `length` (≥ 0), when the caller knows the whole body's size, is sent as Content-Length
   * exactly as if the headers carried it, unless they already declare one (theirs wins); -1 or
   * absent: unknown.
   */
  head(
    status: number,
    headers: ReadonlyArray<readonly [string, string]>,
    reason?: string,
    length?: number,
  ): void;
  /**
   * Queues body bytes (the head is sent first). Queued bytes go out in the same tick's batch (a
   * microtask flush), so streamed chunks are not held back. Returns a promise when the caller
   * must wait for the socket (back-pressure: more than 64 KiB queued), otherwise `undefined`; the
   * promise rejects if the client went away. Extra bytes beyond a declared Content-Length are
   * dropped and the connection is marked to close.
   */
  write(chunk: Uint8Array): Promise<void> | undefined;
  /**
   * Optional: queues `text` as UTF-8, exactly like `write(new TextEncoder().encode(text))` but
   * without allocating the bytes (the engine encodes straight into its output buffer).
   * `byteLength`, when given, must be `utf8Length(text)` (a caller that needed it for
   * Content-Length passes it on instead of having it counted twice).
   */
  writeText?(text: string, byteLength?: number): Promise<void> | undefined;
  /**
   * Optional: sends `body.length` bytes of an open file from `body.offset` as body bytes, exactly
   * like `write()` of those bytes (the head first), with `sendfile(2)` where the socket driver can
   * (zero-copy) and reads otherwise. Resolves once they were handed to the socket; rejects if the
   * client went away. A file that ends early sends fewer (`end()` then closes a connection whose
   * Content-Length was not met). The file's position may move; it is never closed here.
   */
  sendFile?(body: FileBody): Promise<void>;
  /** Finishes the response (sends the head if still pending). May return a promise to await. */
  end(): Promise<void> | undefined;
  /** True once the status line has been queued for sending. */
  readonly headSent: boolean;
  /** True once the connection is closed (client gone or torn down); cheap to poll. */
  readonly aborted: boolean;
  /** Aborted when the client goes away or the connection is torn down (created lazily). */
  readonly signal: AbortSignal;
}

/** A file to send as (part of) a response body (`Responder.sendFile`). */
export interface FileBody {
  /** The open file. The engine may read it (moving its position) but never closes it. */
  readonly file: Deno.FsFile;
  /** Offset of the first byte to send. */
  readonly offset: number;
  /** Number of bytes to send (fewer when the file ends first). */
  readonly length: number;
  /** Device and inode of `file` (its `stat`): how a driver recognises another fd on it. */
  readonly dev: number;
  /** See `dev`. */
  readonly ino: number;
  /** The path `file` was opened from, when known (a driver may open it again: same inode only). */
  readonly path?: string;
}

/** Everything a handler gets for one request. */
export interface Exchange {
  /** The parsed request head. */
  readonly head: RequestHead;
  /** The request body. */
  readonly body: BodyReader;
  /** Response sink. */
  readonly res: Responder;
  /** Peer address (after trusted proxy headers are applied). */
  readonly remote: ConnAddr;
  /** Local address the connection arrived on. */
  readonly local: ConnAddr;
  /** "http" or "https" (after trusted proxy headers are applied). */
  readonly scheme: "http" | "https";
  /** Host name and port the request addressed (absolute-form authority, else Host, else local). */
  readonly serverName: string;
  /** Port the request addressed as a string (from Host/authority, else the local port). */
  readonly serverPort: string;
  /**
   * Path prefix a trusted proxy removed before forwarding (`X-Forwarded-Prefix`: "/app", as
   * sent, percent-encoded), or "" (also when absent, for exchanges made elsewhere).
   */
  readonly forwardedPrefix?: string;
  /** Request id (X-Request-ID from the client, or generated). */
  readonly requestId: string;
  /** Completes when the response was fully written (or failed). */
  readonly completed: Promise<void>;
  /**
   * Error-log hook for handlers (`lsbaws.errors`). It may be called detached from the exchange
   * (`const log = ex.log`), and should not keep the exchange alive: the gateway hands it to the
   * request's error stream and to a WebSocket, which outlive the exchange.
   */
  readonly log: (level: "debug" | "info" | "warning" | "error", msg: string) => void;
  /**
   * Protocol switch (RFC 9110 §7.8, used for WebSockets): sends `head` (a complete
   * `HTTP/1.1 101 ...` head, validated by the caller) after any queued responses, then hands the
   * socket over. Returns the raw connection and the bytes already received after this request's
   * head. From then on the engine neither reads, writes nor closes the socket; the caller owns it.
   * Only allowed while nothing of this response was queued and the request has no body.
   */
  takeover(head: Uint8Array): Promise<{ conn: SocketDuplex; buffered: Uint8Array }>;
  /**
   * Optional: sends `103 Early Hints` with `headers` (RFC 8297) now, ahead of the final response.
   * Returns false, sending nothing, when the client speaks HTTP/1.0, the final head was queued,
   * the exchange is over or the connection closed. Throws `ResponseError` for a header a final
   * head could not carry either, and for Content-Length, Date and Server. May be called again.
   */
  earlyHints?(headers: ReadonlyArray<readonly [string, string]>): boolean;
}

/**
 * The socket a protocol switch (`Exchange.takeover`) hands over: the part of `Deno.Conn` the
 * WebSocket code uses, so a `Deno.Conn` and the libc backend's socket both satisfy it.
 */
export interface SocketDuplex {
  /** Reads into `p`; resolves to the byte count, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes from `p`; resolves to the number of bytes written (possibly fewer than `p.length`). */
  write(p: Uint8Array): Promise<number>;
  /** Shuts down the sending side (TCP FIN). */
  closeWrite(): Promise<void>;
  /** Closes the socket. */
  close(): void;
}

/** An app style adapted to the engine. May complete synchronously (the fast path). */
export type Handler = (ex: Exchange) => void | Promise<void>;
