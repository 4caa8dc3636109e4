/**
 * The exchange shim behind `toFetchHandler` (private to gateway/): a fetch `Request` described as
 * an engine `Exchange`, answered with a `Response`.
 *
 * Contract:
 * - `exchangeFromRequest(request, info, res, log)` describes a fetch `Request` as an engine
 *   `Exchange`, so the gateway runner (`runApp`) can serve it: the head comes from the method, URL
 *   and headers (no raw bytes exist, so the target is the URL's path and query and the version is
 *   HTTP/1.1; a body of unknown length is announced as `Transfer-Encoding: chunked`); the
 *   `BodyReader` pulls the request's body stream chunk by chunk, without copying; the request id
 *   is the client's `X-Request-ID` when acceptable, else a fresh one (`requestIdFrom`).
 * - `ResponseShim` is the `Responder` for that exchange: it applies the engine's header and status
 *   check (`validateResponseHead`), and resolves `response` with a `Response` at
 *   the first non-empty write or at `end()`. A response with a declared length that completes
 *   within the same turn (the runner's fast path) gets a one-piece body; otherwise the body is a
 *   stream whose `write()` waits while its queue is full (64 KiB), and rejects once the consumer
 *   cancelled it. Never more than a declared Content-Length is passed on; a shorter body errors
 *   the stream (the engine closes the connection in that case). A failure before anything was
 *   sent becomes the engine's canned error response (500, or the error's own 4xx/5xx status).
 * - `StreamBodyReader` and `UNNAMED` are shared with `_shim_environ.ts`.
 */
import type { BodyReader, ConnAddr, Exchange, Responder } from "../server/exchange.ts";
import type { RequestHead } from "../server/http/request_head.ts";
import { validateResponseHead, withContentLength } from "../server/http/response_head.ts";
import {
  describeError as describe,
  ERROR_CONTENT_TYPE,
  errorBodyText,
  HttpError,
  ResponseError,
  statusOf,
} from "../server/http/errors.ts";
import { concatBytes } from "../server/http/bytes.ts";
import { requestIdFrom } from "../server/http/request_id.ts";

export type LogFn = (level: "debug" | "info" | "warning" | "error", msg: string) => void;

const QUEUE_BYTES = 64 * 1024;
const NULL_BODY_STATUSES = new Set([204, 205, 304]);
/** No peer address: the REMOTE_* keys stay absent. */
export const UNNAMED: ConnAddr = Object.freeze({ transport: "unix", hostname: "", port: 0 });

/** Describes `request` as an engine exchange answered through `res`. */
export function exchangeFromRequest(
  request: Request,
  info: { readonly remoteAddr?: unknown; readonly completed?: Promise<void> } | undefined,
  res: ResponseShim,
  log: LogFn,
): Exchange {
  const url = new URL(request.url);
  const headers: Array<[string, string]> = [];
  for (const pair of request.headers) headers.push(pair);
  // A body of unknown length is what HTTP/1.1 sends chunked; say so, as the wire would (ENV-9),
  // so that the app (or a nested fromFetchHandler) knows there is a body.
  if (
    request.body !== null && !request.headers.has("content-length") &&
    !request.headers.has("transfer-encoding")
  ) {
    headers.push(["transfer-encoding", "chunked"]);
  }
  const head: RequestHead = {
    method: request.method,
    target: url.pathname + url.search,
    targetForm: "origin",
    version: "HTTP/1.1",
    minor: 1,
    headers,
  };
  const scheme = url.protocol === "https:" ? "https" : "http";
  const serverPort = url.port || (scheme === "https" ? "443" : "80");
  let requestId: string | null = null;
  return {
    head,
    body: bodyReaderOf(request),
    res,
    remote: addrOf(info?.remoteAddr),
    local: { transport: "tcp", hostname: url.hostname, port: Number(serverPort) },
    scheme,
    serverName: url.hostname,
    serverPort,
    get requestId(): string {
      requestId ??= requestIdFrom(request.headers.get("x-request-id") ?? "");
      return requestId;
    },
    completed: info?.completed ?? res.completed,
    log,
    takeover(): Promise<never> {
      return Promise.reject(new Error("takeover() is not available behind toFetchHandler()"));
    },
  };
}

