/**
 * The I/O-free heart of one HTTP/1.1 connection: bytes in, requests and body data out; responses
 * in, bytes out. In the spirit of h11's `Connection`.
 *
 * Contract (sans-IO: no Deno APIs, no timers, no promises; every method is synchronous):
 * - Input: the driver reads into `writable()` and reports `receive(n)`, or `receiveEof()` at end
 *   of stream. `nextRequest()` parses the next complete request head out of the buffer (so every
 *   pipelined request already buffered is served before the next read) and returns it, or
 *   `partial` (read more), or the `ProtocolError` that ends the connection.
 * - Body: `takeBody(max)` decodes Content-Length or chunked framing straight out of the receive
 *   buffer (one copy, into the returned chunk; `takeBodyInto(target)` copies into the caller's
 *   buffer instead) and enforces the body limits; `bodyDone` says the body is complete. The first
 *   `markBodyRead()` queues `100 Continue` when the client waits for it and no part of the final
 *   response was queued (RFC 9110 §10.1.1, §15.2).
 * - Response: `responseHead`, `responseBody`/`responseText` (and, for a file the driver sends
 *   itself, `responseFileRoom`/`responseFileSent`) and `responseEnd` hand the app's response to
 *   the `ResponseWriter` (response_writer.ts), which validates it and chooses the framing;
 *   `rollbackResponse()` drops a response none of whose bytes were taken for writing yet, so a
 *   failure can still be answered with its own status.
 * - Errors: `queueError(err)` is the one mapping from an error to response bytes (the exact
 *   status of an `HttpError`, 500 otherwise, always `Connection: close`, never echoing request
 *   bytes) and moves the connection to `closing`.
 * - Persistence: `finishExchange()` decides whether the connection is reused (HTTP version and
 *   `Connection` header, the response framing, errors, shutdown, an unread body over
 *   `maxDrainBytes` or one the client was never asked to send) and reports `reuse`, `drain` (the
 *   caller discards the rest of the body with `takeBody`, then calls `finishDrain`) or `close`.
 * - State lives in `state` and changes only through the table in `cycle.ts`.
 * - Output: bytes accumulate in the `OutputQueue`; the driver takes them with `takeOutput()` and
 *   writes them in order.
 */
import type { Limits } from "../config.ts";
import { concatBytes } from "./bytes.ts";
import { ChunkedDecoder } from "./chunked.ts";
import { type ConnState, isRunning, step } from "./cycle.ts";
import * as cycleModule from "./cycle.ts";
import { encodeErrorResponseFor, ProtocolError, statusOf } from "./errors.ts";
import { analyzeHead, type HeadInfo } from "./framing.ts";
import type { OutputQueue } from "./output_queue.ts";
import { ReceiveBuffer } from "./receive_buffer.ts";
import { parseRequestHead, type RequestHead } from "./request_head.ts";
import * as responseHeadModule from "./response_head.ts";
import { type QueueResult, ResponseWriter } from "./response_writer.ts";

// Module-private copies of imported constants (see `server/http/bytes.ts`).
const {
  EVENT_BODY_END,
  EVENT_CLOSE,
  EVENT_CLOSED,
  EVENT_DATA,
  EVENT_REQUEST,
  EVENT_REQUEST_BODY,
  EVENT_RESPONSE_END,
  EVENT_REUSE,
  STATES,
  STATE_BODY,
  STATE_CLOSED,
  STATE_CLOSING,
  STATE_IDLE,
} = cycleModule;
const { CONTINUE_RESPONSE } = responseHeadModule;

export { QUEUED_COPY, QUEUED_NOTHING, QUEUED_REF, type QueueResult } from "./response_writer.ts";

/** What the core needs to know; all of it plain data. */
export interface CoreOptions {
  /** Parser and body limits. */
  readonly limits: Limits;
  /** Size of a read once a connection is busy. */
  readonly readBufferBytes: number;
  /** Size of the first read of a request (idle connections hold no more). */
  readonly idleReadBufferBytes: number;
  /** Unread body bytes discarded before the connection is reused; beyond, it closes. */
  readonly maxDrainBytes: number;
  /** Server header value (empty omits it). */
  readonly serverHeader: string;
  /** Current IMF-fixdate for Date headers (cached per second; "": none). */
  readonly date: () => string;
  /** Default header lines (`--header`) for every response. */
  readonly defaultHeaders?: string;
  /** Shared server state: once `shuttingDown`, every response says `Connection: close`. */
  readonly server: { readonly shuttingDown: boolean };
}

