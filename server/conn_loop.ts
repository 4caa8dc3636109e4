/**
 * What every socket driver shares: serving the requests already buffered, the keep-alive and
 * header deadlines the sweeper enforces, the request's abort signal, and the flush policy
 * (deferred flushes, the write high-water mark). A driver adds only the socket: reading into the
 * core, writing its output, closing, and handing the socket over.
 *
 * Contract:
 * - `serveBuffered(conn)` serves *every* complete request already in the core's buffer
 *   (pipelining) through `serveRequest`, synchronously as long as handlers are synchronous; it
 *   returns (or resolves to) `SERVE_READ` (read more), `SERVE_CLOSE_QUIET` (a protocol error or a
 *   parser bug was answered: flush, ignoring write errors, then close) or `SERVE_CLOSE` (flush,
 *   then close; a failed write is the connection's fatal error).
 * - `DriverConnection` implements the socket-independent half of `ConnPort`:
 *   - `checkTimeout(now)` (the sweeper hook): past `deadline`, an idle keep-alive connection
 *     closes silently and an incomplete request head is answered `408` then closed; past the
 *     running request's `--request-timeout-ms` deadline (`pendingRequest`) it expires it; it returns
 *     the deadline still pending (0: none). Every deadline armed is also reported to
 *     `ctx.onDeadline`, so the sweeper can sleep until the earliest one.
 *   - `afterBatch()` sets the deadline once a batch was served (head deadline while a partial
 *     head is buffered, keep-alive deadline when idle) and says whether to read on; `noteRead()`
 *     turns a keep-alive deadline into a head deadline once bytes arrive.
 *   - `signal()`/`resetSignal()`/`abortRequest()`: the per-request abort signal (peer gone).
 *   - `deferFlush`/`afterWrite()`: flush once per batch or per tick; past the high-water mark a
 *     writer waits for the socket.
 *   - `onFatal(err)`: how the end of a connection is logged (peer gone at debug level, protocol
 *     errors at info, anything else at error).
 * - PROXY protocol (`ctx.proxyProtocol`, `--proxy-protocol`): before the first request of a
 *   connection, `serveBuffered` consumes the header a peer in `--proxy-allow-ips` must send and
 *   makes its source the connection's `remote`; a header from any other peer is refused (403).
 *   A missing or malformed header is answered like any protocol error (400) and closes.
 * - Metrics: requests rejected with a protocol error (including the 408 of `checkTimeout`) are
 *   counted here (`server/metrics.ts`); each driver counts the bytes it reads.
 */
import { ConnectionCore } from "./http/connection_core.ts";
import { describeError, ProtocolError } from "./http/errors.ts";
import { looksLikeProxyHeader, parseProxyHeader } from "./http/proxy_protocol.ts";
import { serveRequest } from "./dispatch.ts";
import type { ConnPort, EngineContext, TimedRequest } from "./engine.ts";
import type { ConnAddr, SocketDuplex } from "./exchange.ts";
import { isPeerGone, logPeerGone } from "./io_errors.ts";
import { countProtocolError } from "./metrics.ts";

/** `serveBuffered`: everything buffered was served; read more. */
export const SERVE_READ = 0;
/** `serveBuffered`: an error response was queued; flush (ignoring errors) and close. */
export const SERVE_CLOSE_QUIET = 1;
/** `serveBuffered`: the connection closes after this batch; flush, then close. */
export const SERVE_CLOSE = 2;
/** What `serveBuffered` decided. */
export type ServeVerdict = 0 | 1 | 2;

// Module-private copies for the hot paths (see `server/http/bytes.ts`).
const READ = SERVE_READ, CLOSE_QUIET = SERVE_CLOSE_QUIET, CLOSE = SERVE_CLOSE;

/** The `Date` value with `--no-date-header`: none. */
const noDate = (): string => "";
/** `DriverConnection.preamble`: nothing precedes the first request. */
const PREAMBLE_NONE = 0;
/** `DriverConnection.preamble`: the peer is not yet classified by the PROXY protocol policy. */
const PREAMBLE_UNDECIDED = 1;
/** `DriverConnection.preamble`: the connection must begin with a PROXY header. */
const PREAMBLE_REQUIRED = 2;
/** `DriverConnection.preamble`: the connection may not begin with a PROXY header. */
const PREAMBLE_FORBIDDEN = 3;

/** Serves every complete buffered request; see the module comment. */
export function serveBuffered(conn: DriverConnection): ServeVerdict | Promise<ServeVerdict> {
  const core = conn.core;
  if (conn.preamble !== PREAMBLE_NONE && core.hasBuffered) {
    const verdict = readPreamble(conn);
    if (verdict !== null) return verdict;
  }
  while (core.hasBuffered && !conn.isClosed) {
    let ev;
    try {
      ev = core.nextRequest();
    } catch (err) {
      // Not a client error: a bug in the parser. Answer 500 and close.
      conn.ctx.logger.log("error", `internal parser error: ${describeError(err)}`);
      core.queueError(err);
      return CLOSE_QUIET;
    }
    if (ev.kind === "partial") break;
    if (ev.kind === "error") return refused(conn, ev.error);
    conn.deadline = 0;
    const served = serveRequest(conn, ev.head, ev.info);
    if (typeof served !== "boolean") return served.then((keep) => continueAfter(conn, keep));
    if (!served || core.mustClose) return CLOSE;
  }
  return READ;
}

