/**
 * Runs a gateway app for one exchange: environ in, `Responder` calls out.
 *
 * Contract:
 * - `gatewayHandler(app, config)` returns the engine `Handler`. Per request it builds the input,
 *   the environ and `startResponse`, calls the app, and drives `ex.res`: `head()` once with the
 *   first non-empty chunk (or at the end, SR-8), `write()` per chunk awaiting any returned
 *   promise (BODY-3), then `end()`.
 * - Fast path (BODY-7): a synchronous app that returned an Array or a single `Uint8Array`, and
 *   did not use `write()`, is answered synchronously and the handler returns `undefined`, so the
 *   engine can go on with pipelined requests without awaiting.
 * - Known length: whenever the body is such a list (an Array or a single `Uint8Array`, from a
 *   synchronous app or resolved from an async one) and `write()` was not used, the whole length
 *   is known before the head goes out and is sent as `Content-Length` (unless the app set one).
 *   HEAD requests get the same head, so `HEAD` reports the length `GET` would have had (RFC 9110
 *   §9.3.2); the engine keeps a declared Content-Length on HEAD and sends no body.
 * - Errors: contract breaks throw `AppContractError` (rule in the message); app throws become
 *   `AppError` with `cause` (APP-4); both are logged through `ex.log("error")` with the stack
 *   before they are thrown. Errors from `lsbaws.input` are rethrown unwrapped (APP-6). Errors
 *   from `ex.res` itself belong to the engine and pass through untouched.
 * - File bodies (BODY-10): an `lsbaws.file_wrapper` returned as the body (and no `write()`) is
 *   sent with `Responder.sendFile`, Content-Length computed from the file unless set.
 * - The body is released exactly once in every case (BODY-5), and when `ex.res.signal` aborts the
 *   runner stops pulling, releases the body and returns without an error (BODY-9).
 */
import type { Exchange, Handler } from "../server/exchange.ts";
import { type BodySource, openBody } from "./body.ts";
import { buildEnviron, type EnvironConfig } from "./environ.ts";
import { AppContractError, AppError, describeBriefly, describeType } from "./errors.ts";
import { describeError, ResponseError } from "../server/http/errors.ts";
import { contentLengthOf, fileBodyOf, FileWrapper } from "./file_wrapper.ts";
import { createInput, isInputError } from "./input.ts";
import { createStartResponse, type ResponseState } from "./start_response.ts";
import type { App, ErrorStream, StartResponse } from "./types.ts";

/** The settings a gateway app run depends on. */
export type GatewayConfig = EnvironConfig;

const ABORTED: unique symbol = Symbol("aborted");

/** Adapts a gateway `App` to the engine's `Handler` interface. */
export function gatewayHandler(app: App, config: GatewayConfig): Handler {
  const settings: GatewayConfig = { rootPath: config.rootPath, workers: config.workers };
  return function handleGateway(ex: Exchange): void | Promise<void> {
    return runApp(app, ex, settings);
  };
}

/** Runs `app` for one exchange (see the module comment). Returns a Promise only when needed. */
export function runApp(app: App, ex: Exchange, config: GatewayConfig): void | Promise<void> {
  const environ = buildEnviron(ex, config, createInput(ex.body));
  const run = new AppRun(ex, environ["lsbaws.errors"]);
  let result: unknown;
  try {
    result = app(environ, run.startResponse);
  } catch (err) {
    const out = run.fail(toAppError(err));
    if (out !== null) throw out;
    return;
  }
  if (isThenable(result)) return run.awaitApp(result);
  // FAST PATH (BODY-7): synchronous Array/Uint8Array body, no write(): no await anywhere.
  return run.respond(result);
}

/** The state of one app call. */
class AppRun {
  readonly ex: Exchange;
  readonly errors: ErrorStream;
  readonly state: ResponseState;
  readonly startResponse: StartResponse;

  constructor(ex: Exchange, errors: ErrorStream) {
    this.ex = ex;
    this.errors = errors;
    const { startResponse, state } = createStartResponse({ write: (c) => this.appWrite(c) });
    this.startResponse = startResponse;
    this.state = state;
  }

  /** WR-2: the sink behind the app's `write()`. */
  async appWrite(chunk: Uint8Array): Promise<void> {
    if (!this.ex.res.aborted) {
      const pending = this.send(chunk);
      if (pending === undefined || (await pending) !== ABORTED) return;
    }
    throw new DOMException("the client went away", "AbortError");
  }