/** What `nextRequest` found in the buffer. */
export type RequestEvent =
  | { readonly kind: "request"; readonly head: RequestHead; readonly info: HeadInfo }
  | { readonly kind: "partial" }
  | { readonly kind: "error"; readonly error: ProtocolError };

/** What `finishExchange` decided. */
export type FinishResult = "reuse" | "drain" | "close";

/** One connection's protocol state; see the module comment. */
export class ConnectionCore {
  /** Current state as a `STATE_*` number (see `cycle.ts`). */
  #s = STATE_IDLE;
  /** The receive buffer (the driver reads into `writable()`). */
  readonly rb: ReceiveBuffer;
  /** The response side (head, body, framing, rollback). */
  readonly response: ResponseWriter;
  /** Bytes waiting to be written, in order. */
  readonly out: OutputQueue;
  /** The peer closed its sending side. */
  eof = false;
  /** Requests started on this connection. */
  requests = 0;

  readonly #opts: CoreOptions;
  #scanned = 0;
  #mustClose = false;

  // The current exchange's request side.
  #info: HeadInfo | null = null;
  #remaining = 0;
  #decoder: ChunkedDecoder | null = null;
  #bodyDone = true;
  #bodyStarted = false;
  #bodyBytes = 0;
  #continueSent = false;

  /** Creates the core for a new connection. */
  constructor(opts: CoreOptions) {
    this.#opts = opts;
    this.response = new ResponseWriter({
      ...opts, // serverHeader, date, defaultHeaders, server
      unreadBodyCloses: () => this.#closesForUnreadBody(),
    });
    this.out = this.response.out;
    this.rb = new ReceiveBuffer(
      opts.readBufferBytes,
      opts.limits.maxHeadBytes + opts.readBufferBytes,
      opts.idleReadBufferBytes,
    );
  }

  /** Current state (see `cycle.ts`). */
  get state(): ConnState {
    return STATES[this.#s];
  }

  #to(event: number): void {
    this.#s = step(this.#s, event);
  }

  // ---- Input ------------------------------------------------------------------------------

  /**
   * Where the next read goes; empty when the buffer is full (the driver treats that as
   * `HEADERS_TOO_LARGE`). Stays valid, and never moves, until `receive`.
   */
  writable(): Uint8Array {
    return this.rb.writable();
  }

