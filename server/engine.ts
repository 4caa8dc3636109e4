/**
 * What the request engine and the socket drivers need from each other (types only): the
 * server-wide `EngineContext`, the per-connection `ConnPort` a driver implements for
 * `server/dispatch.ts`, and the `TimedRequest` the timeout sweeper checks.
 */
import type { Clock } from "./clock.ts";
import type { Config, Limits } from "./config.ts";
import type { ConnAddr, FileBody, Handler, SocketDuplex } from "./exchange.ts";
import type { ConnectionCore } from "./http/connection_core.ts";
import type { RequestHead } from "./http/request_head.ts";
import type { Logger } from "./log.ts";
import type { Gatekeeper, ServerState } from "./policy.ts";
import type { ClientResolver, ProxyProtocolPolicy } from "./proxy.ts";
import type { BodySource } from "./request_body.ts";

/** Everything the engine needs from the server, shared by every connection. */
export interface EngineContext {
  /** Server configuration. */
  readonly config: Config;
  /** Parser limits (from `config`). */
  readonly limits: Limits;
  /** The app adapted to the engine. */
  readonly handler: Handler;
  /** Runs before the app; answers health checks and overload itself. */
  readonly gatekeeper: Gatekeeper;
  /** Error and access log. */
  readonly logger: Logger;
  /** Current time (ms) and the `Date` header value (`server/clock.ts`). */
  readonly clock: Clock;
  /** Shared server state. */
  readonly state: ServerState;
  /** "https" for TLS listeners. */
  readonly scheme: "http" | "https";
  /**
   * Told every deadline (ms, `clock.now()` time) a connection arms, so the timeout sweeper can
   * sleep until the earliest one (`server/serve.ts`).
   */
  readonly onDeadline?: (at: number) => void;
  /** Called when a request starts being handled (worker liveness bookkeeping hooks in here). */
  readonly onRequestStart?: (head: RequestHead) => void;
  /** Called after every finished request (worker recycling hooks in here). */
  readonly onRequestDone?: () => void;
  /**
   * Applies trusted proxy headers (`server/proxy.ts`): given the head and the socket peer, returns
   * the client address, scheme and host to report, or null to keep the socket's view.
   */
  readonly resolveClient?: ClientResolver;
  /** Set when connections begin with a PROXY protocol header (`server/proxy.ts`). */
  readonly proxyProtocol?: ProxyProtocolPolicy;
  /** `--header` lines for every response (`server/http/header_lines.ts`); absent: none. */
  readonly defaultHeaders?: string;
}

/** What the per-request logic needs from a socket driver. */
export interface ConnPort extends BodySource {
  /** The connection's protocol core. */
  readonly core: ConnectionCore;
  /** Server-wide context. */
  readonly ctx: EngineContext;
  /** Peer address. */
  readonly remote: ConnAddr;
  /** A PROXY protocol v2 header said the client reached the proxy over TLS (scheme https). */
  readonly proxiedTls: boolean;
  /** Local address. */
  readonly local: ConnAddr;
  /** True once the socket is closed. */
  readonly isClosed: boolean;
  /**
   * Whether a finished response may leave its bytes queued (the driver flushes them right after
   * a synchronous handler returns, or once for a batch of pipelined requests).
   */
  readonly deferFlush: boolean;
  /** Writes everything queued; rejects (and the connection is closed) if the peer is gone. */
  flush(): Promise<void>;
  /** Called after body bytes were queued: a promise when the caller must wait (back-pressure). */
  afterWrite(): Promise<void> | undefined;
  /** The abort signal for the current request (created on first use). */
  signal(): AbortSignal;
  /** The exchange is over: forget its signal (the next request gets a fresh one). */
  resetSignal(): void;
  /** Keeps a read pending while an async handler runs, so a vanished client aborts the signal. */
  watchPeer(): void;
  /** True while a synchronous handler is being called (the driver flushes right after it). */
  dispatching: boolean;
  /**
   * Optional zero-copy file body: after the queued output, sends `count` bytes of `body` straight
   * from the file and resolves to the number sent (fewer when the file ended early); rejects (and
   * the connection is closed) if the peer is gone. Null when the driver cannot send this file
   * itself: the responder then reads it and writes the bytes.
   */
  sendFile?(body: FileBody, count: number): Promise<number> | null;
  /** Sends `head` after queued responses and hands the socket over (`Exchange.takeover`). */
  takeover(head: Uint8Array): Promise<{ conn: SocketDuplex; buffered: Uint8Array }>;
  /** Closes the socket now (idempotent). */
  close(): void;
  /** Set once a handler took the socket over. */
  readonly hijacked: boolean;
  /** The async request whose `--request-timeout-ms` deadline the sweeper checks, if any. */
  pendingRequest: TimedRequest | null;
  /** Aborts the current request's signal with `reason` (its deadline passed). */
  abortSignal(reason: unknown): void;
}

/** A running request with a deadline (`--request-timeout-ms`). */
export interface TimedRequest {
  /** When (`clock.recent()` ms) it expires. */
  readonly deadline: number;
  /** Answers 504 unless the response started; see `expireExchange`. */
  expire(): void;
}
