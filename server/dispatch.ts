/**
 * One request from dispatch to the end of its exchange, independent of the kind of socket.
 *
 * Contract:
 * - `serveRequest(port, head, info)` runs one parsed request: the gatekeeper (health path,
 *   concurrency limit, metrics, static files; a promise it returns is awaited like an async
 *   handler's), else the app's `Handler` with an `Exchange`; then drains what the app left unread
 *   of the body (or gives up on the connection), writes the access log, counts the exchange in the
 *   metrics (`server/metrics.ts`) and calls the request hooks. It returns (or resolves to) whether
 *   the connection may read the next request.
 *   A synchronous handler that finished its response is served without creating a promise (the
 *   fast path); bytes an async handler queues before its first await go out at once.
 * - Failures: a handler that throws or rejects, or returns without ending its response, is
 *   answered through the core's one error mapping (`ConnectionCore.queueError`) when none of its
 *   response reached the socket yet; otherwise the connection is aborted. Peer I/O errors close
 *   quietly. Errors that are `HttpError`s with `logged` set were logged by the app style's adapter
 *   already; everything else is logged here with its stack.
 * - Request deadline (`--request-timeout-ms`): an async handler's exchange becomes the
 *   connection's `pendingRequest`, which the sweeper expires (`expireExchange`): 504 and close if
 *   the response has not started, the signal aborts with a `TimeoutError`, the exchange is logged
 *   and counted then, and the handler's late outcome is ignored.
 * - `EngineResponder` is the `Responder` for one request: a thin guard over the core's response
 *   methods that adds the driver's flushing and back-pressure (`ConnPort.afterWrite`), and refuses
 *   use once its exchange is over, so a stale responder never writes into a later response. Its
 *   `sendFile` lets the driver send the file itself (`ConnPort.sendFile`, zero-copy) when the
 *   framing allows, else reads the file and writes it (`file_body.ts`).
 * - The driver (the only code that touches the socket) implements `ConnPort` (`server/engine.ts`).
 */
import type { ConnPort, TimedRequest } from "./engine.ts";
import type { ConnAddr, Exchange, FileBody, Responder, SocketDuplex } from "./exchange.ts";
import { readFileInto } from "./file_body.ts";
import type { ConnectionCore } from "./http/connection_core.ts";
import * as connectionCoreModule from "./http/connection_core.ts";
import { describeError, HttpError, ProtocolError, ResponseError } from "./http/errors.ts";
import { encodeEarlyHints } from "./http/header_lines.ts";
import type { HeadInfo } from "./http/framing.ts";
import type { RequestHead } from "./http/request_head.ts";
import { requestIdFrom } from "./http/request_id.ts";
import { isPeerGone, logPeerGone } from "./io_errors.ts";
import { detachedLog, type LogFunction } from "./log.ts";
import { countProtocolError, recordExchange, startTime } from "./metrics.ts";
import { accessRecordOf, headerOf } from "./policy.ts";
import { RequestBody } from "./request_body.ts";

// Module-private copies of imported constants (see `server/http/bytes.ts`).
const { QUEUED_NOTHING, QUEUED_REF } = connectionCoreModule;

/** The `Responder` for one request; see the module comment. */
class EngineResponder implements Responder {
  readonly #port: ConnPort;
  readonly #core: ConnectionCore;
  /** The core's request number this responder belongs to. */
  readonly #gen: number;
  /** Set once the exchange is over. */
  stale = false;

  constructor(port: ConnPort) {
    this.#port = port;
    this.#core = port.core;
    this.#gen = port.core.requests;
    port.resetSignal();
  }

