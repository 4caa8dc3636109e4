/**
 * The exchange shim behind `fromFetchHandler` (private to gateway/): a gateway environ described
 * as an engine `Exchange`, answered through `startResponse` and a gateway body.
 *
 * Contract:
 * - `exchangeFromEnviron(environ, res)` describes an environ as an `Exchange`, so the fetch path
 *   (`fetchHandler`) can serve it: headers from `HTTP_*`/`CONTENT_*`, the target from
 *   `lsbaws.raw_uri` (or `SCRIPT_NAME` + `PATH_INFO` + `QUERY_STRING`), the body from
 *   `lsbaws.input.stream` when `CONTENT_LENGTH` or `HTTP_TRANSFER_ENCODING` says there is one.
 * - `StartResponseResponder` is the `Responder` for that exchange: `head()` calls `startResponse`
 *   (so SR-2 to SR-7 apply), `write()` hands each chunk to the gateway body (`body`), resolving
 *   once the runner took it, and `end()` ends that body. The runner releasing the body (client
 *   gone, error) aborts the shim's signal, so `sendResponse` stops and cancels the Response body.
 */
import type { ConnAddr, Exchange, Responder } from "../server/exchange.ts";
import type { RequestHead, TargetForm } from "../server/http/request_head.ts";
import { withContentLength } from "../server/http/response_head.ts";
import { STATUS_TEXT } from "../server/http/status.ts";
import { StreamBodyReader, UNNAMED } from "./_shim_request.ts";
import { ResponseError } from "../server/http/errors.ts";
import { nextRequestId } from "../server/http/request_id.ts";
import type { Environ, StartResponse } from "./types.ts";

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
    requestId: typeof requestId === "string" ? requestId : nextRequestId(),
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

  head(
    status: number,
    headers: ReadonlyArray<readonly [string, string]>,
    reason = "",
    length = -1,
  ): void {
    if (this.#hasHead) throw new ResponseError("response-order", "head() after the head was sent");
    const text = reason !== "" ? reason : STATUS_TEXT[status] ?? "";
    const list = withContentLength(headers, length).map(([n, v]): [string, string] => [n, v]);
    this.#startResponse(`${status} ${text}`, list);
    this.#hasHead = true;
    this.#headResolve();
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#ended) throw new ResponseError("response-order", "write() after end()");
    if (!this.#hasHead) throw new ResponseError("response-order", "write() before head()");
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
    if (!this.#ended) {
      this.fail(
        new ResponseError("response-order", "handler returned without finishing the response"),
      );
    }
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