/** `Deno.ServeHandlerInfo.remoteAddr` (a `Deno.NetAddr` or `Deno.UnixAddr`) as a `ConnAddr`. */
function addrOf(addr: unknown): ConnAddr {
  if (addr === null || typeof addr !== "object") return UNNAMED; // no peer: REMOTE_* absent
  const a = addr as { transport?: string; hostname?: string; port?: number; path?: string };
  if (a.transport === "unix" || a.transport === "unixpacket") {
    return { transport: "unix", hostname: a.path ?? a.hostname ?? "", port: 0 };
  }
  return { transport: "tcp", hostname: a.hostname ?? "", port: a.port ?? 0 };
}

/** A `BodyReader` over a request's body stream; chunks are passed on without copying. */
function bodyReaderOf(request: Request): BodyReader {
  const stream = request.body;
  const declared = request.headers.get("content-length");
  const contentLength = stream === null
    ? 0
    : declared !== null && /^[0-9]{1,15}$/.test(declared)
    ? Number(declared)
    : null;
  return new StreamBodyReader(stream, contentLength);
}

/** Reads a byte stream as a `BodyReader` (also used over `lsbaws.input.stream`). */
export class StreamBodyReader implements BodyReader {
  readonly contentLength: number | null;
  #stream: ReadableStream<Uint8Array> | null;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #rest: Uint8Array | null = null;
  #done: boolean;
  #bytesRead = 0;

  constructor(stream: ReadableStream<Uint8Array> | null, contentLength: number | null) {
    this.#stream = stream;
    this.contentLength = contentLength;
    this.#done = stream === null || contentLength === 0;
  }

  get done(): boolean {
    return this.#done && this.#rest === null;
  }

  get bytesRead(): number {
    return this.#bytesRead;
  }

  async read(max?: number): Promise<Uint8Array | null> {
    let chunk = this.#rest;
    this.#rest = null;
    if (chunk === null) {
      if (this.#done) return null;
      this.#reader ??= this.#stream!.getReader();
      const r = await this.#reader.read();
      if (r.done) {
        this.#done = true;
        return null;
      }
      chunk = r.value;
    }
    if (max !== undefined && max > 0 && chunk.length > max) {
      this.#rest = chunk.subarray(max);
      chunk = chunk.subarray(0, max);
    }
    this.#bytesRead += chunk.length;
    return chunk;
  }
}

/** The `Responder` behind `toFetchHandler`: builds the `Response` (see the module comment). */
export class ResponseShim implements Responder {
  /** Resolves to the response for the fetch caller. */
  readonly response: Promise<Response>;
  /** Resolves once the response body has ended, failed or was cancelled. */
  readonly completed: Promise<void>;
  readonly #log: LogFn;
  readonly #abort = new AbortController();
  readonly signal: AbortSignal;
  #resolve!: (r: Response) => void;
  #complete!: () => void;
  #status = 200;
  #reason = "";
  #headers: ReadonlyArray<readonly [string, string]> = [];
  #hasHead = false;
  #headSent = false;
  #ended = false;
  #settled = false;
  #declared = -1;
  #sent = 0;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  #waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];
  #closed = false;
  #cancelled = false;