  #check(): ConnectionCore {
    if (this.stale || this.#core.requests !== this.#gen) {
      throw new ResponseError("response-order", "the exchange is over");
    }
    return this.#core;
  }

  get signal(): AbortSignal {
    return this.#port.signal();
  }

  get aborted(): boolean {
    return this.#port.isClosed;
  }

  get headSent(): boolean {
    return !this.stale && this.#core.headQueued;
  }

  /** Whether `end()` was called. */
  get ended(): boolean {
    return this.stale || this.#core.responseEnded;
  }

  head(
    status: number,
    headers: ReadonlyArray<readonly [string, string]>,
    reason = "",
    length = -1,
  ): void {
    this.#check().responseHead(status, headers, reason, length);
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    const r = this.#check().responseBody(chunk);
    return this.#after(r);
  }

  writeText(text: string, n?: number): Promise<void> | undefined {
    const r = this.#check().responseText(text, n);
    return this.#after(r);
  }

  async sendFile(body: FileBody): Promise<void> {
    const core = this.#check();
    const room = core.responseFileRoom(body.length);
    this.#overrun();
    if (room === 0) return;
    const count = room < 0 ? body.length : room;
    const direct = room > 0 ? this.#port.sendFile?.(body, count) ?? null : null;
    if (direct !== null) {
      core.responseFileSent(await direct);
      return;
    }
    const port = this.#port;
    await readFileInto((chunk) => this.write(chunk), () => port.isClosed, body, count);
  }

  #overrun(): void {
    const res = this.#core.response;
    if (res.overrun) {
      res.overrun = false;
      this.#port.ctx.logger.log(
        "error",
        `app sent more than its Content-Length (${res.declared}); extra bytes dropped`,
      );
    }
  }

  #after(r: number): Promise<void> | undefined {
    this.#overrun();
    if (r === QUEUED_NOTHING) return undefined;
    // A large chunk is queued by reference: make the caller wait until it is written, so it can
    // never change under us.
    if (r === QUEUED_REF) return this.#port.flush();
    return this.#port.afterWrite();
  }

  end(): Promise<void> | undefined {
    if (this.stale) return undefined;
    const core = this.#core;
    if (core.responseEnded || core.requests !== this.#gen) return undefined;
    const short = core.responseEnd();
    if (short > 0) {
      this.#port.ctx.logger.log(
        "error",
        `app sent ${core.response.declared - short} of ${core.response.declared} declared ` +
          `Content-Length bytes; closing`,
      );
    }
    if (this.#port.deferFlush) return undefined;
    return this.#port.flush();
  }
}

/**
 * The `Exchange` given to handlers for one request; it is also the gatekeeper's `PolicyTarget`.
 */
class EngineExchange implements Exchange, TimedRequest {
  readonly head: RequestHead;
  readonly info: HeadInfo;
  readonly body: RequestBody;
  readonly res: EngineResponder;
  readonly remote: ConnAddr;
  readonly local: ConnAddr;
  readonly scheme: "http" | "https";
  readonly serverName: string;
  readonly serverPort: string;
  readonly forwardedPrefix: string;
  /** Start time (ms) for the access log; 0 when it is off (a clock reading costs ~60 ns). */
  readonly started: number;
  /** Start time for the metrics (`startTime()`). */
  readonly t0: number = startTime();
  readonly #port: ConnPort;
  #requestId: string | null = null;
  #completed: PromiseWithResolvers<void> | null = null;
  #isCompleted = false;
  /** `TimedRequest`: the `--request-timeout-ms` deadline (0: none). */
  deadline = 0;
  /** Answered 504 by `expire()`: the handler's late outcome is ignored. */
  timedOut = false;

