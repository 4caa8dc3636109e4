/**
 * The per-connection cycle as a table: which event moves a connection from which state to which.
 *
 * Contract (sans-IO, synchronous, no I/O and no clock):
 * - Everything that changes a connection's state is an event in `CYCLE`; `nextState(state, event)`
 *   returns the new state or throws `CycleError` for a transition the table does not list (a bug
 *   in the caller, never the client's fault: every client misstep is the `close` event).
 * - The engine steps with small integers (`STATE_*`, `EVENT_*`, `step`): a lookup in a typed array
 *   derived from `CYCLE` at load costs ~2 ns, where `CYCLE[state][event]` on strings costs ~20 ns
 *   (three transitions per request on the hot path). `STATES[i]`/`EVENTS[i]` name them.
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

/** Every state, in the order of the `STATE_*` numbers. */
export const STATES: readonly ConnState[] = Object.freeze(
  [
    "idle",
    "head",
    "body",
    "responding",
    "draining",
    "closing",
    "closed",
  ] as const,
);
/** Every event, in the order of the `EVENT_*` numbers. */
export const EVENTS: readonly CycleEvent[] = Object.freeze(
  [
    "data",
    "request",
    "request-body",
    "body-end",
    "response-end",
    "reuse",
    "close",
    "closed",
  ] as const,
);

/** `STATES` index of `idle`. */
export const STATE_IDLE = 0;
/** `STATES` index of `head`. */
export const STATE_HEAD = 1;
/** `STATES` index of `body`. */
export const STATE_BODY = 2;
/** `STATES` index of `responding`. */
export const STATE_RESPONDING = 3;
/** `STATES` index of `draining`. */
export const STATE_DRAINING = 4;
/** `STATES` index of `closing`. */
export const STATE_CLOSING = 5;
/** `STATES` index of `closed`. */
export const STATE_CLOSED = 6;
/** `EVENTS` index of `data`. */
export const EVENT_DATA = 0;
/** `EVENTS` index of `request`. */
export const EVENT_REQUEST = 1;
/** `EVENTS` index of `request-body`. */
export const EVENT_REQUEST_BODY = 2;
/** `EVENTS` index of `body-end`. */
export const EVENT_BODY_END = 3;
/** `EVENTS` index of `response-end`. */
export const EVENT_RESPONSE_END = 4;
/** `EVENTS` index of `reuse`. */
export const EVENT_REUSE = 5;
/** `EVENTS` index of `close`. */
export const EVENT_CLOSE = 6;
/** `EVENTS` index of `closed`. */
export const EVENT_CLOSED = 7;

// Module-private copies for the hot paths (see `server/http/bytes.ts`).
const BODY = STATE_BODY, RESPONDING = STATE_RESPONDING, DRAINING = STATE_DRAINING;

const WIDTH = 8;
/** `CYCLE` as numbers: `TABLE[state * WIDTH + event]` is the next state, -1 when not allowed. */
const TABLE = new Int8Array(STATES.length * WIDTH).fill(-1);
for (let si = 0; si < STATES.length; si++) {
  const row = CYCLE[STATES[si]];
  for (let ei = 0; ei < EVENTS.length; ei++) {
    const next = row[EVENTS[ei]];
    if (next !== undefined) TABLE[si * WIDTH + ei] = STATES.indexOf(next);
  }
}

/** `nextState` on numbers (`STATE_*`, `EVENT_*`); throws `CycleError` like it. */
export function step(state: number, event: number): number {
  const next = TABLE[state * WIDTH + event];
  if (next < 0) throw new CycleError(STATES[state], EVENTS[event]);
  return next;
}

/** Whether a connection in state number `s` runs a request (`body`, `responding`, `draining`). */
export function isRunning(s: number): boolean {
  return s === BODY || s === RESPONDING || s === DRAINING;
}

/** Whether a connection in `state` is between requests or waiting for one (no request running). */
export function isBetweenRequests(state: ConnState): boolean {
  return state === "idle" || state === "head";
}
