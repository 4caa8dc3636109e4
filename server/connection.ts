/**
 * One client connection: the only code that reads from or writes to a socket.
 *
 * Contract:
 * - Reads into one reusable `ReceiveBuffer`, then parses and serves *every* complete request
 *   already buffered before the next read (pipelining); responses are queued in order and sent
 *   with one write per batch (before any read, when a response streams, or past 64 KiB).
 * - Each request goes to the `Handler` as an `Exchange`; the `Responder` here owns framing
 *   (Content-Length, chunked on HTTP/1.1, close-delimited on HTTP/1.0), HEAD/204/304 bodies,
 *   Date/Server/Connection headers and never sends more than a declared Content-Length (fewer →
 *   logged, connection closed).
 * - A `ProtocolError` becomes its canned response (`Connection: close`) and the connection
 *   closes; requests answered earlier in the same batch keep their responses. A handler error
 *   before any of its bytes reached the socket becomes a 500 (or the error's own `status`); after
 *   that the connection is aborted. Peer I/O errors close quietly.
 * - Unread request bodies are drained up to `maxDrainBytes`, otherwise the connection closes.
 *   `100 Continue` goes out when the app first reads the body; if it never does, the connection
 *   closes after the response instead of guessing where the unsent body would end.
 * - Timeouts: `deadline` is checked by the server's sweeper (`checkTimeout`): idle keep-alive
 *   connections are closed silently, a request head that is still incomplete gets 408. Body reads
 *   use their own timer (`bodyTimeoutMs`).
 */
import type { Config, Limits } from "./config.ts";
import type { ConnAddr, Exchange, Handler, Responder } from "./exchange.ts";
import {
  describeError as describe,
  encodeErrorResponse,
  HttpError,
  ProtocolError,
  ResponseError,
  statusOf,
} from "./http/errors.ts";
import { analyzeHead, type HeadInfo } from "./http/framing.ts";
import { COPY_LIMIT, OutputQueue, type QueueMark } from "./http/output_queue.ts";
import { ReceiveBuffer } from "./http/receive_buffer.ts";
import { utf8Length } from "./http/bytes.ts";
import { parseRequestHead, type RequestHead } from "./http/request_head.ts";
import { requestIdFrom } from "./http/request_id.ts";
import {
  CONTINUE_RESPONSE,
  CRLF_BYTES,
  headerKind,
  KIND_CONTENT_LENGTH,
  LAST_CHUNK,
  type ResponseFraming,
  validateResponseHead,
  writeResponseHead,
} from "./http/response_head.ts";
import { statusAllowsBody, statusAllowsContentLength } from "./http/status.ts";
import type { Logger } from "./log.ts";
import { type BodySource, RequestBody } from "./request_body.ts";
import { isPeerGone } from "./io_errors.ts";

export { isPeerGone };

/** Shared, mutable server state the connection reads and updates. */
export interface ServerState {
  /** Set once graceful shutdown started: finish the current request, then close. */
  shuttingDown: boolean;
  /** Requests currently being handled by this process. */
  inflight: number;
  /** Requests handled since start. */
  requests: number;
}

/** Everything a connection needs from the server. */
export interface ConnectionContext {
  /** Server configuration. */
  readonly config: Config;
  /** Parser limits (from `config`). */
  readonly limits: Limits;
  /** The app adapted to the engine. */
  readonly handler: Handler;
  /** Error and access log. */
  readonly logger: Logger;
  /** Current time (ms) and IMF-fixdate, cached once per second by the server. */
  readonly clock: { now(): number; date(): string };
  /** Shared server state. */
  readonly state: ServerState;
  /** "https" for TLS listeners. */
  readonly scheme: "http" | "https";
  /** Called when a request starts being handled (worker liveness bookkeeping hooks in here). */
  readonly onRequestStart?: (head: RequestHead) => void;
  /** Called after every finished request (worker recycling hooks in here). */
  readonly onRequestDone?: () => void;
  /**
   * Applies trusted proxy headers (`server/proxy.ts`): given the head and the socket peer, returns
   * the client address, scheme and host to report, or null to keep the socket's view.
   */
  readonly resolveClient?: (
    head: RequestHead,
    peer: ConnAddr,
    scheme: "http" | "https",
  ) => ClientView | null;
}

