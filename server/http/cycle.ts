/**
 * The per-connection cycle as a table: which event moves a connection from which state to which.
 *
 * Contract (sans-IO, synchronous, no I/O and no clock):
 * - Everything that changes a connection's state is an event in `CYCLE`; `nextState(state, event)`
 *   returns the new state or throws `CycleError` for a transition the table does not list (a bug
 *   in the caller, never the client's fault: every client misstep is the `close` event).
 * - The table does not know which side it runs on or what a socket is; it only orders one
 *   request/response exchange after another on one connection (RFC 9112 §9.3 persistence).
 *
 * States:
 * - `idle`: between exchanges, nothing of the next request buffered (keep-alive wait).
 * - `head`: bytes of a request head arrived; the head is not complete yet.
 * - `body`: the request was dispatched and its body is not complete; the app may read it and may
 *   already be responding.
 * - `responding`: the body is complete (or there is none); the response is not finished.
 * - `draining`: the response is finished; the body the app left unread is being discarded
 *   (up to `maxDrainBytes`) before the connection is reused.
 * - `closing`: no further request is read; queued bytes are flushed, then the socket closes.
 * - `closed`: the socket is closed or was handed over (protocol switch).
 *
 * Events:
 * - `data`: the first bytes of a request arrived while idle.
 * - `request` / `request-body`: a complete head was parsed; without / with a body still to come.
 * - `body-end`: the last body byte was decoded.
 * - `response-end`: the response finished while the body is not complete (go drain it).
 * - `reuse`: the exchange is over and the connection stays open.
 * - `close`: the connection must close (client error, `Connection: close`, app error, timeout,
 *   shutdown, a body too large to drain).
 * - `closed`: the socket is gone (closed, reset, or taken over).
 */

/** A connection's state; see the module comment. */
export type ConnState =
  | "idle"
  | "head"
  | "body"
  | "responding"
  | "draining"
  | "closing"
  | "closed";

/** An event that moves a connection between states; see the module comment. */
export type CycleEvent =
  | "data"
  | "request"
  | "request-body"
  | "body-end"
  | "response-end"
  | "reuse"
  | "close"
  | "closed";

/** Every allowed transition: `CYCLE[state][event]` is the next state. */
export const CYCLE: Readonly<Record<ConnState, Readonly<Partial<Record<CycleEvent, ConnState>>>>> =
  Object.freeze({
    idle: { data: "head", close: "closing", closed: "closed" },
    head: { request: "responding", "request-body": "body", close: "closing", closed: "closed" },
    body: {
      "body-end": "responding",
      "response-end": "draining",
      close: "closing",
      closed: "closed",
    },
    responding: { reuse: "idle", close: "closing", closed: "closed" },
    draining: { reuse: "idle", close: "closing", closed: "closed" },
    closing: { close: "closing", closed: "closed" },
    closed: { close: "closed", closed: "closed" },
  });

/** A transition the table does not allow: a bug in the caller. */
export class CycleError extends Error {
  /** The state the connection was in. */
  readonly state: ConnState;
  /** The event that has no transition from it. */
  readonly event: CycleEvent;
  /** Creates an error for `event` arriving in `state`. */
  constructor(state: ConnState, event: CycleEvent) {
    super(`no transition from ${state} on ${event}`);
    this.name = "CycleError";
    this.state = state;
    this.event = event;
  }
}

/** The state after `event` in `state`; throws `CycleError` when the table has no such row. */
export function nextState(state: ConnState, event: CycleEvent): ConnState {
  const next = CYCLE[state][event];
  if (next === undefined) throw new CycleError(state, event);
  return next;
}

/** Whether a connection in `state` is between requests or waiting for one (no request running). */
export function isBetweenRequests(state: ConnState): boolean {
  return state === "idle" || state === "head";
}
