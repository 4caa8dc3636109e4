/**
 * The fetch path's request side: the `Request` and the `ServeHandlerInfo` a fetch handler gets.
 *
 * Contract:
 * - `buildRequest(ex, signal)` builds the `Request` once per request from the
 *   already-parsed head (no re-parsing): the URL from the scheme, Host (or absolute-form
 *   authority) and target, exactly as received (as `Deno.serve`: `OPTIONS *` gives ".../*", a
 *   CONNECT authority-form target gives "/"); headers in wire order; a streamed body (a
 *   `ReadableStream` pulling from the engine's `BodyReader`, so every body limit and timeout
 *   still applies) only when the request has one and the method allows one. With a `LazyAbort`
 *   the request is built the way `Deno.serve` builds its own (`fastRequest`, see
 *   `_deno_internals.ts`) when that is available, else as a `Request` subclass whose `signal` is
 *   created on first use.
 * - `LazyAbort` is a request's abort signal, created on first use and tied to the engine's signal
 *   (the client went away) and to `abort()`; a body read that fails calls `bodyFailed(err)`,
 *   which remembers the error (`bodyError`, so the handler can tell the client's fault from its
 *   own) and aborts.
 * - `exchangeOf(request)` returns the engine exchange behind a `Request` built here, else
 *   undefined (e.g. a request from `Deno.serve`, or a clone).
 * - `HandlerInfo` is the handler's second argument, shaped like `Deno.ServeHandlerInfo`:
 *   `remoteAddr` (`transport`, `hostname`, `port`) and `completed` (created only when read),
 *   plus lsbaws's `earlyHints(headers)` (`103 Early Hints`, `Exchange.earlyHints`).
 */
import type { Exchange } from "../server/exchange.ts";
import { attach, type CancelCallback, fastRequest, innerExchangeOf } from "./_deno_internals.ts";
import { describeBriefly } from "./errors.ts";

/** Connection information passed as the handler's second argument (like Deno.ServeHandlerInfo). */
export interface ServeHandlerInfo {
  /** The client's address. */
  readonly remoteAddr: {
    readonly transport: "tcp" | "unix";
    readonly hostname: string;
    readonly port: number;
  };
  /** Resolves once the response has been sent (or abandoned). */
  readonly completed: Promise<void>;
}

const EXCHANGE = Symbol("lsbaws.exchange");
const NO_BODY_ERROR = Symbol("no body error");

/** Returns the engine exchange behind a `Request` that lsbaws built (for WebSocket upgrades). */
export function exchangeOf(request: Request): Exchange | undefined {
  return (innerExchangeOf(request) as Exchange | undefined) ??
    (request as unknown as Record<symbol, Exchange | undefined>)[EXCHANGE];
}

/**
 * Builds the `Request` for an exchange (see the module comment). With a `LazyAbort`, a body read
 * that fails (a limit, bad framing, the client gone) is reported to its `bodyFailed` before the
 * error reaches the handler.
 */
export function buildRequest(
  ex: Exchange,
  signal?: AbortSignal | LazyAbort,
): Request {
  const head = ex.head;
  let url: string;
  if (head.targetForm === "absolute") url = head.target;
  else {
    const port = ex.serverPort;
    const defaultPort = ex.scheme === "https" ? "443" : "80";
    const host = ex.serverName + (port && port !== defaultPort ? `:${port}` : "");
    // As Deno.serve: `OPTIONS *` becomes ".../*"; a CONNECT authority-form target becomes "/".
    url = head.targetForm === "origin"
      ? `${ex.scheme}://${host}${head.target}`
      : head.targetForm === "asterisk"
      ? `${ex.scheme}://${host}/*`
      : `${ex.scheme}://${host}/`;
  }
  const hasBody = ex.body.contentLength !== 0 && head.method !== "GET" && head.method !== "HEAD";
  let body: ReadableStream<Uint8Array> | null = null;
  if (hasBody) {
    const reader = ex.body;
    body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        let chunk: Uint8Array | null;
        try {
          chunk = await reader.read(65536);
        } catch (err) {
          if (signal instanceof LazyAbort) signal.bodyFailed(err);
          throw err;
        }
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
    }, { highWaterMark: 0 });
  }
  // FAST PATH: a Request built the way Deno.serve builds its own (see _deno_internals.ts).
  if (signal instanceof LazyAbort) {
    const fast = fastRequest(head.method, url, head.headers as [string, string][], body, signal);
    if (fast !== null) {
      attach(fast, ex);
      return fast;
    }
  }
  const init: RequestInit & { duplex?: "half" } = {
    method: head.method,
    headers: head.headers as [string, string][],
  };
  if (signal instanceof AbortSignal) init.signal = signal;
  if (body !== null) {
    init.body = body;
    init.duplex = "half";
  }
  const req = signal instanceof LazyAbort
    ? new ServedRequest(url, init, signal)
    : new Request(url, init);
  Object.defineProperty(req, EXCHANGE, { value: ex });
  return req;
}