/** What trusted proxy headers say about the original client. */
export interface ClientView {
  /** Original client address. */
  readonly remote: ConnAddr;
  /** Original scheme. */
  readonly scheme: "http" | "https";
  /** Original Host name (without port), if a trusted header gave one. */
  readonly hostName?: string;
  /** Original port, if a trusted header gave one. */
  readonly hostPort?: string;
}

const HIGH_WATER = 64 * 1024;
/** First read of a request asks for this much; idle connections hold no more (RSS per idle conn). */
const IDLE_READ_BYTES = 2048;

type Phase = "idle" | "head" | "busy" | "closed";

/** Serves one accepted connection until it closes. */
export class Connection {
  readonly #conn: Deno.Conn;
  readonly #ctx: ConnectionContext;
  readonly #rb: ReceiveBuffer;
  readonly remote: ConnAddr;
  readonly local: ConnAddr;
  readonly #out = new OutputQueue();
  #pendingRead: Promise<number | null> | null = null;
  /** The peer closed its sending side (read returned EOF). */
  #eof = false;
  #closed = false;
  #mustClose = false;
  /** Time (ms) after which `checkTimeout` acts; 0 = none. */
  deadline = 0;
  /** What the connection is doing, for timeouts and graceful shutdown. */
  phase: Phase = "idle";
  #abort: AbortController | null = null;
  /** Set once a handler took the socket over (protocol switch). */
  hijacked = false;