  /** Sends the head if needed, then one chunk; a Promise means back-pressure. */
  send(chunk: Uint8Array): Promise<void | typeof ABORTED> | undefined {
    if (!this.state.headersSent) this.sendHead();
    // The engine's write promise rejects if the connection closes, so no abort race is needed.
    return this.ex.res.write(chunk);
  }

  /**
   * SR-1, SR-8: hands status and headers to the connection. `length` is the whole body's size
   * when known (the fast path); it is added as Content-Length unless the app set one.
   */
  sendHead(length = -1): void {
    const s = this.state;
    if (!s.called) {
      throw new AppContractError(
        "SR-1",
        "the body produced data or ended before startResponse was called",
      );
    }
    try {
      // `length` becomes the Content-Length unless the app set one (the engine checks).
      this.ex.res.head(s.statusCode, s.headers, s.reason, length);
    } catch (err) {
      if (!(err instanceof ResponseError)) throw err;
      throw new AppContractError("SR-7", `the server rejected the headers: ${err.message}`);
    }
    s.headersSent = true;
  }

  /** Ends the response (sending the head if nothing was written). */
  finish(): Promise<void> | undefined {
    const s = this.state;
    if (!s.called) {
      throw new AppContractError("SR-1", "the body ended before startResponse was called");
    }
    if (!s.headersSent) this.sendHead();
    s.ended = true;
    this.errors.flush();
    return this.ex.res.end();
  }

  /**
   * Sends the body the app returned: a list of known chunks (an Array without a release hook, or
   * one `Uint8Array`) goes out with a Content-Length through `sendAll`, unless `write()` was
   * used; anything else is driven chunk by chunk.
   */
  respond(body: unknown): void | Promise<void> {
    if (!this.state.writeUsed) {
      if (body instanceof FileWrapper && this.ex.res.sendFile !== undefined) {
        return this.sendWrapper(body);
      }
      if (body instanceof Uint8Array) return this.sendAll([body]);
      if (Array.isArray(body) && typeof (body as { close?: unknown }).close !== "function") {
        return this.sendAll(body);
      }
    }
    return this.drive(body);
  }

  /** FAST PATH (BODY-7): all chunks are known; returns a Promise only on back-pressure. */
  sendAll(chunks: unknown[]): void | Promise<void> {
    try {
      let length = 0;
      for (let i = 0; i < chunks.length; i++) length += checkChunk(chunks[i]);
      if (this.ex.res.aborted) return;
      this.sendHead(length);
      for (let i = 0; i < chunks.length; i++) {
        const chunk = chunks[i] as Uint8Array;
        if (chunk.length === 0) continue;
        const pending = this.send(chunk);
        if (pending !== undefined) return this.sendRest(pending, chunks, i + 1);
      }
      return this.finish();
    } catch (err) {
      const out = this.fail(err);
      if (out !== null) throw out;
    }
  }

  /**
   * BODY-10: the app returned the `lsbaws.file_wrapper` it got: the file goes out through
   * `Responder.sendFile` (zero-copy where the socket driver can), with a Content-Length computed
   * from the file unless the app set one, and the wrapper is closed in every case.
   */
  async sendWrapper(w: FileWrapper): Promise<void> {
    try {
      const declared = contentLengthOf(this.state.headers);
      const { body, length } = fileBodyOf(w, declared);
      if (this.ex.res.aborted) return;
      this.sendHead(declared >= 0 ? -1 : length);
      if (body.length > 0 && this.ex.head.method !== "HEAD") await this.ex.res.sendFile!(body);
      const end = this.finish();
      if (end !== undefined) await end;
    } catch (err) {
      const out = this.fail(err);
      if (out !== null) throw out;
    } finally {
      try {
        w.close();
      } catch (err) {
        this.logError("BODY-6: releasing the body threw", err);
      }
      this.errors.flush();
    }
  }

  /** The fast path after the connection asked us to wait. */
  async sendRest(pending: Promise<unknown>, chunks: unknown[], from: number): Promise<void> {
    try {
      if ((await pending) === ABORTED) return;
      for (let i = from; i < chunks.length; i++) {
        const chunk = chunks[i] as Uint8Array;
        if (chunk.length === 0) continue;
        const next = this.send(chunk);
        if (next !== undefined && (await next) === ABORTED) return;
      }
      await this.finish();
    } catch (err) {
      const out = this.fail(err);
      if (out !== null) throw out;
    }
  }