  constructor(port: ConnPort, head: RequestHead, info: HeadInfo) {
    const ctx = port.ctx;
    this.head = head;
    this.info = info;
    this.started = ctx.logger.accessEnabled ? ctx.clock.now() : 0;
    this.#port = port;
    this.local = port.local;
    const scheme = port.proxiedTls ? "https" : ctx.scheme;
    const view = ctx.resolveClient?.(head, port.remote, scheme) ?? null;
    this.remote = view?.remote ?? port.remote;
    this.scheme = view?.scheme ?? scheme;
    this.forwardedPrefix = view?.prefix ?? "";
    const defaultPort = this.scheme === "https" ? "443" : "80";
    if (view?.hostName) {
      this.serverName = view.hostName;
      this.serverPort = view.hostPort || defaultPort;
    } else {
      this.serverName = info.hostName || port.local.hostname;
      this.serverPort = info.hostPort || (info.hostName ? defaultPort : String(port.local.port));
    }
    const framing = info.framing;
    this.body = new RequestBody(
      port.core,
      port,
      framing.kind === "length" ? framing.length : framing.kind === "chunked" ? null : 0,
    );
    this.res = new EngineResponder(port);
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

  /** Resolves `completed` (the response is finished or abandoned) and retires the exchange. */
  markCompleted(): void {
    this.#isCompleted = true;
    this.res.stale = true;
    this.body.detach();
    this.#completed?.resolve();
  }

  /** `PolicyTarget`: close the connection once this response is written. */
  closeAfterResponse(): void {
    this.#port.core.markCloseAfter();
  }

  /** The server logger's `log`, detached (see `Exchange.log`): shared, it holds no exchange. */
  get log(): LogFunction {
    return detachedLog(this.#port.ctx.logger);
  }

  expire(): void {
    expireExchange(this.#port, this);
  }

  /** See `Exchange.earlyHints`: queued after any earlier response and written at once. */
  earlyHints(headers: ReadonlyArray<readonly [string, string]>): boolean {
    const bytes = encodeEarlyHints(headers);
    const port = this.#port;
    const res = this.res;
    if (this.head.minor !== 1 || res.stale || res.headSent || port.isClosed) return false;
    port.core.out.pushBytes(bytes);
    port.flush().catch(() => {
      // The client went away: the exchange notices on its own.
    });
    return true;
  }

  takeover(head: Uint8Array): Promise<{ conn: SocketDuplex; buffered: Uint8Array }> {
    if (this.res.headSent) throw new Error("takeover() after a response head was queued");
    if (this.body.contentLength !== 0) throw new Error("takeover() on a request with a body");
    this.#port.core.response.status = 101;
    return this.#port.takeover(head);
  }
}

/**
 * Serves one parsed request; returns (or resolves to) whether the connection may read the next
 * one. See the module comment.
 */
export function serveRequest(
  port: ConnPort,
  head: RequestHead,
  info: HeadInfo,
): boolean | Promise<boolean> {
  const ctx = port.ctx;
  const ex = new EngineExchange(port, head, info);
  ctx.state.inflight++;
  ctx.state.requests++;
  ctx.onRequestStart?.(head);
  let r: void | Promise<void> = undefined;
  port.dispatching = true;
  try {
    const g = ctx.gatekeeper(ex);
    if (g === false) r = ctx.handler(ex);
    else if (g !== true) r = g;
  } catch (err) {
    port.dispatching = false;
    return serveFailed(port, ex, err);
  }
  port.dispatching = false;
  if (r !== undefined) {
    const core = port.core;
    // An async handler may have queued bytes (a head, a first chunk, even the whole response)
    // before its first await; they go out now, not when the handler settles. (With more
    // pipelined requests buffered they wait for the batch, as streamed chunks always do.)
    if (core.out.size > 0 && !core.hasBuffered) port.flush();
    // Not for upgrade requests: a pending read would swallow the first bytes of the new
    // protocol after a takeover.
    if (core.bodyDone && !core.hasBuffered && info.upgrade === "") port.watchPeer();
    const timeout = ctx.config.requestTimeoutMs;
    if (timeout > 0) {
      ex.deadline = ctx.clock.recent() + timeout;
      port.pendingRequest = ex;
    }
    return serveAsync(port, ex, r);
  }
  return handlerReturned(port, ex);
}

/** The rest of `serveRequest` when the handler returned a promise. */
async function serveAsync(port: ConnPort, ex: EngineExchange, r: Promise<void>): Promise<boolean> {
  let failure: { err: unknown } | null = null;
  try {
    await r;
  } catch (err) {
    failure = { err };
  }
  if (port.pendingRequest === ex) port.pendingRequest = null;
  if (ex.timedOut) return false; // answered 504 already; the connection is closing
  return failure === null ? handlerReturned(port, ex) : serveFailed(port, ex, failure.err);
}

/**
 * `--request-timeout-ms` passed while the handler runs: unless its response started, the client
 * gets 504 and the connection closes, the request's signal aborts with a `TimeoutError`, and the
 * exchange is logged and counted now. The handler is not stopped; what it does later is ignored.
 */
function expireExchange(port: ConnPort, ex: EngineExchange): void {
  const core = port.core;
  if (ex.timedOut || port.isClosed || core.headQueued || !core.rollbackResponse()) return;
  ex.timedOut = true;
  const ctx = port.ctx;
  const ms = ctx.config.requestTimeoutMs;
  ctx.logger.log(
    "warning",
    `no response after ${ms} ms (--request-timeout-ms): ${ex.head.method} ${ex.head.target} ` +
      `answered 504 (request id ${ex.requestId})`,
  );
  port.abortSignal(new DOMException(`no response within ${ms} ms`, "TimeoutError"));
  core.queueError(new HttpError(504, "request-timeout", `no response within ${ms} ms`));
  ctx.state.inflight--;
  port.flush().catch(() => {}).finally(() => port.close());
  finishExchange(port, ex, false);
}

/** The handler returned (or its promise resolved): it took the socket over or answered. */
function handlerReturned(port: ConnPort, ex: EngineExchange): boolean | Promise<boolean> {
  if (port.hijacked) {
    port.ctx.state.inflight--;
    recordExchange(ex.head.method, 101, ex.t0, 0, port.core.bytesOut);
    ex.markCompleted();
    return false;
  }
  if (!ex.res.ended) {
    // A handler that stopped because the request's signal aborted (the peer's EOF or reset;
    // gateway rule BODY-9) abandoned the response: the client went away, no app error and no 500.
    const err = ex.res.signal.aborted
      ? new Deno.errors.ConnectionAborted("client went away before the response was finished")
      : new ResponseError("response-order", "handler returned without finishing the response");
    return serveFailed(port, ex, err);
  }
  port.ctx.state.inflight--;
  return afterResponse(port, ex, false);
}

/** The rest of `serveRequest` when the handler (or its promise) failed. */
async function serveFailed(port: ConnPort, ex: EngineExchange, err: unknown): Promise<boolean> {
  try {
    await answerFailure(port, ex, ex.body.failure ?? err);
  } finally {
    port.ctx.state.inflight--;
  }
  return afterResponse(port, ex, true);
}

/**
 * After the response: drains what the app left unread of the body (or gives up on the
 * connection), then bookkeeping and the access log. Synchronous unless a drain is needed.
 */
function afterResponse(
  port: ConnPort,
  ex: EngineExchange,
  failed: boolean,
): boolean | Promise<boolean> {
  const verdict = port.core.finishExchange(failed);
  if (verdict === "drain") return drainThenFinish(port, ex);
  return finishExchange(port, ex, verdict === "reuse");
}

async function drainThenFinish(port: ConnPort, ex: EngineExchange): Promise<boolean> {
  let complete: boolean;
  try {
    complete = await ex.body.discard(port.core.maxDrainBytes);
  } catch {
    complete = false;
  }
  return finishExchange(port, ex, port.core.finishDrain(complete) === "reuse");
}

function finishExchange(port: ConnPort, ex: EngineExchange, keepAlive: boolean): boolean {
  const ctx = port.ctx;
  const core = port.core;
  ex.markCompleted();
  // The exchange is over: closing the connection later must not abort its signal (and an
  // abort without a reason costs a DOMException with a stack trace).
  port.resetSignal();
  if (ctx.logger.accessEnabled) {
    ctx.logger.access(accessRecordOf({
      remote: ex.remote.hostname,
      head: ex.head,
      status: core.status,
      bytesIn: ex.body.bytesRead,
      bytesOut: core.bytesOut,
      bodyBytes: core.response.bodyBytes,
      durationMs: ctx.clock.now() - ex.started,
      requestId: ex.requestId,
    }));
  }
  recordExchange(ex.head.method, core.status, ex.t0, ex.body.bytesRead, core.bytesOut);
  ctx.onRequestDone?.();
  return keepAlive && !port.isClosed;
}

/** Answers a failed exchange through the one error mapping; the connection closes afterwards. */
async function answerFailure(port: ConnPort, ex: EngineExchange, err: unknown): Promise<void> {
  const ctx = port.ctx;
  const core = port.core;
  const head = ex.head;
  if (isPeerGone(err)) {
    logPeerGone(ctx.logger, "client went away", err);
    port.close();
    return;
  }
  if (err instanceof ProtocolError) {
    countProtocolError(err.status);
    ctx.logger.log("info", `bad request body from ${port.remote.hostname}: ${err.code}`);
  } else if (err instanceof HttpError && err.logged) {
    ctx.logger.log("debug", `answering ${err.status} for ${head.method} ${head.target}`);
  } else {
    ctx.logger.log("error", `error handling ${head.method} ${head.target}: ${describeError(err)}`);
  }
  if (core.rollbackResponse()) {
    core.queueError(err);
    await port.flush().catch(() => {});
  } else {
    core.close();
    await port.flush().catch(() => {});
    port.close();
  }
}
