/**
 * What lifecycle (`server/serve.ts`) sees of a socket driver, whatever the driver: bound
 * `Endpoint`s that hand over `LiveConnection`s. Types only; each driver implements them
 * (`server/deno/listen.ts`, `server/libc/listen.ts`).
 *
 * Contract:
 * - A driver's bind function binds every address in order before it resolves; if one fails, the
 *   ones already bound are closed and the error propagates.
 * - `Endpoint.run(ctx, onConnection)` accepts until the endpoint is closed and resolves then;
 *   each accepted connection is handed to `onConnection`, which runs it.
 * - `Endpoint.close()` stops accepting (idempotent).
 * - `Endpoint.setPaused(true)` stops taking connections off the listener until `setPaused(false)`
 *   (`--max-connections`): new ones wait in the kernel's backlog. The listener stays open, and
 *   no connection is accepted after the call returns (one `accept()` already pending in the
 *   `deno` driver may still complete).
 * - `LiveConnection.run()` serves until the connection closes and never rejects; its `liveSlot`
 *   belongs to the server's `LiveSet` (`server/live_set.ts`).
 */
import type { EngineContext } from "./engine.ts";
import type { LiveSlot } from "./live_set.ts";

/** What lifecycle needs of a connection, whatever the driver. */
export interface LiveConnection extends LiveSlot {
  /** Serves the connection until it closes; never rejects. */
  run(): Promise<void>;
  /** Closes it now (idempotent). */
  close(): void;
  /** Set once a handler took the socket over (a WebSocket): `run()` then resolved early. */
  readonly hijacked: boolean;
  /**
   * Applies idle and header timeouts (called by the sweeper); returns the deadline (ms) still
   * pending, 0 when none.
   */
  checkTimeout(now: number): number;
}

/** A bound address that accepts connections. */
export interface Endpoint {
  /** The bound address (the real port when 0 was asked for). */
  readonly addr: Deno.Addr;
  /** Accepts until closed, handing each connection over; see the module comment. */
  run(ctx: EngineContext, onConnection: (c: LiveConnection) => void): Promise<void>;
  /** Stops accepting (idempotent). */
  close(): void;
  /** Pauses or resumes taking connections off the listener; see the module comment. */
  setPaused(paused: boolean): void;
}

/** Options every driver's bind function takes. */
export interface BindOptions {
  /** Listen backlog for TCP listeners. */
  readonly backlog: number;
  /** Share the port with sibling processes (SO_REUSEPORT). */
  readonly reusePort?: boolean;
  /** PEM certificate chain and key: serve TCP addresses over TLS. */
  readonly tls?: { readonly cert: string; readonly key: string };
}