  constructor(request: Request, log: LogFn) {
    this.#log = log;
    this.response = new Promise((resolve) => (this.#resolve = resolve));
    this.completed = new Promise((resolve) => (this.#complete = resolve));
    // request.signal aborts when the outer server's client goes away; the stream's cancel()
    // does the same for the body we hand out.
    this.signal = AbortSignal.any([request.signal, this.#abort.signal]);
  }

  get headSent(): boolean {
    return this.#headSent;
  }

  get aborted(): boolean {
    return this.#cancelled || this.signal.aborted;
  }

  head(
    status: number,
    headers: ReadonlyArray<readonly [string, string]>,
    reason = "",
    length = -1,
  ): void {
    if (this.#headSent) {
      throw new ResponseError("response-order", "head() after the head was sent");
    }
    headers = withContentLength(headers, length);
    const declared = validateResponseHead(status, headers, reason);
    if (status > 599) throw new ResponseError("status-range", `${status} is not a final status`);
    this.#status = status;
    this.#reason = reason;
    this.#headers = headers;
    this.#declared = declared;
    this.#hasHead = true;
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#ended) throw new ResponseError("response-order", "write() after end()");
    if (!(chunk instanceof Uint8Array)) {
      throw new ResponseError("body-bytes", "body chunks must be Uint8Array");
    }
    if (!this.#hasHead) throw new ResponseError("response-order", "write() before head()");
    if (!this.#headSent) {
      this.#headSent = true;
      // A declared length (the runner's fast path declares one) gets a one-piece body when the
      // response completes within this turn; otherwise the body streams, as on the engine.
      if (this.#declared < 0) this.#startStream();
      else queueMicrotask(() => this.#startStream());
    }
    if (this.#cancelled) return Promise.reject(this.signal.reason);
    if (chunk.length === 0 || NULL_BODY_STATUSES.has(this.#status) || this.#closed) return;
    if (this.#declared >= 0 && this.#sent + chunk.length > this.#declared) {
      this.#log(
        "error",
        `app sent more than its Content-Length (${this.#declared}); extra bytes dropped`,
      );
      chunk = chunk.subarray(0, this.#declared - this.#sent);
      if (chunk.length === 0) return;
    }
    this.#sent += chunk.length;
    if (this.#controller === null) {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      if (this.#pendingBytes <= QUEUE_BYTES) return;
      this.#startStream();
      return this.#room();
    }
    this.#controller.enqueue(chunk);
    return this.#room();
  }

  /** Back-pressure: a promise while the stream's queue is full. */
  #room(): Promise<void> | undefined {
    const c = this.#controller;
    if (c === null) return;
    if ((c.desiredSize ?? 1) > 0) return;
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  end(): Promise<void> | undefined {
    if (this.#ended) return;
    if (!this.#hasHead) throw new ResponseError("response-order", "end() before head()");
    this.#ended = true;
    this.#headSent = true;
    const short = this.#declared >= 0 && this.#sent < this.#declared &&
      !NULL_BODY_STATUSES.has(this.#status);
    if (short) {
      this.#log(
        "error",
        `app sent ${this.#sent} of ${this.#declared} declared Content-Length bytes; aborting`,
      );
    }
    const c = this.#controller;
    if (c !== null) {
      if (this.#closed) return;
      this.#closed = true;
      if (short) c.error(new Error("response body shorter than its Content-Length"));
      else c.close();
      this.#complete();
      return;
    }
    if (this.#settled) return;
    // Completed within one turn: the whole body is known.
    if (short) {
      this.#startStream();
      return this.end();
    }
    const body = NULL_BODY_STATUSES.has(this.#status)
      ? null
      : concatBytes(this.#pending) as BodyInit;
    this.#pending = [];
    this.#settle(body);
    this.#closed = true;
    this.#complete();
  }

  /** The runner returned: the response must be complete. */
  finished(): void {
    if (this.#ended) return;
    this.fail(
      new ResponseError("response-order", "handler returned without finishing the response"),
    );
  }

  /** The runner failed: an error response if nothing went out yet, else a broken body stream. */
  fail(err: unknown): void {
    this.#ended = true;
    if (!this.#settled) {
      const status = statusOf(err);
      if (!(err instanceof HttpError && err.logged)) {
        this.#log("error", `answering ${status}: ${describe(err)}`);
      }
      // The same body as the engine's canned error responses.
      const text = new TextEncoder().encode(errorBodyText(status));
      this.#settled = true;
      this.#closed = true;
      this.#resolve(
        new Response(text, {
          status,
          headers: { "content-type": ERROR_CONTENT_TYPE },
        }),
      );
      this.#complete();
      return;
    }
    if (!this.#closed && this.#controller !== null) {
      this.#closed = true;
      this.#controller.error(err instanceof Error ? err : new Error(String(err)));
    }
    this.#complete();
  }

  /** Switches to a streamed body (after the turn in which the first chunk was written). */
  #startStream(): void {
    if (this.#settled) return;
    const pending = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
        for (const chunk of pending) controller.enqueue(chunk);
      },
      pull: () => this.#wake(null),
      cancel: (reason) => {
        this.#closed = true;
        this.#cancelled = true;
        const err = new DOMException(`response body cancelled: ${reason}`, "AbortError");
        this.#abort.abort(err);
        this.#wake(err);
        this.#complete();
      },
    }, { highWaterMark: QUEUE_BYTES, size: (chunk) => chunk.byteLength });
    this.#settle(NULL_BODY_STATUSES.has(this.#status) ? null : stream);
  }

  /** Resolves the writers waiting for room, or rejects them with `err` (client gone). */
  #wake(err: unknown): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) err === null ? w.resolve() : w.reject(err);
  }

  #settle(body: BodyInit | null): void {
    this.#settled = true;
    const headers = new Headers();
    for (const [name, value] of this.#headers) headers.append(name, value);
    this.#resolve(new Response(body, { status: this.#status, statusText: this.#reason, headers }));
  }
}
