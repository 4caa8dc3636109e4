/**
 * Exchange shims for the adapters in `adapters.ts` (private to gateway/).
 *
 * Contract:
 * - `exchangeFromRequest(request, info, res, log)` describes a fetch `Request` as an engine
 *   `Exchange`, so the gateway runner (`runApp`) can serve it: the head comes from the method, URL
 *   and headers (no raw bytes exist, so the target is the URL's path and query and the version is
 *   HTTP/1.1); the `BodyReader` pulls the request's body stream chunk by chunk.
 * - `ResponseShim` is the `Responder` for that exchange: it applies the engine's header and status
 *   checks (`checkResponseHeader`, `checkStatus`), and resolves `response` with a `Response` at
 *   the first non-empty write or at `end()`. A response completed within the same turn (the
 *   runner's fast path) gets a one-piece body; otherwise the body is a stream whose `write()`
 *   waits while its queue is full (64 KiB). Never more than a declared Content-Length is passed
 *   on; a shorter body errors the stream (the engine closes the connection in that case).
 * - `exchangeFromEnviron(environ, res)` describes an environ as an `Exchange`, so the fetch path
 *   (`fetchHandler`) can serve it: headers from `HTTP_*`/`CONTENT_*`, the target from
 *   `lsbaws.raw_uri` (or `SCRIPT_NAME` + `PATH_INFO` + `QUERY_STRING`), the body from
 *   `lsbaws.input.stream`.
 * - `StartResponseResponder` is the `Responder` for that exchange: `head()` calls `startResponse`
 *   (so SR-2 to SR-7 apply), `write()` hands each chunk to the gateway body (`body`), resolving
 *   once the runner took it, and `end()` ends that body. The runner releasing the body (client
 *   gone, error) aborts the shim's signal, so `sendResponse` stops and cancels the Response body.
 */
import type { BodyReader, ConnAddr, Exchange, Responder } from "../server/exchange.ts";
import type { RequestHead, TargetForm } from "../server/http/request_head.ts";
import { checkResponseHeader, checkStatus } from "../server/http/response_head.ts";
import { STATUS_TEXT } from "../server/http/status.ts";
import type { Environ, StartResponse } from "./types.ts";

/** A log sink with the engine's levels. */
export type LogFn = (level: "debug" | "info" | "warning" | "error", msg: string) => void;

const EMPTY = new Uint8Array(0);
const QUEUE_BYTES = 64 * 1024;
const NULL_BODY_STATUSES = new Set([204, 205, 304]);
const REQUEST_ID_RE = /^[A-Za-z0-9._:@+=\/-]{1,200}$/;
const UNNAMED: ConnAddr = Object.freeze({ transport: "unix", hostname: "", port: 0 });

/** A `ResponseHeaderError` without importing server runtime code (the runner checks the name). */
function headerError(message: string): Error {
  const err = new Error(message);
  err.name = "ResponseHeaderError";
  return err;
}

// ---------------------------------------------------------------------------------------------
// Request → Exchange (toFetchHandler)

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
      if (requestId === null) {
        const given = request.headers.get("x-request-id") ?? "";
        requestId = REQUEST_ID_RE.test(given) ? given : crypto.randomUUID();
      }
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
class StreamBodyReader implements BodyReader {
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

