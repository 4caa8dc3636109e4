/**
 * The fetch calling convention: `(request: Request, info: ServeHandlerInfo) => Response`, served
 * with `Deno.serve` semantics on lsbaws's own engine. This file is the handler; the `Request` is
 * built by `fetch_request.ts`, the `Response` written by `fetch_response.ts`, and WebSocket
 * upgrades completed by `websocket.ts`.
 *
 * Contract:
 * - `fetchHandler(fn)` adapts a fetch handler to the engine's `Handler`: per request it builds the
 *   `Request` (`buildRequest`) and the second argument (`HandlerInfo`, shaped like
 *   `Deno.ServeHandlerInfo`), calls `fn` and sends the `Response` (`sendResponse`). A handler that
 *   returns a `Response` (not a promise) with a string or bytes body is answered before the
 *   engine's handler returns, so the engine serves it without awaiting anything.
 * - `request.signal` aborts when the connection closes before the response is finished, when the
 *   request body cannot be read, or when writing the response finds the client gone; it is
 *   created only if the app reads it.
 * - A handler that resolves to `undefined` gets 404 and a log hint; one that returns anything but
 *   a `Response` is a contract error (`fetch-response`, 500); one that throws gets 500 with
 *   nothing leaked (`AppError`; the stack goes to the error log). A body read error that escapes
 *   the handler is the client's fault and is rethrown unwrapped (the engine answers its status).
 * - WebSockets: a `101` Response is completed by `websocket.ts` (`completeUpgrade`) when the
 *   handler called `Deno.upgradeWebSocket(request)`, and is a contract error (500) otherwise; a
 *   handshake refused by the shim (`WebSocketHandshakeError`) that escapes the handler is answered
 *   400 with the reason, not 500. A pending upgrade the handler did not answer with 101 is
 *   abandoned.
 */
import type { Exchange, Handler } from "../server/exchange.ts";
import { describeError } from "../server/http/errors.ts";
import { AppContractError, AppError, describeBriefly, describeType } from "./errors.ts";
import { buildRequest, HandlerInfo, LazyAbort, type ServeHandlerInfo } from "./fetch_request.ts";
import { sendResponse } from "./fetch_response.ts";
import {
  abandonUpgrade,
  completeUpgrade,
  hasPendingUpgrade,
  WebSocketHandshakeError,
} from "./websocket.ts";

export type { ServeHandlerInfo } from "./fetch_request.ts";

/** A fetch-style request handler. */
export type FetchHandler = (
  request: Request,
  info: ServeHandlerInfo,
) => Response | undefined | Promise<Response | undefined>;

const NOT_FOUND = new TextEncoder().encode("Not Found\n");

/** Adapts a fetch handler to the engine; see the module comment. */
export function fetchHandler(fn: FetchHandler): Handler {
  // Synchronous when it can be: a handler that returns a Response (not a promise) whose body is
  // a string or bytes is answered before `handle` returns, so the engine serves it without a
  // promise (no pending read to watch the peer, no async continuation).
  return function handle(ex: Exchange): void | Promise<void> {
    // request.signal aborts when the client goes away (the engine's signal), when the request
    // body cannot be read (a limit, bad framing, the client gone mid-body: the request is over),
    // or when writing the response finds the client gone.
    // The signal is created only if the app looks at it: `new Request(url, {signal})` alone
    // costs ~4.5 µs (Deno builds a dependent signal), more than the rest of the request.
    // (No closures per request on the synchronous path: they are allocated only for a promise.)
    const lazy = new LazyAbort(ex);
    const request = buildRequest(ex, lazy);
    const info: ServeHandlerInfo = new HandlerInfo(ex);
    let resp: Response | undefined | Promise<Response | undefined>;
    try {
      resp = fn(request, info);
    } catch (err) {
      return threw(ex, lazy, err);
    }
    if (resp instanceof Promise) {
      return resp.then((r) => respond(ex, lazy, r), (err) => threw(ex, lazy, err));
    }
    return respond(ex, lazy, resp);
  };
}

/** The handler threw (or its promise rejected): see the module comment for the mapping. */
function threw(ex: Exchange, lazy: LazyAbort, err: unknown): Promise<void> {
  lazy.detach();
  abandonUpgrade(ex, err);
  if (err instanceof WebSocketHandshakeError) return refuseHandshake(ex, err);
  if (err === lazy.bodyError) {
    // The client's fault (APP-6's analogue): the engine answers with the error's own status.
    ex.log("debug", `request body failed for ${ex.head.target}: ${describeBriefly(err)}`);
    throw err;
  }
  ex.log(
    "error",
    `fetch handler threw for ${ex.head.method} ${ex.head.target}: ${describeError(err)}`,
  );
  throw new AppError(err);
}

/**
 * After the response was sent (or sending failed): wire or detach request.signal, and abandon an
 * upgrade the handler started but did not answer with 101.
 */
function settle(ex: Exchange, lazy: LazyAbort, failed: boolean): void {
  // Sending failed (often: the client left, which the engine confirms by closing the connection
  // after this returns); request.signal stays wired to that close.
  if (failed && ex.res.aborted) {
    lazy.abort(new DOMException("client disconnected", "AbortError"));
  }
  if (!failed) lazy.detach();
  // (An Error captures a stack trace, which costs microseconds: only build one when needed.)
  if (hasPendingUpgrade(ex)) abandonUpgrade(ex, new Error("the handler did not answer 101"));
}

/** Sends the handler's answer, then settles the request's signal and upgrade. */
function respond(ex: Exchange, lazy: LazyAbort, resp: Response | undefined): void | Promise<void> {
  let sent: void | Promise<void>;
  try {
    sent = answer(ex, resp);
  } catch (err) {
    settle(ex, lazy, true);
    throw err;
  }
  if (sent === undefined) return settle(ex, lazy, false);
  return sent.then(() => settle(ex, lazy, false), (err) => {
    settle(ex, lazy, true);
    throw err;
  });
}

/** Sends the handler's answer: 404 for none, a contract error for a non-Response, a 101, or it. */
function answer(ex: Exchange, resp: Response | undefined): void | Promise<void> {
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
    return ex.res.end();
  }
  if (!(resp instanceof Response)) {
    const err = new AppContractError(
      "fetch-response",
      `fetch handler must return a Response, got ${describeType(resp)}`,
    );
    ex.log("error", `${err.message} (${ex.head.method} ${ex.head.target})`);
    throw err;
  }
  // The upgrade shim (gateway/websocket.ts) sends the 101 and takes the socket over.
  if (resp.status === 101) return completeUpgrade(ex, resp);
  if (hasPendingUpgrade(ex)) {
    abandonUpgrade(ex, new Error(`the handler answered ${resp.status} instead of 101`));
  }
  return sendResponse(ex, resp);
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