/**
 * An abort signal for one request, created on first use and then tied to the engine's signal
 * (the client went away) and to `abort()` (the request body failed).
 */
export class LazyAbort {
  // Also the fast path's `CancelHook` (`listen`).
  readonly #ex: Exchange;
  #ctrl: AbortController | null = null;
  #aborted = false;
  #reason: unknown = undefined;
  #linked = false;
  #onEngineAbort: (() => void) | null = null;
  /** The error reading the request body failed with (`bodyFailed`), if it did. */
  bodyError: unknown = NO_BODY_ERROR;

  /** Ties the signal to `ex` (not created until `signal` is read). */
  constructor(ex: Exchange) {
    this.#ex = ex;
  }

  /** The signal (created now if needed). */
  get signal(): AbortSignal {
    if (this.#ctrl === null) {
      this.#ctrl = new AbortController();
      if (this.#aborted) this.#ctrl.abort(this.#reason);
      else if (this.#ex.res.aborted) {
        this.abort(new DOMException("client disconnected", "AbortError"));
      } else {
        this.#link();
      }
    }
    return this.#ctrl.signal;
  }

  #listener: CancelCallback | null = null;

  /**
   * `CancelHook` for fast-path requests, whose signal Deno creates: `cb` aborts it. Called once,
   * when the app first reads `request.signal`.
   */
  listen(cb: CancelCallback): void {
    if (this.#aborted) return cb();
    this.#listener = cb;
    if (this.#ex.res.aborted) {
      this.abort(new DOMException("client disconnected", "AbortError"));
    } else {
      this.#link();
    }
  }

  /** Follows the engine's signal (the client went away). */
  #link(): void {
    this.#onEngineAbort ??= () => this.abort(new DOMException("client disconnected", "AbortError"));
    this.#ex.res.signal.addEventListener("abort", this.#onEngineAbort, { once: true });
    this.#linked = true;
  }

  /** Reading the request body failed with `err`: remembers it and aborts the signal. */
  bodyFailed(err: unknown): void {
    if (this.bodyError === NO_BODY_ERROR) this.bodyError = err;
    this.abort(new DOMException(`the request body failed: ${describeBriefly(err)}`, "AbortError"));
  }

  /** Aborts with `reason` (only the first call counts). */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#ctrl?.abort(reason);
    const listener = this.#listener;
    this.#listener = null;
    listener?.();
  }

  /** Stops following the engine's signal (the exchange is over). */
  detach(): void {
    if (this.#linked) {
      this.#ex.res.signal.removeEventListener("abort", this.#onEngineAbort!);
      this.#linked = false;
    }
  }
}

/** The handler's second argument; `completed` is created only if the app asks for it. */
export class HandlerInfo implements ServeHandlerInfo {
  /** The client's address. */
  readonly remoteAddr: ServeHandlerInfo["remoteAddr"];
  readonly #ex: Exchange;

  /** Describes `ex`'s client. */
  constructor(ex: Exchange) {
    this.#ex = ex;
    this.remoteAddr = {
      transport: ex.remote.transport,
      hostname: ex.remote.hostname,
      port: ex.remote.port,
    };
  }

  /** Resolves once the response has been sent (or abandoned). */
  get completed(): Promise<void> {
    return this.#ex.completed;
  }

  /**
   * lsbaws's own: sends `103 Early Hints` with `headers` (say `Link: </app.css>; rel=preload`)
   * before the response, so the browser can start fetching while the handler works. Returns
   * whether it was sent: not to an HTTP/1.0 client, nor once the response started. A header a
   * response could not carry throws a `TypeError`.
   */
  earlyHints(headers: HeadersInit): boolean {
    const ex = this.#ex;
    if (ex.earlyHints === undefined) return false;
    const pairs: [string, string][] = [];
    for (const [name, value] of new Headers(headers)) pairs.push([name, value]);
    try {
      return ex.earlyHints(pairs);
    } catch (err) {
      throw new TypeError((err as Error).message);
    }
  }
}

/** A `Request` whose `signal` is created lazily (see `LazyAbort`). */
class ServedRequest extends Request {
  readonly #lazy: LazyAbort;

  constructor(url: string, init: RequestInit, lazy: LazyAbort) {
    super(url, init);
    this.#lazy = lazy;
  }

  /** Aborted when the client goes away or the request body fails. */
  override get signal(): AbortSignal {
    return this.#lazy.signal;
  }
}
