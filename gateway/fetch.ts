/**
 * The fetch calling convention: `(request: Request, info: ServeHandlerInfo) => Response`, served
 * with `Deno.serve` semantics on lsbaws's own engine.
 *
 * Contract:
 * - `fetchHandler(fn, options)` adapts a fetch handler to the engine's `Handler`.
 * - The `Request` is built once per request from the already-parsed head (no re-parsing): the URL
 *   from the scheme, Host (or absolute-form authority) and target; headers in wire order; a
 *   streamed body (a `ReadableStream` pulling from the engine's `BodyReader`, so every body limit
 *   and timeout still applies) only when the request has one and the method allows one.
 * - `request.signal` aborts when the connection closes before the response is finished.
 * - The second argument is shaped like `Deno.ServeHandlerInfo`: `remoteAddr` (`transport`,
 *   `hostname`, `port`) and `completed` (resolves when the response was sent).
 * - The `Response` goes back through the engine's `Responder`: a body known to be one chunk gets
 *   Content-Length, anything else streams (chunked on HTTP/1.1) with back-pressure; the body
 *   stream is cancelled if the client goes away. Hop-by-hop headers in a Response break the same
 *   rule as in gateway apps (SR-6: 500 and a log line naming the rule), with one exception:
 *   `Transfer-Encoding: chunked` alone is dropped, because it only restates what the server does
 *   for a streamed body and the Fetch API has no other way to say "stream"; frameworks set it
 *   (Hono's `streamText`), and `Deno.serve` ignores it too.
 * - A handler that resolves to `undefined` gets 404 and a log hint; one that throws gets 500 with
 *   nothing leaked; the stack goes to the error log.
 * - WebSockets: a `101` Response is completed by `gateway/websocket.ts` (`completeUpgrade`) when
 *   the handler called `Deno.upgradeWebSocket(request)`, and is a contract error (500) otherwise;
 *   a handshake refused by the shim (`WebSocketHandshakeError`) that escapes the handler is
 *   answered 400 with the reason, not 500.
 */
import type { Exchange, Handler } from "../server/exchange.ts";
import { AppContractError, AppError, contractErrorOf } from "./errors.ts";
import { utf8Length } from "../server/http/bytes.ts";
import { headerKind, KIND_CONTENT_LENGTH } from "../server/http/response_head.ts";
import { attach, type CancelCallback, fastRequest, innerExchangeOf } from "./_fast_request.ts";
import {
  abandonUpgrade,
  completeUpgrade,
  hasPendingUpgrade,
  WebSocketHandshakeError,
} from "./websocket.ts";

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

/** A fetch-style request handler. */
export type FetchHandler = (
  request: Request,
  info: ServeHandlerInfo,
) => Response | undefined | Promise<Response | undefined>;

const EXCHANGE = Symbol.for("lsbaws.exchange");

/** Returns the engine exchange behind a `Request` that lsbaws built (for WebSocket upgrades). */
export function exchangeOf(request: Request): Exchange | undefined {
  return (innerExchangeOf(request) as Exchange | undefined) ??
    (request as unknown as Record<symbol, Exchange | undefined>)[EXCHANGE];
}

/**
 * Builds the `Request` for an exchange (exported for adapters and tests). `onBodyError` is told
 * when reading the body fails (a limit, bad framing, the client gone) before the error reaches
 * the handler.
 */
export function buildRequest(
  ex: Exchange,
  signal?: AbortSignal | LazyAbort,
  onBodyError?: (err: unknown) => void,
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
          onBodyError?.(err);
          throw err;
        }
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
    }, { highWaterMark: 0 });
  }
  // FAST PATH: a Request built the way Deno.serve builds its own (see _fast_request.ts).
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
  #onEngineAbort = () => this.abort(new DOMException("client disconnected", "AbortError"));

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
        this.#ex.res.signal.addEventListener("abort", this.#onEngineAbort, { once: true });
        this.#linked = true;
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
      this.#ex.res.signal.addEventListener("abort", this.#onEngineAbort, { once: true });
      this.#linked = true;
    }
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
      this.#ex.res.signal.removeEventListener("abort", this.#onEngineAbort);
      this.#linked = false;
    }
  }
}