  /** `n` bytes were read into `writable()`. */
  receive(n: number): void {
    this.rb.commit(n);
    if (n > 0 && this.#s === STATE_IDLE) this.#to(EVENT_DATA);
  }

  /** A read failed or was abandoned: the lent view is returned unused. */
  receiveNothing(): void {
    this.rb.commit(0);
  }

  /** The peer closed its sending side. */
  receiveEof(): void {
    this.rb.commit(0);
    this.eof = true;
  }

  /** Whether buffered bytes start another request (pipelining). */
  get hasBuffered(): boolean {
    return this.rb.length > 0;
  }

  /**
   * Parses the next buffered request head. A `request` starts an exchange (the state becomes
   * `body` or `responding`); an `error` has already queued its response and moved to `closing`.
   */
  nextRequest(): RequestEvent {
    const rb = this.rb;
    let result;
    try {
      result = parseRequestHead(rb.storage, this.#opts.limits, this.#scanned, rb.start, rb.end);
    } catch (err) {
      return this.#protocolError(err);
    }
    if (result.kind === "partial") {
      this.#scanned = result.scanned;
      if (this.#s === STATE_IDLE) this.#to(EVENT_DATA);
      return PARTIAL;
    }
    this.#scanned = 0;
    rb.consume(result.consumed);
    let info: HeadInfo;
    try {
      info = analyzeHead(result.head, this.#opts.limits);
    } catch (err) {
      return this.#protocolError(err);
    }
    if (this.#s === STATE_IDLE) this.#to(EVENT_DATA);
    this.#begin(result.head, info);
    return { kind: "request", head: result.head, info };
  }

  #protocolError(err: unknown): RequestEvent {
    if (!(err instanceof ProtocolError)) throw err; // A parser bug: the driver logs the stack.
    this.queueError(err);
    return { kind: "error", error: err };
  }

  #begin(head: RequestHead, info: HeadInfo): void {
    this.requests++;
    this.#info = info;
    const framing = info.framing;
    const chunked = framing.kind === "chunked";
    this.#remaining = framing.kind === "length" ? framing.length : 0;
    this.#decoder = chunked ? new ChunkedDecoder(this.#opts.limits) : null;
    this.#bodyDone = !chunked && this.#remaining === 0;
    this.#bodyStarted = false;
    this.#bodyBytes = 0;
    this.#continueSent = false;
    this.response.reset(
      head.method,
      head.minor,
      info.keepAlive && !this.#opts.server.shuttingDown && !this.#mustClose,
    );
    this.#to(this.#bodyDone ? EVENT_REQUEST : EVENT_REQUEST_BODY);
  }

  // ---- Request body -----------------------------------------------------------------------

  /** True once the whole request body was received and decoded (or there is none). */
  get bodyDone(): boolean {
    return this.#bodyDone;
  }

  /** Decoded body bytes delivered so far. */
  get bodyBytes(): number {
    return this.#bodyBytes;
  }

  /** The app asked for the body: queue `100 Continue` if the client waits for it. */
  markBodyRead(): void {
    if (this.#bodyStarted) return;
    this.#bodyStarted = true;
    if (this.#info !== null && this.#info.expectContinue && !this.#continueSent) {
      this.#continueSent = true;
      // RFC 9110 §15.2: no 1xx once the final response has started.
      if (!this.response.headQueued) this.out.pushBytes(CONTINUE_RESPONSE);
    }
  }

  /**
   * Takes buffered body bytes (at most `max` when `max > 0`) as a fresh copy; null when none are
   * buffered or the body is complete (`bodyDone`). Throws `ProtocolError` for malformed chunked
   * framing or an exceeded limit.
   */
  takeBody(max = 0): Uint8Array | null {
    const pieces = this.#bodyPieces(max);
    if (pieces === null || pieces.length === 0) return null;
    // The pieces are views into the receive buffer: one copy, owned by the caller.
    const out = pieces.length === 1 ? pieces[0].slice() : concatBytes(pieces);
    this.#bodyBytes += out.length;
    return out;
  }

  /**
   * Like `takeBody(target.length)`, but copies the bytes into `target` from its start instead of
   * allocating: returns how many were copied, 0 when none are buffered, the body is complete or
   * `target` is empty.
   */
  takeBodyInto(target: Uint8Array): number {
    const pieces = target.length === 0 ? null : this.#bodyPieces(target.length);
    let n = 0;
    for (const piece of pieces ?? []) {
      target.set(piece, n);
      n += piece.length;
    }
    this.#bodyBytes += n;
    return n;
  }

  /**
   * Consumes up to `max` (> 0) or all buffered body bytes, as views into the receive buffer valid
   * until it is next written; null when none are buffered or the body is complete.
   */
  #bodyPieces(max: number): Uint8Array[] | null {
    if (this.#bodyDone) return null;
    const buf = this.rb;
    if (buf.length === 0) return null;
    if (this.#decoder === null) {
      const n = Math.min(buf.length, this.#remaining, max > 0 ? max : Infinity);
      const piece = buf.view().subarray(0, n);
      buf.consume(n);
      this.#remaining -= n;
      if (this.#remaining === 0) this.#endBody();
      return [piece];
    }
    const r = this.#decoder.decode(buf.view(), max);
    buf.consume(r.consumed);
    if (r.done) this.#endBody();
    return r.data;
  }

  #endBody(): void {
    this.#bodyDone = true;
    if (this.#s === STATE_BODY) this.#to(EVENT_BODY_END);
  }

  /**
   * RFC 9110 §10.1.1: a final response sent before the body was read says whether the connection
   * closes. It does when the app has not touched the body and either the client still waits for
   * `100 Continue` or the declared length is more than we would drain.
   */
  #closesForUnreadBody(): boolean {
    const info = this.#info; // null once the exchange settled: nothing is unread any more.
    if (info === null || this.#bodyStarted || this.#bodyDone) return false;
    return info.expectContinue ||
      (info.framing.kind === "length" &&
        info.framing.length - this.#bodyBytes > this.#opts.maxDrainBytes);
  }

  // ---- Response (delegated to the connection's `ResponseWriter`) ---------------------------

  /** Response status (for the access log; the error status after `queueError`). */
  get status(): number {
    return this.response.status;
  }

  /** Response bytes queued so far (head included). */
  get bytesOut(): number {
    return this.response.bytesOut;
  }

  /** Whether the response's status line has been queued. */
  get headQueued(): boolean {
    return this.response.headQueued;
  }

  /** Whether `responseEnd` was called. */
  get responseEnded(): boolean {
    return this.response.ended;
  }

  /** Marks the connection to close after this response (e.g. the concurrency limit's 503). */
  markCloseAfter(): void {
    this.response.closeAfter = true;
  }

  /**
   * Sets the response head; throws `ResponseError` naming the broken rule. `length` (≥ 0): the
   * body's known size, sent as Content-Length unless the headers declare one.
   */
  responseHead(
    status: number,
    headers: ReadonlyArray<readonly [string, string]>,
    reason = "",
    length = -1,
  ): void {
    this.response.head(status, headers, reason, length);
  }

  /** Queues a body chunk (the head first if still pending); see `QueueResult`. */
  responseBody(chunk: Uint8Array): QueueResult {
    return this.response.body(chunk);
  }

  /** Queues `text` as UTF-8 (`n` is its encoded length); see `QueueResult`. */
  responseText(text: string, n?: number): QueueResult {
    return this.response.text(text, n);
  }

  /** How many of `n` file bytes the driver may send itself (see `ResponseWriter.fileRoom`). */
  responseFileRoom(n: number): number {
    return this.response.fileRoom(n);
  }

  /** The driver sent `n` file bytes granted by `responseFileRoom`. */
  responseFileSent(n: number): void {
    this.response.fileSent(n);
  }

  /**
   * Finishes the response. Returns the number of declared Content-Length bytes that were never
   * sent (the connection then closes), 0 normally.
   */
  responseEnd(): number {
    const short = this.response.end();
    if (this.response.closeAfter) this.#mustClose = true;
    return short;
  }

  /** Drops the current response's queued bytes if none was taken for writing; true if it could. */
  rollbackResponse(): boolean {
    return this.response.rollback();
  }

  /**
   * The one mapping from an error to response bytes: queues the canned response for
   * `statusOf(err)` (`Connection: close`, nothing echoed), records the status, and moves to
   * `closing`. The caller must first make sure nothing of another response to this request is
   * queued (`rollbackResponse`).
   */
  queueError(err: unknown): number {
    const status = statusOf(err);
    this.out.pushBytes(encodeErrorResponseFor(status, this.#opts));
    this.response.status = status;
    this.#mustClose = true;
    this.#to(EVENT_CLOSE);
    return status;
  }

  /** A `408` for a request head that did not complete in time; moves to `closing`. */
  queueTimeout(): void {
    this.queueError(new ProtocolError("REQUEST_TIMEOUT", "request head"));
  }

  /** Marks the connection to close once the current exchange is over. */
  markClose(): void {
    this.#mustClose = true;
  }

  /** Whether the connection will close after the current exchange. */
  get mustClose(): boolean {
    return this.#mustClose;
  }

  // ---- End of an exchange -----------------------------------------------------------------

  /**
   * The response is finished (or failed with `failed`): decides what happens to the connection.
   * `drain`: discard the rest of the body (`takeBody`) up to `maxDrainBytes`, then `finishDrain`.
   */
  finishExchange(failed: boolean): FinishResult {
    const res = this.response;
    let keep = res.keepAlive && !failed && !res.closeAfter && !this.#mustClose;
    if (keep && !this.#bodyDone) {
      if (this.#info!.expectContinue && !this.#continueSent) keep = false;
      else {
        if (this.#s === STATE_BODY) this.#to(EVENT_RESPONSE_END);
        return "drain";
      }
    }
    if (res.closeAfter) this.#mustClose = true;
    return this.#settle(keep);
  }

  /** Draining ended: `complete` says whether the body ended within `maxDrainBytes`. */
  finishDrain(complete: boolean): FinishResult {
    return this.#settle(complete && this.#bodyDone && !this.#mustClose);
  }

  #settle(keep: boolean): FinishResult {
    this.#info = null; // Not kept alive while idle: shorter GC pauses under load.
    if (this.#s === STATE_CLOSING || this.#s === STATE_CLOSED) return "close";
    if (!keep) {
      this.#mustClose = true;
      this.#to(EVENT_CLOSE);
      return "close";
    }
    this.#to(EVENT_REUSE);
    if (this.rb.length > 0) this.#to(EVENT_DATA);
    return "reuse";
  }

  /** The maximum number of unread body bytes discarded before reuse. */
  get maxDrainBytes(): number {
    return this.#opts.maxDrainBytes;
  }

  /** The connection must close (error, timeout, shutdown): no further request is read. */
  close(): void {
    this.#mustClose = true;
    this.#to(EVENT_CLOSE);
  }

  /** The socket is gone (closed, reset or taken over). */
  closed(): void {
    this.#to(EVENT_CLOSED);
  }

  /** The connection is idle with nothing buffered: give grown buffer storage back. */
  shrink(): void {
    this.rb.shrink();
  }

  /** Takes everything queued for writing, in order (a response taken cannot be rolled back). */
  takeOutput(): Uint8Array[] {
    return this.response.takeOutput();
  }

  /** Whether a response is running (a request was dispatched and its exchange is not over). */
  get busy(): boolean {
    return isRunning(this.#s);
  }
}

const PARTIAL: RequestEvent = Object.freeze({ kind: "partial" });