/** A protocol error was answered (its response queued): count and log it, then close. */
function refused(conn: DriverConnection, err: ProtocolError): ServeVerdict {
  countProtocolError(err.status);
  conn.ctx.logger.log("info", `bad request from ${conn.remote.hostname}: ${err.code}`);
  return CLOSE_QUIET;
}

/**
 * Applies the PROXY protocol policy to the bytes a new connection sent first: a peer that must
 * send a header has it parsed and consumed, and its source address becomes the connection's
 * `remote` (an SSL TLV sets `proxiedTls`: the requests' scheme is https); any other peer whose bytes begin like a header is refused (403). Returns null when
 * the requests that follow may be parsed, `SERVE_READ` while more bytes are needed, or
 * `SERVE_CLOSE_QUIET` once an error response was queued.
 */
function readPreamble(conn: DriverConnection): ServeVerdict | null {
  const policy = conn.ctx.proxyProtocol!;
  const rb = conn.core.rb;
  if (conn.preamble === PREAMBLE_UNDECIDED) {
    conn.preamble = policy.mustSend(conn.remote) ? PREAMBLE_REQUIRED : PREAMBLE_FORBIDDEN;
  }
  try {
    if (conn.preamble === PREAMBLE_FORBIDDEN) {
      const looks = looksLikeProxyHeader(rb.storage, rb.start, rb.end);
      if (looks === null) return READ;
      if (looks) throw new ProtocolError("PROXY_HEADER_FORBIDDEN", conn.remote.hostname);
    } else {
      const h = parseProxyHeader(rb.storage, rb.start, rb.end, policy.versions, policy.maxBytes);
      if (h === null) return READ;
      rb.consume(h.consumed);
      if (h.source !== null) {
        conn.remote = { transport: "tcp", hostname: h.source.address, port: h.source.port };
      }
      if (h.ssl === true) conn.proxiedTls = true;
    }
  } catch (err) {
    conn.preamble = PREAMBLE_NONE;
    if (!(err instanceof ProtocolError)) throw err;
    conn.core.queueError(err);
    return refused(conn, err);
  }
  conn.preamble = PREAMBLE_NONE;
  return null;
}

function continueAfter(
  conn: DriverConnection,
  keep: boolean,
): ServeVerdict | Promise<ServeVerdict> {
  if (!keep || conn.core.mustClose) return CLOSE;
  return serveBuffered(conn);
}

/** The socket-independent half of a driver's `ConnPort`; see the module comment. */
export abstract class DriverConnection implements ConnPort {
  readonly core: ConnectionCore;
  readonly ctx: EngineContext;
  /** The peer (set by the driver; a PROXY protocol header may replace it). */
  declare remote: ConnAddr;
  /** A PROXY v2 header's SSL TLV said the client used TLS to reach the proxy. */
  proxiedTls = false;
  abstract readonly local: ConnAddr;
  /** Time (ms) after which `checkTimeout` acts; 0 = none. */
  deadline = 0;
  /** Set once a handler took the socket over (protocol switch). */
  hijacked = false;
  /** The async request whose `--request-timeout-ms` deadline `checkTimeout` enforces. */
  pendingRequest: TimedRequest | null = null;
  /** What precedes the first request (`PREAMBLE_*`): a PROXY protocol header or nothing. */
  preamble: number;
  /** Position in the server's live set (`server/live_set.ts`); -1 when not in it. */
  liveSlot = -1;
  dispatching = false;
  /** Set by `close()`. */
  protected closed = false;
  /** The current request's abort controller, if its signal was asked for. */
  protected abortCtl: AbortController | null = null;
  /** The peer went away while the current request ran. */
  protected peerGone = false;
  /** Queued bytes past which writers wait (`afterWrite`). */
  protected readonly highWater: number;
  #flushScheduled = false;
  /** Whether `deadline` is the keep-alive (idle) deadline rather than the head deadline. */
  #idleDeadline = false;

  /** Creates the core for a new connection. */
  constructor(ctx: EngineContext) {
    this.ctx = ctx;
    const config = ctx.config;
    this.highWater = config.writeHighWaterBytes;
    this.preamble = ctx.proxyProtocol === undefined ? PREAMBLE_NONE : PREAMBLE_UNDECIDED;
    this.core = new ConnectionCore({
      limits: ctx.limits,
      readBufferBytes: config.readBufferBytes,
      idleReadBufferBytes: config.idleReadBufferBytes,
      maxDrainBytes: config.maxDrainBytes,
      serverHeader: config.serverHeader,
      date: config.dateHeader ? ctx.clock.date : noDate,
      defaultHeaders: ctx.defaultHeaders,
      server: ctx.state,
    });
  }