/** The handler's second argument; `completed` is created only if the app asks for it. */
class HandlerInfo implements ServeHandlerInfo {
  readonly remoteAddr: ServeHandlerInfo["remoteAddr"];
  readonly #ex: Exchange;

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

/** Symbols of Deno's `Headers` internals (see `rawHeaderList`); null when not found. */
let headerSlots: { list: symbol; others: symbol[] } | null | undefined;

/**
 * The header list of a `Headers` object as Deno stores it (insertion order, names as given), read
 * straight from its internals when it is a plain list (no lazy getter behind it), else null.
 * Iterating `Headers` instead sorts and combines every time.
 */
function rawHeaderList(h: Headers): ReadonlyArray<readonly [unknown, unknown]> | null {
  if (headerSlots === undefined) {
    const own = Object.getOwnPropertySymbols(h);
    const find = (d: string) => own.find((s) => s.description === d);
    const list = find("header list");
    const others = ["header list getter", "header get", "header target"].map(find);
    headerSlots = list && others.every((s) => s !== undefined)
      ? { list, others: others as symbol[] }
      : null;
  }
  if (headerSlots === null) return null;
  const rec = h as unknown as Record<symbol, unknown>;
  for (const s of headerSlots.others) if (rec[s] !== null) return null;
  const list = rec[headerSlots.list];
  return Array.isArray(list) ? list : null;
}

function isContentLength(h: readonly [string, string]): boolean {
  return headerKind(h[0]) === KIND_CONTENT_LENGTH;
}

/**
 * The response's headers for the engine as `Deno.serve` sends them: names as the app wrote them,
 * one line per entry, in the order the app added them.
 */
function responseHeaders(resp: Response): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const raw = rawHeaderList(resp.headers);
  if (raw !== null) {
    for (let i = 0; i < raw.length; i++) {
      const name = raw[i][0];
      const value = raw[i][1];
      if (typeof name !== "string" || typeof value !== "string") return iteratedHeaders(resp);
      if (
        name.length === 17 && name.toLowerCase() === "transfer-encoding" && isBareChunked(value)
      ) {
        continue;
      }
      out.push([name, value]);
    }
    return out;
  }
  return iteratedHeaders(resp);
}

/** `responseHeaders` through the public API (combined values, set-cookie lines kept apart). */
function iteratedHeaders(resp: Response): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, value] of resp.headers) {
    if (name === "set-cookie") continue;
    if (name === "transfer-encoding" && isBareChunked(value)) continue;
    out.push([name, value]);
  }
  for (const c of resp.headers.getSetCookie()) out.push(["set-cookie", c]);
  return out;
}

/** See the module comment: a bare "chunked" claim is the server's framing anyway. */
function isBareChunked(value: string): boolean {
  return value.trim().toLowerCase() === "chunked";
}

const NOT_FOUND = new TextEncoder().encode("Not Found\n");

