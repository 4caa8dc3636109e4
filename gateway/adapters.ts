/**
 * Adapters between the two calling conventions, exported for users ("two app styles, one core").
 *
 * Contract:
 * - `toFetchHandler(app, options?)` turns a gateway `App` into a fetch handler
 *   `(request, info?) => Promise<Response>`, so a gateway app runs under `Deno.serve` (or any
 *   fetch runtime). It is the server's own gateway path (`runApp`: `buildEnviron`,
 *   `createStartResponse`, `openBody`, the same contract checks) driven through an exchange shim
 *   (`gateway/_shim_request.ts`) whose `Responder` produces a `Response` instead of socket writes.
 * - `fromFetchHandler(handler)` turns a fetch handler (a function, or an object with a callable
 *   `fetch`) into a gateway `App`. It is the server's own fetch path (`fetchHandler`:
 *   `buildRequest`, `sendResponse`, the 404 hint) driven through an exchange shim built from the
 *   environ (`gateway/_shim_environ.ts`), whose `Responder` calls `startResponse` and feeds the
 *   returned body.
 * - Neither adapter copies body bytes: request chunks and response chunks are handed through as
 *   the same `Uint8Array` objects, one at a time, with back-pressure (a chunk is pulled only after
 *   the previous one was taken). The one exception: a gateway body of several chunks completed
 *   within one turn with a declared length (the runner's fast path) is joined into one piece.
 * - Errors keep their meaning across the boundary: a handler or app that throws before anything
 *   was sent gives a 500 (or the error's own 4xx/5xx `status`, e.g. 413 from a body limit) with
 *   no details; after that the body stream errors, so the outer server aborts the connection.
 */
import { type FetchHandler, fetchHandler } from "./fetch.ts";
import { AppError } from "./errors.ts";
import { runApp } from "./run_app.ts";
import { exchangeFromRequest, type LogFn, ResponseShim } from "./_shim_request.ts";
import { exchangeFromEnviron, StartResponseResponder } from "./_shim_environ.ts";
import type { App, Environ, StartResponse } from "./types.ts";

/** Options for `toFetchHandler`. */
export interface ToFetchHandlerOptions {
  /** Mount prefix reported as `SCRIPT_NAME` (rule ENV-2); default "". */
  readonly rootPath?: string;
  /** Worker count reported through `lsbaws.multiprocess` (LS-6); default 1. */
  readonly workers?: number;
  /**
   * Receives the log lines the gateway path writes (app errors with their stack, broken rules,
   * `lsbaws.errors` output). Defaults to writing warnings and errors to stderr, as `Deno.serve`'s
   * default `onError` does.
   */
  readonly log?: LogFn;
}

/**
 * The second argument `toFetchHandler`'s handler accepts: `Deno.ServeHandlerInfo` (any address
 * transport) or lsbaws's own `ServeHandlerInfo`; optional outside a server.
 */
export interface AdapterInfo {
  /** The client's address (`Deno.NetAddr`, `Deno.UnixAddr`, ...); REMOTE_* are absent without. */
  readonly remoteAddr?: {
    readonly transport: string;
    readonly hostname?: string;
    readonly port?: number;
    readonly path?: string;
  };
  /** Resolves when the response was sent. */
  readonly completed?: Promise<void>;
}

/** The fetch handler `toFetchHandler` returns; `info` is optional outside `Deno.serve`. */
export type AdaptedFetchHandler = (request: Request, info?: AdapterInfo) => Promise<Response>;

/** Anything `fromFetchHandler` accepts: a handler function or an object with a `fetch` method. */
export type FetchApp = FetchHandler | { fetch: FetchHandler };

/** Runs a gateway app as a fetch handler (see the module comment). */
export function toFetchHandler(app: App, options: ToFetchHandlerOptions = {}): AdaptedFetchHandler {
  if (typeof app !== "function") throw new TypeError("toFetchHandler() needs a gateway app");
  const config = { rootPath: options.rootPath ?? "", workers: options.workers ?? 1 };
  const log = options.log ?? logToStderr;
  return function gatewayAsFetch(request, info) {
    const res = new ResponseShim(request, log);
    const ex = exchangeFromRequest(request, info, res, log);
    let ran: void | Promise<void>;
    try {
      ran = runApp(app, ex, config);
    } catch (err) {
      res.fail(err);
      return res.response;
    }
    if (ran === undefined) res.finished();
    else ran.then(() => res.finished(), (err) => res.fail(err));
    return res.response;
  };
}

/** Runs a fetch handler as a gateway app (see the module comment). */
export function fromFetchHandler(handler: FetchApp): App {
  const fn = typeof handler === "function" ? handler : bindFetch(handler);
  const handle = fetchHandler(fn);
  return async function fetchAsGateway(environ: Environ, startResponse: StartResponse) {
    const res = new StartResponseResponder(startResponse, environ["lsbaws.signal"]);
    const ex = exchangeFromEnviron(environ, res);
    let ran: Promise<void>;
    try {
      ran = Promise.resolve(handle(ex));
    } catch (err) {
      ran = Promise.reject(err);
    }
    ran.then(() => res.finished(), (err) => res.fail(unwrap(err)));
    // SR-1: hand back the body once the head is known, or let the failure escape (APP-4) so the
    // server answers 500 (or the input error's own status, APP-6).
    await res.headKnown;
    return res.body;
  };
}

function bindFetch(obj: { fetch: FetchHandler }): FetchHandler {
  if (obj === null || typeof obj !== "object" && typeof obj !== "function") {
    throw new TypeError("fromFetchHandler() needs a function or an object with fetch()");
  }
  const f = obj.fetch;
  if (typeof f !== "function") {
    throw new TypeError("fromFetchHandler() needs a function or an object with fetch()");
  }
  return (request, info) => f.call(obj, request, info);
}

/** `fetchHandler` wraps a handler's throw in `AppError`; the gateway runner wraps it again. */
function unwrap(err: unknown): unknown {
  return err instanceof AppError ? err.cause : err;
}

const STDERR_ENCODER = new TextEncoder();

/** Default log sink for `toFetchHandler`: warnings and errors to stderr. */
function logToStderr(level: string, msg: string): void {
  if (level !== "warning" && level !== "error") return;
  try {
    Deno.stderr.writeSync(STDERR_ENCODER.encode(`lsbaws ${level}: ${msg}\n`));
  } catch {
    // stderr is gone; nothing else to do.
  }
}