  /** Wraps an accepted `Deno.Conn`. */
  constructor(conn: Deno.Conn, ctx: ConnectionContext) {
    this.#conn = conn;
    this.#ctx = ctx;
    this.#rb = new ReceiveBuffer(
      ctx.config.readBufferBytes,
      ctx.limits.maxHeadBytes + ctx.config.readBufferBytes,
      IDLE_READ_BYTES,
    );
    this.remote = toAddr(conn.remoteAddr);
    this.local = toAddr(conn.localAddr);
  }

  /** Runs the read-parse-respond loop; never rejects. */
  async run(): Promise<void> {
    try {
      await this.#loop();
    } catch (err) {
      this.#onFatal(err);
    } finally {
      this.close();
    }
  }

  /** Closes the socket (idempotent). Pending reads and writes fail and the loop ends. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.phase = "closed";
    if (this.hijacked) return;
    this.#abort?.abort();
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer or the runtime.
    }
    // The receive buffer's storage goes back to the pool now, or once a pending read settles.
    if (this.#pendingRead === null) this.#rb.release();
  }

  /** Sweeper hook: enforces idle and header timeouts. */
  checkTimeout(now: number): void {
    if (this.deadline === 0 || now < this.deadline || this.#closed) return;
    if (this.phase === "idle") {
      this.close();
    } else if (this.phase === "head") {
      this.deadline = 0;
      this.queueBytes(
        encodeErrorResponse(408, this.#ctx.clock.date(), this.#ctx.config.serverHeader),
      );
      this.#flush().catch(() => {}).finally(() => this.close());
    }
  }

  async #loop(): Promise<void> {
    const ctx = this.#ctx;
    const limits = ctx.limits;
    let scanned = 0;
    if ("setNoDelay" in this.#conn) (this.#conn as Deno.TcpConn).setNoDelay(true);
    this.#setIdle();
    while (!this.#closed) {
      // Serve every complete request already in the buffer (pipelining).
      while (this.#rb.length > 0 && !this.#closed) {
        let result;
        try {
          result = parseRequestHead(this.#rb.view(), limits, scanned);
        } catch (err) {
          await this.#sendProtocolError(err);
          return;
        }
        if (result.kind === "partial") {
          scanned = result.scanned;
          break;
        }
        scanned = 0;
        this.#rb.consume(result.consumed);
        let info: HeadInfo;
        try {
          info = analyzeHead(result.head, limits);
        } catch (err) {
          await this.#sendProtocolError(err);
          return;
        }
        const served = this.#serve(result.head, info);
        const keep = typeof served === "boolean" ? served : await served;
        if (!keep || this.#mustClose) {
          await this.#flush();
          return;
        }
      }
      // Start reading the next request while this batch is being written (one event-loop turn
      // less per keep-alive request). Wait for the write only when bytes are queued behind a
      // write still in flight, so a client that does not read its responses cannot make us
      // queue without bound.
      const sent = this.#flush();
      if (this.#out.size > 0) await sent;
      if (this.#closed) return;
      if (this.#rb.length > 0) {
        if (this.phase !== "head") {
          this.phase = "head";
          this.deadline = ctx.clock.now() + ctx.config.headersTimeoutMs;
        }
      } else {
        if (this.#mustClose) return;
        this.#setIdle();
      }
      const n = await this.#read();
      if (n === null) return; // EOF: a partial request gets no response.
      if (this.phase === "idle") {
        this.phase = "head";
        this.deadline = ctx.clock.now() + ctx.config.headersTimeoutMs;
      }
    }
  }

  /**
   * While an async handler runs with the body fully read, keep a read pending so a client that
   * disconnects is noticed: EOF or a reset aborts the request's signal (as `Deno.serve` does). The
   * response is still attempted (a half-closed client gets it); bytes that arrive are the next
   * pipelined request and stay buffered.
   */
  #watchPeer(): void {
    if (this.#pendingRead !== null || this.#eof || this.#closed) return;
    this.#read().then((n) => {
      if (n === null) this.#abortRequest();
    }, () => this.#abortRequest());
  }

  #abortRequest(): void {
    if (this.hijacked) return;
    this.#peerGone = true;
    this.#abort?.abort();
  }

  #peerGone = false;

  #setIdle(): void {
    this.#rb.shrink();
    this.phase = "idle";
    this.deadline = this.#ctx.clock.now() + this.#ctx.config.keepAliveTimeoutMs;
  }

  /** Reads once into the receive buffer; null at EOF. Shares one pending read. */
  #read(): Promise<number | null> {
    if (this.#pendingRead) return this.#pendingRead;
    if (this.#eof) return Promise.resolve(null);
    const view = this.#rb.writable();
    if (view.length === 0) return Promise.reject(new ProtocolError("HEADERS_TOO_LARGE"));
    const p = this.#conn.read(view).then((n) => {
      this.#pendingRead = null;
      if (n !== null) this.#rb.commit(n);
      else {
        this.#rb.commit(0);
        this.#eof = true;
      }
      if (this.#closed) this.#rb.release();
      return n;
    }, (err) => {
      this.#pendingRead = null;
      this.#rb.commit(0);
      if (this.#closed) this.#rb.release();
      throw err;
    });
    this.#pendingRead = p;
    return p;
  }

  /**
   * Handles one request; returns (or resolves to) whether the connection may be reused. A
   * synchronous handler that finished its response is served without creating a promise.
   */
  #serve(head: RequestHead, info: HeadInfo): boolean | Promise<boolean> {
    const ctx = this.#ctx;
    this.phase = "busy";
    this.deadline = 0;
    const keepAlive = info.keepAlive && !ctx.state.shuttingDown && !this.#mustClose;
    const ex = new ConnExchange(head, info, this, keepAlive);
    const res = ex.res;
    ctx.state.inflight++;
    ctx.state.requests++;
    ctx.onRequestStart?.(head);
    let r: void | Promise<void> = undefined;
    this.#dispatching = true;
    try {
      const limit = ctx.config.limitConcurrency;
      const path = ctx.config.healthPath;
      if (limit > 0 && ctx.state.inflight > limit) {
        res.closeAfter = true;
        res.head(503, [["content-type", "text/plain"], ["retry-after", "1"], [
          "content-length",
          "20",
        ]]);
        res.write(OVERLOADED);
        res.end();
      } else if (path !== "" && pathOf(head.target) === path) {
        const ok = !ctx.state.shuttingDown;
        res.head(ok ? 200 : 503, [["content-type", "text/plain"], [
          "content-length",
          ok ? "3" : "14",
        ]]);
        res.write(ok ? HEALTH_OK : HEALTH_DOWN);
        res.end();
      } else {
        r = ctx.handler(ex);
      }
    } catch (err) {
      this.#dispatching = false;
      return this.#serveFailed(ex, err);
    }
    this.#dispatching = false;
    if (r !== undefined) {
      // An async handler may have queued bytes (a head, a first chunk, even the whole response)
      // before its first await; they go out now, not when the handler settles. (With more
      // pipelined requests buffered they wait for the batch, as streamed chunks always do.)
      if (this.#out.size > 0 && this.#rb.length === 0) this.#flush();
      // Not for upgrade requests: a pending read would swallow the first bytes of the new
      // protocol after a takeover.
      if (ex.body.done && this.#rb.length === 0 && info.upgrade === "") this.#watchPeer();
      return this.#serveAsync(ex, r);
    }
    return this.#handlerReturned(ex);
  }

  /** The rest of `#serve` when the handler returned a promise. */
  async #serveAsync(ex: ConnExchange, r: Promise<void>): Promise<boolean> {
    try {
      await r;
    } catch (err) {
      return this.#serveFailed(ex, err);
    }
    return this.#handlerReturned(ex);
  }

  /** The handler returned (or its promise resolved): it took the socket over or answered. */
  #handlerReturned(ex: ConnExchange): boolean | Promise<boolean> {
    if (this.hijacked) {
      this.#ctx.state.inflight--;
      return false;
    }
    if (!ex.res.ended) {
      return this.#serveFailed(
        ex,
        new ResponseError("response-order", "handler returned without finishing the response"),
      );
    }
    this.#ctx.state.inflight--;
    return this.#afterResponse(ex, ex.keepAlive);
  }

  /** The rest of `#serve` when the handler (or its promise) failed. */
  async #serveFailed(ex: ConnExchange, err: unknown): Promise<boolean> {
    try {
      await this.#answerFailure(ex.res, ex.body.failure ?? err, ex.head);
    } finally {
      this.#ctx.state.inflight--;
    }
    return this.#afterResponse(ex, false);
  }

  /**
   * After the response: drains what the app left unread of the body (or gives up on the
   * connection), then bookkeeping and the access log. Synchronous unless a drain is needed.
   */
  #afterResponse(ex: ConnExchange, keepAlive: boolean): boolean | Promise<boolean> {
    if (ex.res.closeAfter) keepAlive = false;
    if (keepAlive && !ex.body.done) {
      if (ex.info.expectContinue && !ex.continueSent) keepAlive = false;
      else return this.#drainThenFinish(ex);
    }
    return this.#finishExchange(ex, keepAlive);
  }

  async #drainThenFinish(ex: ConnExchange): Promise<boolean> {
    let keepAlive: boolean;
    try {
      keepAlive = await ex.body.discard(this.#ctx.config.maxDrainBytes);
    } catch {
      keepAlive = false;
    }
    return this.#finishExchange(ex, keepAlive);
  }

  #finishExchange(ex: ConnExchange, keepAlive: boolean): boolean {
    const ctx = this.#ctx;
    const res = ex.res;
    const head = ex.head;
    res.finish();
    ex.markCompleted();
    // The exchange is over: closing the connection later must not abort its signal (and an
    // abort without a reason costs a DOMException with a stack trace).
    this.#abort = null;
    if (ctx.logger.accessEnabled) {
      ctx.logger.access({
        remote: ex.remote.hostname,
        method: head.method,
        target: head.target,
        version: head.version,
        status: res.status,
        bytesIn: ex.body.bytesRead,
        bytesOut: res.bytesOut,
        durationMs: ctx.clock.now() - ex.started,
        requestId: ex.requestId,
        referer: headerOf(head, "referer"),
        userAgent: headerOf(head, "user-agent"),
        time: Date.now(),
      });
    }
    ctx.onRequestDone?.();
    return keepAlive && !this.#closed;
  }

  /** Answers a failed exchange; the connection closes afterwards. */
  async #answerFailure(res: ConnResponder, err: unknown, head: RequestHead): Promise<void> {
    const ctx = this.#ctx;
    const status = statusOf(err);
    if (isPeerGone(err)) {
      ctx.logger.log("debug", `client went away: ${describe(err)}`);
      this.close();
      return;
    }
    if (err instanceof ProtocolError) {
      ctx.logger.log("info", `bad request body from ${this.remote.hostname}: ${err.code}`);
    } else if (err instanceof HttpError && err.logged) {
      // The adapter already logged these with the stack and the rule they broke.
      ctx.logger.log("debug", `answering ${status} for ${head.method} ${head.target}`);
    } else {
      ctx.logger.log(
        "error",
        `error handling ${head.method} ${head.target}: ${describe(err)}`,
      );
    }
    if (res.rollback()) {
      this.queueBytes(encodeErrorResponse(status, ctx.clock.date(), ctx.config.serverHeader));
      res.status = status;
      await this.#flush().catch(() => {});
    } else {
      await this.#flush().catch(() => {});
      this.close();
    }
  }

  async #sendProtocolError(err: unknown): Promise<void> {
    if (isPeerGone(err)) return;
    const status = statusOf(err);
    if (err instanceof ProtocolError) {
      this.#ctx.logger.log("info", `bad request from ${this.remote.hostname}: ${err.code}`);
    } else {
      this.#ctx.logger.log("error", `internal parser error: ${describe(err)}`);
    }
    this.queueBytes(
      encodeErrorResponse(status, this.#ctx.clock.date(), this.#ctx.config.serverHeader),
    );
    await this.#flush().catch(() => {});
  }

  /** The receive buffer (for the request body reader). */
  get receiveBuffer(): ReceiveBuffer {
    return this.#rb;
  }

  /** Appends bytes to the outgoing batch (`100 Continue`, canned error responses). */
  queueBytes(bytes: Uint8Array): void {
    this.#out.pushBytes(bytes);
  }

  /** Reads more body bytes, flushing queued output first and enforcing the body timeout. */
  async fillBody(): Promise<boolean> {
    await this.#flush();
    if (this.#closed) throw new Deno.errors.ConnectionReset("connection closed");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ProtocolError("REQUEST_TIMEOUT", "body read")),
        this.#ctx.config.bodyTimeoutMs,
      );
    });
    const read = this.#read();
    read.catch(() => {});
    try {
      return (await Promise.race([read, timeout])) !== null;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The outgoing queue (the responder encodes straight into it). */
  get out(): OutputQueue {
    return this.#out;
  }

  /** True while `#serve` calls a handler synchronously: the loop flushes right after it. */
  #dispatching = false;

  /**
   * Whether a finished response may leave its bytes queued: the loop flushes them right after a
   * synchronous handler returns, or once for the whole batch when more pipelined requests are
   * already buffered.
   */
  get deferFlush(): boolean {
    return this.#dispatching || (this.#rb.length > 0 && this.#out.size < HIGH_WATER);
  }

  #flushScheduled = false;

  /**
   * Called after body bytes were queued: past the high-water mark the caller must wait for the
   * socket; otherwise the batch is flushed at the end of the current tick (unless the loop will
   * flush anyway: a synchronous handler, or more pipelined requests already buffered).
   */
  afterWrite(): Promise<void> | undefined {
    if (this.#out.size >= HIGH_WATER) return this.#flush();
    if (!this.#flushScheduled && !this.#dispatching && this.#rb.length === 0) {
      this.#flushScheduled = true;
      queueMicrotask(() => {
        this.#flushScheduled = false;
        if (this.#out.size > 0 && !this.#closed) this.#flush();
      });
    }
    return undefined;
  }

  /** The running write loop, if any. */
  #writing: Promise<void> | null = null;

  /**
   * Writes everything queued. One write loop at a time keeps writes in order: while it runs, a
   * flush just returns it (the loop also sends what was queued meanwhile before it settles). A
   * failed write closes the connection and rejects every waiter.
   */
  #flush(): Promise<void> {
    if (this.#writing !== null) return this.#writing;
    if (this.#out.size === 0) return RESOLVED;
    const p = this.#writeQueued();
    this.#writing = p;
    p.catch(ignore); // Waiters handle the error; the connection is closed already.
    return p;
  }

  async #writeQueued(): Promise<void> {
    try {
      do {
        const pieces = this.#out.take();
        this.flushes++;
        for (let i = 0; i < pieces.length; i++) {
          const bytes = pieces[i];
          let off = await this.#conn.write(bytes);
          while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
        }
      } while (this.#out.size > 0);
      this.#out.release();
    } catch (err) {
      this.close();
      throw err;
    } finally {
      this.#writing = null;
    }
  }

  /** Number of flushes so far (a response whose head was flushed cannot be rolled back). */
  flushes = 0;

  /** Public flush for the responder. */
  flush(): Promise<void> {
    return this.#flush();
  }

  /** Hands the socket to a protocol-switching handler; see `Exchange.takeover`. */
  async takeover(head: Uint8Array): Promise<{ conn: Deno.Conn; buffered: Uint8Array }> {
    if (this.hijacked || this.#closed) throw new Deno.errors.BadResource("connection is gone");
    this.queueBytes(head);
    await this.#flush();
    this.hijacked = true;
    this.#closed = true;
    this.phase = "closed";
    const buffered = this.#rb.view().slice();
    this.#rb.consume(buffered.length);
    return { conn: this.#conn, buffered };
  }

  /** Marks the connection to close after the current response. */
  markClose(): void {
    this.#mustClose = true;
  }

  /** The abort signal for the current request (created on first use). */
  signal(): AbortSignal {
    if (this.#abort === null) {
      this.#abort = new AbortController();
      if ((this.#closed || this.#peerGone) && !this.hijacked) this.#abort.abort();
    }
    return this.#abort.signal;
  }

  /** Forgets the current request's abort controller (the next request gets a fresh one). */
  resetSignal(): void {
    this.#abort = null;
    this.#peerGone = false;
  }

  /** True once the socket is closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  get ctx(): ConnectionContext {
    return this.#ctx;
  }

  #onFatal(err: unknown): void {
    if (isPeerGone(err)) {
      this.#ctx.logger.log("debug", `connection ended: ${describe(err)}`);
    } else if (err instanceof ProtocolError) {
      this.#ctx.logger.log("info", `connection closed: ${err.code}`);
    } else {
      this.#ctx.logger.log("error", `connection error: ${describe(err)}`);
    }
  }
}

const RESOLVED: Promise<void> = Promise.resolve();
const UTF8 = new TextEncoder();
function ignore(): void {}

const OVERLOADED = new TextEncoder().encode("503 server is busy\r\n");
const HEALTH_OK = new TextEncoder().encode("OK\n");
const HEALTH_DOWN = new TextEncoder().encode("shutting down\n");

/** The `Responder` for one request; see `server/exchange.ts` for the contract. */
class ConnResponder implements Responder {
  readonly #c: Connection;
  readonly #method: string;
  readonly #minor: 0 | 1;
  #keepAlive: boolean;
  status = 200;
  #reason = "";
  #headers: ReadonlyArray<readonly [string, string]> = [];
  #hasHead = false;
  #headQueued = false;
  #framing: ResponseFraming = "none";
  #declared = -1;
  #sent = 0;
  #mark: QueueMark | null = null;
  #flushMark = 0;
  ended = false;
  bytesOut = 0;
  closeAfter = false;
  readonly #ex: ConnExchange;

  constructor(c: Connection, ex: ConnExchange, keepAlive: boolean) {
    this.#c = c;
    this.#ex = ex;
    this.#method = ex.head.method;
    this.#minor = ex.head.minor;
    this.#keepAlive = keepAlive;
    c.resetSignal();
  }

  get signal(): AbortSignal {
    return this.#c.signal();
  }

  get aborted(): boolean {
    return this.#c.isClosed;
  }

  get headSent(): boolean {
    return this.#headQueued;
  }

  head(status: number, headers: ReadonlyArray<readonly [string, string]>, reason = ""): void {
    if (this.#headQueued) {
      throw new ResponseError("response-order", "head() after the head was sent");
    }
    const declared = validateResponseHead(status, headers, reason);
    this.status = status;
    this.#reason = reason;
    this.#headers = headers;
    this.#declared = declared;
    this.#hasHead = true;
  }

  #queueHead(): void {
    if (!this.#hasHead) throw new ResponseError("response-order", "write() before head()");
    const c = this.#c;
    const ctx = c.ctx;
    const allowsBody = statusAllowsBody(this.status, this.#method);
    let headers = this.#headers;
    if (this.#declared >= 0) {
      this.#framing = allowsBody ? "length" : "none";
      if (!statusAllowsContentLength(this.status)) {
        headers = headers.filter(([n]) => headerKind(n) !== KIND_CONTENT_LENGTH);
      }
    } else if (!allowsBody) {
      this.#framing = "none";
    } else if (this.ended) {
      // end() with no body written: the length is known to be 0.
      this.#framing = "length";
      this.#declared = 0;
      headers = [...headers, ["Content-Length", "0"]];
    } else if (this.#minor === 1) {
      this.#framing = "chunked";
    } else {
      this.#framing = "close";
      this.#keepAlive = false;
    }
    if (this.closeAfter || ctx.state.shuttingDown || this.#ex.closesForUnreadBody()) {
      this.#keepAlive = false;
    }
    const connection = !this.#keepAlive ? "close" : this.#minor === 0 ? "keep-alive" : "";
    this.#mark = c.out.mark();
    this.#flushMark = c.flushes;
    this.bytesOut += writeResponseHead(c.out, {
      status: this.status,
      reason: this.#reason,
      headers,
      date: ctx.clock.date(),
      server: ctx.config.serverHeader,
      framing: this.#framing,
      connection,
    });
    this.#headQueued = true;
    if (!this.#keepAlive) this.closeAfter = true;
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    if (this.ended) throw new ResponseError("response-order", "write() after end()");
    if (!(chunk instanceof Uint8Array)) {
      throw new ResponseError("body-bytes", "body chunks must be Uint8Array");
    }
    return this.#push(chunk, "", chunk.length);
  }

  writeText(text: string, n: number = utf8Length(text)): Promise<void> | undefined {
    if (this.ended) throw new ResponseError("response-order", "write() after end()");
    // Large text goes out as bytes, queued by reference like any large chunk.
    if (n >= COPY_LIMIT) return this.#push(UTF8.encode(text), "", n);
    return this.#push(null, text, n);
  }

  /** Queues `chunk`, or when it is null `text` (`n` UTF-8 bytes), under the chosen framing. */
  #push(chunk: Uint8Array | null, text: string, n: number): Promise<void> | undefined {
    if (!this.#headQueued) this.#queueHead();
    if (n === 0) return undefined;
    const c = this.#c;
    const out = c.out;
    switch (this.#framing) {
      case "none":
        return undefined;
      case "length": {
        const room = this.#declared - this.#sent;
        if (n > room) {
          c.ctx.logger.log(
            "error",
            `app sent more than its Content-Length (${this.#declared}); extra bytes dropped`,
          );
          this.closeAfter = true;
          chunk = (chunk ?? UTF8.encode(text)).subarray(0, room);
          n = room;
          if (n === 0) return undefined;
        }
        if (chunk !== null) out.pushBytes(chunk);
        else out.pushUtf8(text, n);
        break;
      }
      case "chunked":
        out.pushChunkHeader(n);
        if (chunk !== null) out.pushBytes(chunk);
        else out.pushUtf8(text, n);
        out.pushBytes(CRLF_BYTES);
        this.bytesOut += 2 + (n.toString(16).length + 2);
        break;
      case "close":
        if (chunk !== null) out.pushBytes(chunk);
        else out.pushUtf8(text, n);
        break;
    }
    this.#sent += n;
    this.bytesOut += n;
    // A large chunk is queued by reference: make the caller wait until it is written, so it can
    // never change under us.
    if (n >= COPY_LIMIT) return c.flush();
    return c.afterWrite();
  }

  end(): Promise<void> | undefined {
    if (this.ended) return undefined;
    this.ended = true;
    if (!this.#headQueued) this.#queueHead();
    if (this.#framing === "chunked") {
      this.#c.out.pushBytes(LAST_CHUNK);
      this.bytesOut += LAST_CHUNK.length;
    } else if (this.#framing === "length" && this.#sent < this.#declared) {
      this.#c.ctx.logger.log(
        "error",
        `app sent ${this.#sent} of ${this.#declared} declared Content-Length bytes; closing`,
      );
      this.closeAfter = true;
    }
    if (this.closeAfter) this.#c.markClose();
    if (this.#c.deferFlush) return undefined;
    return this.#c.flush();
  }

  /** Drops this response's queued bytes if none reached the socket; true if it could. */
  rollback(): boolean {
    if (!this.#headQueued) return true;
    if (this.#c.flushes !== this.#flushMark) return false;
    if (this.#mark !== null) this.#c.out.truncate(this.#mark);
    this.#headQueued = false;
    return true;
  }

  /** Called once the exchange is over. */
  finish(): void {
    if (this.closeAfter) this.#c.markClose();
  }
}

/**
 * The `Exchange` given to handlers. It also holds the per-request state the connection needs
 * (framing info, keep-alive, `100 Continue`) and is the body's `BodySource`, so one request costs
 * one exchange, one body and one responder and no closures.
 */
class ConnExchange implements Exchange, BodySource {
  readonly head: RequestHead;
  readonly info: HeadInfo;
  readonly body: RequestBody;
  readonly res: ConnResponder;
  readonly remote: ConnAddr;
  readonly local: ConnAddr;
  readonly scheme: "http" | "https";
  readonly serverName: string;
  readonly serverPort: string;
  /** Whether the connection may be reused, as decided before the handler ran. */
  readonly keepAlive: boolean;
  /** Start time (ms) for the access log. */
  readonly started: number;
  /** Whether `100 Continue` was queued. */
  continueSent = false;
  readonly #c: Connection;
  #requestId: string | null = null;
  #completed: PromiseWithResolvers<void> | null = null;
  #isCompleted = false;

  constructor(head: RequestHead, info: HeadInfo, c: Connection, keepAlive: boolean) {
    const ctx = c.ctx;
    this.head = head;
    this.info = info;
    this.keepAlive = keepAlive;
    this.started = ctx.clock.now();
    this.#c = c;
    this.local = c.local;
    const view = ctx.resolveClient?.(head, c.remote, ctx.scheme) ?? null;
    this.remote = view?.remote ?? c.remote;
    this.scheme = view?.scheme ?? ctx.scheme;
    const defaultPort = this.scheme === "https" ? "443" : "80";
    if (view?.hostName) {
      this.serverName = view.hostName;
      this.serverPort = view.hostPort || defaultPort;
    } else {
      this.serverName = info.hostName || c.local.hostname;
      this.serverPort = info.hostPort || (info.hostName ? defaultPort : String(c.local.port));
    }
    this.body = new RequestBody(info.framing, this, ctx.limits);
    this.res = new ConnResponder(c, this, keepAlive);
  }

  /** `BodySource`: the connection's receive buffer. */
  get buffer(): ReceiveBuffer {
    return this.#c.receiveBuffer;
  }

  /** `BodySource`: reads more body bytes. */
  fill(): Promise<boolean> {
    return this.#c.fillBody();
  }

  /** `BodySource`: the app asked for the body; send `100 Continue` if the client waits for it. */
  onFirstRead(): void {
    if (this.info.expectContinue && !this.continueSent) {
      this.continueSent = true;
      // RFC 9110 §15.2: no 1xx once the final response has started.
      if (!this.res.headSent) this.#c.queueBytes(CONTINUE_RESPONSE);
    }
  }

  /**
   * RFC 9110 §10.1.1: a final response sent before the body was read says whether the
   * connection closes. It does when the app has not touched the body and either the client
   * still waits for `100 Continue` or the declared length is more than we would drain.
   */
  closesForUnreadBody(): boolean {
    const body = this.body;
    if (body.started || body.done) return false;
    const info = this.info;
    return info.expectContinue ||
      (info.framing.kind === "length" &&
        info.framing.length - body.bytesRead > this.#c.ctx.config.maxDrainBytes);
  }

  get requestId(): string {
    if (this.#requestId === null) {
      this.#requestId = requestIdFrom(headerOf(this.head, "x-request-id"));
    }
    return this.#requestId;
  }

  get completed(): Promise<void> {
    if (this.#completed === null) {
      this.#completed = Promise.withResolvers<void>();
      if (this.#isCompleted) this.#completed.resolve();
    }
    return this.#completed.promise;
  }

  /** Resolves `completed` (the response is finished or abandoned). */
  markCompleted(): void {
    this.#isCompleted = true;
    this.#completed?.resolve();
  }

  log(level: "debug" | "info" | "warning" | "error", msg: string): void {
    this.#c.ctx.logger.log(level, msg);
  }

  takeover(head: Uint8Array): Promise<{ conn: Deno.Conn; buffered: Uint8Array }> {
    if (this.res.headSent) throw new Error("takeover() after a response head was queued");
    if (this.body.contentLength !== 0) throw new Error("takeover() on a request with a body");
    this.res.status = 101;
    return this.#c.takeover(head);
  }
}

function headerOf(head: RequestHead, name: string): string {
  const h = head.headers;
  for (let i = 0; i < h.length; i++) if (h[i][0] === name) return h[i][1];
  return "";
}

function pathOf(target: string): string {
  const q = target.indexOf("?");
  return q < 0 ? target : target.slice(0, q);
}

function toAddr(a: Deno.Addr): ConnAddr {
  if (a.transport === "tcp" || a.transport === "udp") {
    return { transport: "tcp", hostname: a.hostname, port: a.port };
  }
  if (a.transport === "unix" || a.transport === "unixpacket") {
    return { transport: "unix", hostname: a.path, port: 0 };
  }
  return { transport: "tcp", hostname: "", port: 0 };
}