/** Adapts a fetch handler to the engine; see the module comment. */
export function fetchHandler(fn: FetchHandler): Handler {
  return async function handle(ex: Exchange): Promise<void> {
    // request.signal aborts when the client goes away (the engine's signal), when the request
    // body cannot be read (a limit, bad framing, the client gone mid-body: the request is over),
    // or when writing the response finds the client gone.
    // The signal is created only if the app looks at it: `new Request(url, {signal})` alone
    // costs ~4.5 µs (Deno builds a dependent signal), more than the rest of the request.
    const lazy = new LazyAbort(ex);
    const onAbort = () => lazy.abort(new DOMException("client disconnected", "AbortError"));
    let bodyError: unknown = NO_ERROR;
    const request = buildRequest(ex, lazy, (err) => {
      bodyError = err;
      lazy.abort(new DOMException(`the request body failed: ${describeError(err)}`, "AbortError"));
    });
    const info: ServeHandlerInfo = new HandlerInfo(ex);
    let resp: Response | undefined;
    try {
      resp = await fn(request, info);
    } catch (err) {
      lazy.detach();
      abandonUpgrade(ex, err);
      if (err instanceof WebSocketHandshakeError) return refuseHandshake(ex, err);
      if (err === bodyError) {
        // The client's fault (APP-6's analogue): the engine answers with the error's own status.
        ex.log("debug", `request body failed for ${ex.head.target}: ${describeError(err)}`);
        throw err;
      }
      ex.log(
        "error",
        `fetch handler threw for ${ex.head.method} ${ex.head.target}: ${stackOf(err)}`,
      );
      throw new AppError(err);
    }
    let failed = false;
    try {
      if (resp === undefined || resp === null) {
        ex.log(
          "warning",
          `fetch handler returned no Response for ${ex.head.method} ${ex.head.target}; ` +
            "answering 404 (did a router fall through without a default route?)",
        );
        ex.res.head(404, [["content-type", "text/plain; charset=utf-8"], [
          "content-length",
          String(NOT_FOUND.length),
        ]]);
        ex.res.write(NOT_FOUND);
        await ex.res.end();
        return;
      }
      if (!(resp instanceof Response)) {
        const err = new AppContractError(
          "fetch-response",
          `fetch handler must return a Response, got ${describeValue(resp)}`,
        );
        ex.log("error", `${err.message} (${ex.head.method} ${ex.head.target})`);
        throw err;
      }
      if (resp.status === 101) {
        // The upgrade shim (gateway/websocket.ts) sends the 101 and takes the socket over.
        await completeUpgrade(ex, resp);
        return;
      }
      if (hasPendingUpgrade(ex)) {
        abandonUpgrade(ex, new Error(`the handler answered ${resp.status} instead of 101`));
      }
      await sendResponse(ex, resp);
    } catch (err) {
      // Sending failed (often: the client left, which the engine confirms by closing the
      // connection after this returns); request.signal stays wired to that close.
      failed = true;
      if (ex.res.aborted) onAbort();
      throw err;
    } finally {
      if (!failed) lazy.detach();
      // (An Error captures a stack trace, which costs microseconds: only build one when needed.)
      if (hasPendingUpgrade(ex)) abandonUpgrade(ex, new Error("the handler did not answer 101"));
    }
  };
}

const NO_ERROR = Symbol("no error");

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Answers a refused WebSocket handshake with its status (400) and reason. */
async function refuseHandshake(ex: Exchange, err: WebSocketHandshakeError): Promise<void> {
  ex.log("info", `websocket handshake refused for ${ex.head.target}: ${err.message}`);
  const body = new TextEncoder().encode(err.message + "\n");
  ex.res.head(err.status, [
    ["content-type", "text/plain; charset=utf-8"],
    ["content-length", String(body.length)],
    ...err.headers,
  ]);
  ex.res.write(body);
  await ex.res.end();
}

/** Yields to the microtask queue a few times (a settled stream read resolves within these). */
async function microtasks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await null;
}