  /** APP-2: waits for an async app, then sends its body like a synchronous one's. */
  async awaitApp(result: PromiseLike<unknown>): Promise<void> {
    let body: unknown;
    try {
      body = await result;
    } catch (err) {
      const out = this.fail(toAppError(err));
      if (out !== null) throw out;
      return;
    }
    return await this.respond(body);
  }

  /** The general path: any body shape, chunk by chunk. */
  async drive(body: unknown): Promise<void> {
    let src: BodySource | undefined;
    try {
      try {
        src = openBody(body);
      } catch (err) {
        throw toAppError(err);
      }
      await this.pump(src);
    } catch (err) {
      const out = this.fail(err);
      if (out !== null) throw out;
    } finally {
      const released = src?.close((err) => {
        // Releasing a body that streams `lsbaws.input` rethrows the client's body error (APP-6):
        // the client's fault, already answered, not the app's.
        if (isInputError(err)) {
          this.ex.log("debug", `request body failed: ${describeBriefly(err)}`);
        } else this.logError("BODY-6: releasing the body threw", err);
      });
      if (released !== undefined && !this.ex.res.aborted) await released;
      this.errors.flush();
    }
  }

  /** BODY-2 to BODY-4, BODY-9: pulls and sends chunks until the body ends. */
  async pump(src: BodySource): Promise<void> {
    const signal = this.ex.res.signal;
    while (!signal.aborted) {
      let done: boolean | undefined;
      let chunk: unknown;
      try {
        const next = src.next();
        const r = isThenable(next) ? await raceAbort(next, signal) : next;
        if (r === ABORTED) return;
        done = r.done;
        chunk = r.value;
      } catch (err) {
        throw toAppError(err);
      }
      if (done) {
        const end = this.finish();
        if (end !== undefined) await end;
        return;
      }
      checkChunk(chunk);
      if ((chunk as Uint8Array).length === 0) continue;
      const pending = this.send(chunk as Uint8Array);
      if (pending !== undefined && (await pending) === ABORTED) return;
    }
  }

  /**
   * Logs an error and returns what to throw: the error itself, the unwrapped input error
   * (APP-6), or null when the client is gone and nothing should be thrown (BODY-9).
   */
  fail(err: unknown): unknown | null {
    this.errors.flush();
    const gone = this.ex.res.aborted;
    if (err instanceof AppError && (isInputError(err.cause) || gone)) {
      this.ex.log("debug", `request body or client failed: ${describeBriefly(err.cause)}`);
      return gone ? null : err.cause;
    }
    if (err instanceof AppContractError) {
      this.logError(`broken gateway rule ${err.rule}`, err);
    } else if (err instanceof AppError) {
      this.logError("app error", err.cause);
    } else if (gone) {
      this.ex.log("debug", `client went away: ${describeBriefly(err)}`);
      return null;
    }
    return gone ? null : err;
  }

  /** Logs `err` with its stack at level "error". */
  logError(what: string, err: unknown): void {
    const { method, target } = this.ex.head;
    this.ex.log("error", `${what} (${method} ${target}): ${describeError(err)}`);
  }
}

/** BODY-2: every chunk must be a Uint8Array; returns its length. */
function checkChunk(chunk: unknown): number {
  if (chunk instanceof Uint8Array) return chunk.length;
  const what = typeof chunk === "string" ? "a string" : describeType(chunk);
  throw new AppContractError("BODY-2", `the body yielded ${what}; chunks must be Uint8Array`);
}

function toAppError(err: unknown): AppContractError | AppError {
  return err instanceof AppContractError ? err : new AppError(err);
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === "object" && value !== null &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/** Resolves like `p`, or to `ABORTED` as soon as `signal` aborts. */
function raceAbort<T>(p: PromiseLike<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  if (signal.aborted) {
    Promise.resolve(p).catch(() => {});
    return Promise.resolve(ABORTED);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(ABORTED);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then((value) => {
      signal.removeEventListener("abort", onAbort);
      resolve(value);
    }, (err) => {
      signal.removeEventListener("abort", onAbort);
      reject(err);
    });
  });
}