  /** Closes the socket now (idempotent). */
  abstract close(): void;
  /** Writes everything queued; rejects (and the connection is closed) if the peer is gone. */
  abstract flush(): Promise<void>;
  /** Keeps a read pending while an async handler runs (peer-gone detection). */
  abstract watchPeer(): void;
  /** `BodySource`: reads more body bytes. */
  abstract fill(): Promise<boolean>;
  /** Sends `head` after queued responses and hands the socket over. */
  abstract takeover(head: Uint8Array): Promise<{ conn: SocketDuplex; buffered: Uint8Array }>;

  /** True once the socket is closed. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether no request is running (idle keep-alive, or a head still arriving). */
  get idle(): boolean {
    return !this.core.busy;
  }

  /** Sweeper hook: enforces idle, header and request timeouts. */
  checkTimeout(now: number): number {
    if (this.closed) return 0;
    const running = this.pendingRequest;
    if (running !== null && now >= running.deadline) {
      this.pendingRequest = null;
      running.expire();
      return 0;
    }
    if (this.deadline === 0 || now < this.deadline) return this.deadline;
    const state = this.core.state;
    // Nothing buffered is idle too, whatever came before (a PROXY header, or empty lines).
    if (state === "idle" || (state === "head" && !this.core.hasBuffered)) {
      this.close();
      return 0;
    } else if (state === "head") {
      this.deadline = 0;
      this.core.queueTimeout();
      countProtocolError(this.core.status);
      this.flush().catch(ignore).finally(() => this.close());
      return 0;
    }
    return this.deadline; // a request runs: the deadline applies once it is idle again
  }

  /** Sets `deadline` to `ms` from now and reports it to the sweeper. */
  #arm(ms: number): void {
    const at = this.ctx.clock.recent() + ms;
    this.deadline = at;
    this.ctx.onDeadline?.(at);
  }

  /** Arms the keep-alive deadline (nothing buffered between requests) and shrinks the buffer. */
  protected setIdle(): void {
    this.core.shrink();
    this.#idleDeadline = true;
    this.#arm(this.ctx.config.keepAliveTimeoutMs);
  }

  /**
   * After a batch was served and flushed: arms the head deadline while a partial head is
   * buffered, else the keep-alive deadline. False when the connection must close instead.
   */
  protected afterBatch(): boolean {
    const core = this.core;
    if (core.hasBuffered) {
      if (this.deadline === 0 || core.state !== "head") {
        this.#arm(this.ctx.config.headersTimeoutMs);
      }
      return true;
    }
    if (core.mustClose) return false;
    this.setIdle();
    return true;
  }

  /** Bytes arrived: a keep-alive deadline becomes the head deadline. */
  protected noteRead(): void {
    if (this.#idleDeadline) {
      this.#idleDeadline = false;
      this.#arm(this.ctx.config.headersTimeoutMs);
    }
  }

  /** The peer went away while a request ran: abort its signal. */
  protected abortRequest(): void {
    if (this.hijacked) return;
    this.peerGone = true;
    this.abortCtl?.abort();
  }

  /**
   * Whether a finished response may leave its bytes queued: the loop flushes them right after a
   * synchronous handler returns, or once for the whole batch when more pipelined requests are
   * already buffered.
   */
  get deferFlush(): boolean {
    return this.dispatching ||
      (this.core.hasBuffered && this.core.out.size < this.highWater);
  }

  /**
   * Called after body bytes were queued: past the high-water mark the caller must wait for the
   * socket; otherwise the batch is flushed at the end of the current tick (unless the loop will
   * flush anyway: a synchronous handler, or more pipelined requests already buffered).
   */
  afterWrite(): Promise<void> | undefined {
    const core = this.core;
    if (core.out.size >= this.highWater) return this.flush();
    if (!this.#flushScheduled && !this.dispatching && !core.hasBuffered) {
      this.#flushScheduled = true;
      queueMicrotask(() => {
        this.#flushScheduled = false;
        if (core.out.size > 0 && !this.closed) this.flush();
      });
    }
    return undefined;
  }

  /** Aborts the current request's signal with `reason` (`--request-timeout-ms`). */
  abortSignal(reason: unknown): void {
    if (this.abortCtl === null) this.abortCtl = new AbortController();
    this.abortCtl.abort(reason);
  }

  /** The abort signal for the current request (created on first use). */
  signal(): AbortSignal {
    if (this.abortCtl === null) {
      this.abortCtl = new AbortController();
      if ((this.closed || this.peerGone) && !this.hijacked) this.abortCtl.abort();
    }
    return this.abortCtl.signal;
  }

  /** Forgets the current request's abort controller (the next request gets a fresh one). */
  resetSignal(): void {
    this.abortCtl = null;
    this.peerGone = false;
  }

  /** Logs why the connection ended. */
  protected onFatal(err: unknown): void {
    const logger = this.ctx.logger;
    if (isPeerGone(err)) {
      logPeerGone(logger, "connection ended", err);
    } else if (err instanceof ProtocolError) {
      countProtocolError(err.status);
      logger.log("info", `connection closed: ${err.code}`);
    } else {
      logger.log("error", `connection error: ${describeError(err)}`);
    }
  }
}

/** Swallows a rejection (the connection handles the error itself). */
export function ignore(): void {}