  head(status: number, headers: ReadonlyArray<readonly [string, string]>, reason = ""): void {
    if (this.#headSent) throw headerError("head() after the head was sent");
    const rule = checkStatus(status, reason);
    if (rule) throw headerError(`invalid status ${status}: ${rule}`);
    if (status < 200 || status > 599) {
      throw headerError(`status-range: ${status} is not a final status`);
    }
    let declared = -1;
    for (const [name, value] of headers) {
      const bad = checkResponseHeader(name, value);
      if (bad) throw headerError(`header ${JSON.stringify(name)}: ${bad}`);
      if (name.length === 14 && name.toLowerCase() === "content-length") {
        if (!/^[0-9]{1,15}$/.test(value) || (declared !== -1 && Number(value) !== declared)) {
          throw headerError(`header "content-length": content-length-digits`);
        }
        declared = Number(value);
      }
    }
    this.#status = status;
    this.#reason = reason;
    this.#headers = headers;
    this.#declared = declared;
    this.#hasHead = true;
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#ended) throw headerError("write() after end()");
    if (!(chunk instanceof Uint8Array)) throw headerError("body chunks must be Uint8Array");
    if (!this.#hasHead) throw headerError("write() before head()");
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
    if (!this.#hasHead) throw headerError("end() before head()");
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
    const body = NULL_BODY_STATUSES.has(this.#status) ? null : concat(this.#pending) as BodyInit;
    this.#pending = [];
    this.#settle(body);
    this.#closed = true;
    this.#complete();
  }

  /** The runner returned: the response must be complete. */
  finished(): void {
    if (this.#ended) return;
    this.fail(headerError("handler returned without finishing the response"));
  }

  /** The runner failed: an error response if nothing went out yet, else a broken body stream. */
  fail(err: unknown): void {
    this.#ended = true;
    if (!this.#settled) {
      const status = statusOf(err);
      if (!isAppError(err)) this.#log("error", `answering ${status}: ${describe(err)}`);
      // The same body as the engine's canned error responses.
      const text = new TextEncoder().encode(`${status} ${STATUS_TEXT[status] ?? "Error"}\n`);
      this.#settled = true;
      this.#closed = true;
      this.#resolve(
        new Response(text, {
          status,
          headers: { "content-type": "text/plain; charset=utf-8" },
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

// ---------------------------------------------------------------------------------------------
// Environ → Exchange (fromFetchHandler)

/** Describes a gateway environ as an engine exchange answered through `res`. */
export function exchangeFromEnviron(environ: Environ, res: StartResponseResponder): Exchange {
  const method = environ.REQUEST_METHOD;
  const target = targetOf(environ);
  const version = environ.SERVER_PROTOCOL === "HTTP/1.0" ? "HTTP/1.0" : "HTTP/1.1";
  const head: RequestHead = {
    method,
    target,
    targetForm: formOf(target),
    version,
    minor: version === "HTTP/1.0" ? 0 : 1,
    headers: headersOf(environ),
  };
  const scheme = environ["lsbaws.url_scheme"] === "https" || environ.HTTPS === "on"
    ? "https"
    : "http";
  const declared = environ.CONTENT_LENGTH;
  const contentLength = declared !== undefined && /^[0-9]{1,15}$/.test(declared)
    ? Number(declared)
    : environ.HTTP_TRANSFER_ENCODING !== undefined
    ? null
    : 0;
  const input = environ["lsbaws.input"];
  const stream = contentLength === 0 || input === undefined ? null : input.stream;
  const requestId = environ["lsbaws.request_id"];
  return {
    head,
    body: new StreamBodyReader(stream, contentLength),
    res,
    remote: remoteOf(environ),
    local: {
      transport: "tcp",
      hostname: environ.SERVER_NAME,
      port: Number(environ.SERVER_PORT) || 0,
    },
    scheme,
    serverName: environ.SERVER_NAME,
    serverPort: environ.SERVER_PORT,
    requestId: typeof requestId === "string" ? requestId : crypto.randomUUID(),
    completed: res.completed,
    log(level, msg) {
      // Errors are rethrown to the gateway runner, which logs them once with their stack.
      if (level === "warning") environ["lsbaws.errors"]?.write(`${msg}\n`);
    },
    takeover(): Promise<never> {
      return Promise.reject(new Error("takeover() is not available behind fromFetchHandler()"));
    },
  };
}

/** The raw target if the server gave one, else one rebuilt from the CGI keys. */
function targetOf(environ: Environ): string {
  const raw = environ["lsbaws.raw_uri"];
  if (typeof raw === "string" && raw !== "") return raw;
  const path = encodePath((environ.SCRIPT_NAME ?? "") + (environ.PATH_INFO ?? "")) || "/";
  const query = environ.QUERY_STRING ?? "";
  return query === "" ? path : `${path}?${query}`;
}

/** Percent-encodes a latin-1 byte-string path for a URL (the inverse of ENV-3). */
function encodePath(path: string): string {
  let out = "";
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    out += c > 0x20 && c < 0x7f && c !== 0x25 && c !== 0x3f && c !== 0x23
      ? path[i]
      : "%" + c.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

function formOf(target: string): TargetForm {
  if (target === "*") return "asterisk";
  if (target.startsWith("/")) return "origin";
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(target)) return "absolute";
  return "authority";
}

/** ENV-8, ENV-9 in reverse: `HTTP_USER_AGENT` → `user-agent`. */
function headersOf(environ: Environ): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const key of Object.keys(environ)) {
    const value = environ[key];
    if (typeof value !== "string") continue;
    if (key.startsWith("HTTP_")) {
      out.push([key.slice(5).toLowerCase().replaceAll("_", "-"), value]);
    } else if (key === "CONTENT_TYPE") out.push(["content-type", value]);
    else if (key === "CONTENT_LENGTH") out.push(["content-length", value]);
  }
  return out;
}

function remoteOf(environ: Environ): ConnAddr {
  const addr = environ.REMOTE_ADDR;
  if (addr === undefined) return UNNAMED;
  if (environ.REMOTE_PORT === undefined) return { transport: "unix", hostname: addr, port: 0 };
  return { transport: "tcp", hostname: addr, port: Number(environ.REMOTE_PORT) || 0 };
}

/**
 * The `Responder` behind `fromFetchHandler`: calls `startResponse` and feeds `body`, a gateway
 * response body (an async iterable with `close()`) that yields the chunks it is given.
 */
export class StartResponseResponder implements Responder {
  /** The gateway response body: yields what `write()` hands over, ends at `end()`. */
  readonly body: AsyncIterable<Uint8Array> & { close(): void };
  /** Resolves once `head()` was called; rejects if the handler failed before that. */
  readonly headKnown: Promise<void>;
  /** Resolves once the body ended, failed or was released. */
  readonly completed: Promise<void>;
  readonly signal: AbortSignal;
  readonly #startResponse: StartResponse;
  readonly #abort = new AbortController();
  #headResolve!: () => void;
  #headReject!: (err: unknown) => void;
  #complete!: () => void;
  #hasHead = false;
  #ended = false;
  #released = false;
  #failure: { err: unknown } | null = null;
  /** A chunk waiting for the runner, and the resolver of the `write()` that gave it. */
  #slot: { chunk: Uint8Array; taken: () => void } | null = null;
  /** The runner waiting for a chunk. */
  #reader: ((r: IteratorResult<Uint8Array>) => void) | null = null;
  #readerFail: ((err: unknown) => void) | null = null;

  constructor(startResponse: StartResponse, signal: AbortSignal | undefined) {
    this.#startResponse = startResponse;
    this.signal = signal === undefined
      ? this.#abort.signal
      : AbortSignal.any([signal, this.#abort.signal]);
    this.headKnown = new Promise((resolve, reject) => {
      this.#headResolve = resolve;
      this.#headReject = reject;
    });
    this.headKnown.catch(() => {});
    this.completed = new Promise((resolve) => (this.#complete = resolve));
    this.body = {
      [Symbol.asyncIterator]: () => ({ next: () => this.#next() }),
      close: () => this.#release(),
    };
  }

  get headSent(): boolean {
    return this.#hasHead;
  }

  get aborted(): boolean {
    return this.#released || this.signal.aborted;
  }

  head(status: number, headers: ReadonlyArray<readonly [string, string]>, reason = ""): void {
    if (this.#hasHead) throw headerError("head() after the head was sent");
    const text = reason !== "" ? reason : STATUS_TEXT[status] ?? "";
    this.#startResponse(`${status} ${text}`, headers.map(([n, v]) => [n, v]));
    this.#hasHead = true;
    this.#headResolve();
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#ended) throw headerError("write() after end()");
    if (!this.#hasHead) throw headerError("write() before head()");
    if (this.#released) return Promise.reject(this.signal.reason);
    if (chunk.length === 0) return undefined;
    return new Promise((taken) => {
      const reader = this.#reader;
      if (reader !== null) {
        this.#reader = this.#readerFail = null;
        reader({ done: false, value: chunk });
        taken();
      } else {
        this.#slot = { chunk, taken };
      }
    });
  }

  end(): Promise<void> | undefined {
    if (this.#ended) return;
    this.#ended = true;
    const reader = this.#reader;
    if (reader !== null) {
      this.#reader = this.#readerFail = null;
      reader({ done: true, value: undefined });
    }
    return undefined;
  }

  /** The fetch path returned: the response must be complete. */
  finished(): void {
    if (!this.#ended) this.fail(headerError("handler returned without finishing the response"));
  }

  /** The fetch path failed: before the head, the app call rejects; after, the body throws. */
  fail(err: unknown): void {
    if (this.#ended && this.#failure === null && this.#slot === null) {
      if (!this.#hasHead) this.#headReject(err);
      return;
    }
    this.#ended = true;
    this.#failure = { err };
    if (!this.#hasHead) this.#headReject(err);
    const fail = this.#readerFail;
    if (fail !== null) {
      this.#reader = this.#readerFail = null;
      fail(err);
    }
  }

  #next(): Promise<IteratorResult<Uint8Array>> {
    const slot = this.#slot;
    if (slot !== null) {
      this.#slot = null;
      slot.taken();
      return Promise.resolve({ done: false, value: slot.chunk });
    }
    if (this.#failure !== null) return Promise.reject(this.#failure.err);
    if (this.#ended || this.#released) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.#reader = resolve;
      this.#readerFail = reject;
    });
  }

  /** BODY-5: the runner released the body; stop the fetch path if it is still sending. */
  #release(): void {
    if (this.#released) return;
    this.#released = true;
    if (!this.#ended || this.#slot !== null) {
      this.#abort.abort(new DOMException("the gateway body was released", "AbortError"));
      this.#slot?.taken();
      this.#slot = null;
    }
    this.#complete();
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  if (chunks.length === 0) return EMPTY;
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function statusOf(err: unknown): number {
  const s = (err as { status?: unknown } | null)?.status;
  return typeof s === "number" && s >= 400 && s <= 599 ? s : 500;
}

function isAppError(err: unknown): boolean {
  return err instanceof Error && (err.name === "AppError" || err.name === "AppContractError");
}

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
}