/** Writes `resp` through the exchange's responder. */
export async function sendResponse(ex: Exchange, resp: Response): Promise<void> {
  const res = ex.res;
  const headers = responseHeaders(resp);
  // FAST PATH: a body given as a string or bytes is sent with Content-Length, without the
  // ReadableStream machinery (`staticBodyOf` returns null for streams and anything unexpected).
  let fixed = staticBodyOf(resp);
  if (fixed !== null) {
    // A string body is encoded straight into the engine's output buffer when it can do that.
    if (typeof fixed === "string" && res.writeText === undefined) fixed = encoder.encode(fixed);
    const length = typeof fixed === "string" ? utf8Length(fixed) : fixed.length;
    try {
      setHead(ex, resp, headers, length);
    } catch (err) {
      if (err instanceof AppContractError) ex.log("error", err.message);
      throw err;
    }
    const p = typeof fixed === "string"
      ? res.writeText!(fixed, length)
      : fixed.length > 0
      ? res.write(fixed)
      : undefined;
    if (p) await p;
    const e = res.end();
    if (e) await e;
    return;
  }
  const body = resp.body;
  if (body === null) {
    try {
      res.head(resp.status, headers, resp.statusText);
    } catch (err) {
      const e = contract(err);
      if (e instanceof AppContractError) ex.log("error", e.message);
      throw e;
    }
    await res.end();
    return;
  }
  const reader = body.getReader();
  const onAbort = () => reader.cancel().catch(() => {});
  res.signal.addEventListener("abort", onAbort, { once: true });
  try {
    const first = await reader.read();
    if (first.done) {
      setHead(ex, resp, headers, 0);
      await res.end();
      return;
    }
    let settled: ReadableStreamReadResult<Uint8Array> | null = null;
    const second = reader.read().then((r) => (settled = r));
    await microtasks(4);
    const hasLength = headers.some(isContentLength);
    if (settled !== null && (settled as ReadableStreamReadResult<Uint8Array>).done) {
      setHead(ex, resp, headers, hasLength ? -1 : first.value.length);
      const p = res.write(checkChunk(first.value));
      if (p) await p;
      await res.end();
      return;
    }
    setHead(ex, resp, headers, -1);
    let p = res.write(checkChunk(first.value));
    if (p) await p;
    let next = await second;
    while (!next.done) {
      p = res.write(checkChunk(next.value));
      if (p) await p;
      next = await reader.read();
    }
    await res.end();
  } catch (err) {
    reader.cancel().catch(() => {});
    const e = contract(err);
    if (e instanceof AppContractError) ex.log("error", e.message);
    throw e;
  } finally {
    res.signal.removeEventListener("abort", onAbort);
  }
}

const encoder = new TextEncoder();
let responseSlot: symbol | null | undefined;

/**
 * The body of a Response whose body was given as a string, `Uint8Array` or `ArrayBuffer` and
 * not touched yet, read from Deno's Response internals (Deno 2.9: the `Symbol(response)` slot's
 * `body.streamOrStatic` is a plain `{body, consumed}` record for such bodies and a ReadableStream
 * otherwise). Returns null whenever the shape is not exactly that, so the stream path runs.
 */
export function staticBodyOf(resp: Response): Uint8Array | string | null {
  if (responseSlot === undefined) {
    responseSlot = Object.getOwnPropertySymbols(resp).find((s) => s.description === "response") ??
      null;
  }
  if (responseSlot === null || resp.bodyUsed) return null;
  const inner = (resp as unknown as Record<symbol, unknown>)[responseSlot] as
    | { body?: { streamOrStatic?: unknown; source?: unknown } | null }
    | undefined;
  const b = inner?.body;
  if (!b || typeof b !== "object") return null;
  const sos = b.streamOrStatic as { body?: unknown; consumed?: unknown } | undefined;
  if (!sos || sos instanceof ReadableStream || sos.consumed !== false) return null;
  const src = b.source;
  if (typeof src === "string") return src;
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  return null;
}

function setHead(
  ex: Exchange,
  resp: Response,
  headers: Array<[string, string]>,
  length: number,
): void {
  if (length >= 0 && !headers.some(isContentLength)) {
    headers.push(["content-length", String(length)]);
  }
  try {
    ex.res.head(resp.status, headers, resp.statusText);
  } catch (err) {
    throw contract(err);
  }
}

function checkChunk(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  throw new AppContractError(
    "fetch-body-bytes",
    `Response body chunks must be Uint8Array, got ${typeof chunk}`,
  );
}

function describeValue(value: unknown): string {
  if (value === null || typeof value !== "object") return String(typeof value);
  return `a ${(value as object).constructor?.name ?? "object"}`;
}

function stackOf(err: unknown): string {
  return err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
}

/** A header or status the engine refused is the same broken rule as in a gateway app. */
function contract(err: unknown): unknown {
  return contractErrorOf(err, "fetch-response-head");
}
