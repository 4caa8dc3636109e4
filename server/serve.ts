/**
 * Listening and lifecycle: listeners, the accept loop, the timeout sweeper and graceful shutdown.
 *
 * Contract:
 * - `serve(handler, config, options)` binds every configured address (TCP `host:port`,
 *   `[v6]:port`, `unix:/path`; TLS when `certfile`/`keyfile` are set) before resolving, so bind
 *   errors reject (the CLI maps them to `EXIT_BOOT_ERROR`).
 * - Each listener has one accept loop with one pending `accept()`. Transient accept errors
 *   (EMFILE and friends) back off exponentially from 5 ms to 1 s instead of spinning.
 * - `config.maxConnections` (`--max-connections`, 0: none): once this server holds that many
 *   connections open (HTTP connections, WebSockets, and sockets just taken over), every endpoint
 *   is paused (`Endpoint.setPaused`) until the count drops below it again; closed WebSockets are
 *   noticed by a timer (`timeoutCheckIntervalMs`) that runs only while paused.
 * - Trusted PROXY protocol headers (`--proxy-protocol`): the policy built from
 *   `config.proxyProtocol`/`proxyAllowIps` (`server/proxy.ts`) is handed to every connection.
 * - TCP listeners get `tcpBacklog: config.backlog`; with `reusePort` several processes share the
 *   port (SO_REUSEPORT, Linux; needs `--unstable-net`).
 * - A sweeper applies idle and header timeouts (`checkTimeout`) with a granularity of
 *   `timeoutCheckIntervalMs` (250 ms) and refreshes the clock behind the `Date` header
 *   (`server/clock.ts`). It runs within one interval of activity (connections report every
 *   deadline they arm through `ctx.onDeadline`), then every interval while requests are in
 *   flight, else at the earliest pending deadline, and not at all while no deadline is pending:
 *   idle keep-alive connections with far deadlines and an idle server cost no wake-ups (on some
 *   virtual machines each wake-up of a process costs milliseconds of CPU). Connections also read
 *   the clock when bytes arrive after idling and when they arm a deadline.
 * - Socket backend (`config.io`, see `server/libc/backend.ts`): the libc driver binds through FFI
 *   and serves every endpoint and connection from one event loop (`server/libc/listen.ts`),
 *   stopped once the server finished; the deno driver uses `Deno.listen` (`server/deno/`). Both
 *   hand lifecycle only `Endpoint`s and `LiveConnection`s (`server/endpoint.ts`). `--io libc`
 *   that cannot be honoured rejects like a bind error; `auto` falling back logs why (info). The
 *   libc backend also returns the C heap's free memory to the system after bursts
 *   (`server/libc/heap_trim.ts`), until the server finished.
 * - Inherited sockets (`options.inherited`: from the supervisor, or systemd socket activation):
 *   served instead of binding the configured addresses, through the libc driver only
 *   (`adoptLibcEndpoints`); the deno backend, TLS, or a descriptor that is not a listening stream
 *   socket rejects like a bind error (`server/libc/inherit.ts`).
 * - The static responder and the deno driver are imported when configured or chosen, not before:
 *   a server without them does not keep their code in memory.
 * - Static files: `config.staticMounts` (`--static URL_PREFIX=DIR`) and `staticMaxAgeSeconds` build
 *   the static responder the gatekeeper runs before the app (`server/static/`); a bad value or a
 *   missing directory rejects before anything is bound.
 * - Trusted proxy headers: unless `options.resolveClient` says otherwise, the resolver is built
 *   from `config.forwardedAllowIps` (`server/proxy.ts`); the hooks `onRequestStart` and
 *   `onRequestDone` are handed to every connection unchanged.
 * - Metrics (`server/metrics.ts`): with `--metrics-path` set, measuring starts, this server's
 *   in-flight requests and open connections feed the gauges, accepted connections are counted,
 *   and once it stopped the installed flush runs (a supervised worker's last report).
 * - `shutdown(graceMs, delayMs)`:
 *   1. At once: `state.shuttingDown` is set, so the health path answers 503 and every response
 *      carries `Connection: close`.
 *   2. For `delayMs` (`--shutdown-delay-ms`) the listeners keep accepting, so a load balancer
 *      that polls the health path takes the instance out before it stops listening.
 *   3. The listeners close (a unix socket file is removed only if it is still ours, see
 *      `server/deno/unix_listener.ts`). In-flight requests finish and are answered with
 *      `Connection: close`. Idle keep-alive connections are
 *      *not* closed early: one closes when its ordinary keep-alive timeout expires, or after it
 *      answered one more request (with `Connection: close`). Closing them at once races a client
 *      that is reusing the connection at that moment; under load that showed up as resets.
 *   4. After `graceMs` whatever is left is closed. `finished` resolves once every connection is
 *      gone. A later call can only shorten the deadline (e.g. `shutdown(0)` after a graceful
 *      one: close everything now).
 */
import { type FileOwner, type ListenAddr, parseBind } from "./address.ts";
import { parseDefaultHeaders } from "./http/header_lines.ts";
import type { Config } from "./config.ts";
import { limitsOf } from "./config.ts";
import type { EngineContext } from "./engine.ts";
import type { BindOptions, Endpoint, LiveConnection } from "./endpoint.ts";
import { LiveSet } from "./live_set.ts";
import { chooseIo } from "./libc/backend.ts";
import { type Clock, createClock } from "./clock.ts";
import { libcForInherited } from "./libc/inherit.ts";
import { adoptLibcEndpoints, bindLibcEndpoints, type InheritedSocket } from "./libc/listen.ts";
import { startHeapTrim } from "./libc/heap_trim.ts";
import { createGatekeeper, type ServerState } from "./policy.ts";
import type { Handler } from "./exchange.ts";
import type { StaticHandler } from "./static/mod.ts";
import type { RequestHead } from "./http/request_head.ts";
import type { Logger } from "./log.ts";
import {
  countConnection,
  enableMetrics,
  flushMetrics,
  watchServer,
  watchWebSockets,
} from "./metrics.ts";
import { type ClientResolver, createClientResolver, createProxyProtocolPolicy } from "./proxy.ts";
import { readTlsPair } from "./tls_files.ts";
import { closeAll, liveWebSockets } from "./websocket.ts";

/** Options for `serve`. */
export interface ServeOptions {
  /** The logger. */
  logger: Logger;
  /** Share the port with sibling processes (SO_REUSEPORT; needs `--unstable-net`). */
  reusePort?: boolean;
  /** Listening sockets to serve instead of binding (see the module comment). */
  inherited?: readonly InheritedSocket[];
  /** Called when a request starts being handled (worker heartbeat bookkeeping). */
  onRequestStart?: (head: RequestHead) => void;
  /** Called after each finished request (worker recycling). */
  onRequestDone?: () => void;
  /**
   * Trusted-proxy resolver; default: built from `config.forwardedAllowIps`. `null` disables
   * proxy headers altogether.
   */
  resolveClient?: ClientResolver | null;
}

/** A running server. */
export interface Server {
  /** The bound addresses, in configuration order. */
  readonly addrs: Deno.Addr[];
  /** Shared state (in-flight count, shutdown flag). */
  readonly state: ServerState;
  /** Resolves once the server stopped and every connection closed. */
  readonly finished: Promise<void>;
  /**
   * Closes the listeners but keeps serving the open connections normally (keep-alive included).
   * The supervisor's first phase of a full stop: once every worker stopped listening, the drain
   * (`shutdown`) can tell clients `Connection: close` without sending their reconnects into a
   * sibling's listener that is about to close. Resolves once every accept loop has ended: a Deno
   * listener closed while its `accept()` is pending keeps its socket (still taking connections
   * for the port) until that call settles, and a connection queued there then is reset.
   */
  stopListening(): Promise<void>;
  /**
   * Starts a graceful shutdown (see the module comment); resolves like `finished`. `graceMs`
   * defaults to `config.shutdownGraceMs`; `delayMs` to `config.shutdownDelayMs`, or 0 when
   * `graceMs` is 0 (a fast stop).
   */
  shutdown(graceMs?: number, delayMs?: number): Promise<void>;
  /** Number of open connections. */
  readonly connections: number;
}

/**
 * The configured listen addresses: every `--bind`, or `--host`:`--port`; unix sockets carry the
 * `--unix-socket-mode` permissions and `owner` when given (`--user`/`--group`).
 */
export function listenSpecsOf(config: Config, owner?: FileOwner): ListenAddr[] {
  if (config.bind.length === 0) {
    return [{ transport: "tcp", hostname: config.host, port: config.port }];
  }
  const mode = parseInt(config.unixSocketMode, 8);
  return config.bind.map((b) => {
    const spec = parseBind(b);
    return spec.transport === "unix" ? { ...spec, mode, ...(owner ? { owner } : {}) } : spec;
  });
}

/** Starts serving `handler`; see the module comment. */
export async function serve(handler: Handler, config: Config, opts: ServeOptions): Promise<Server> {
  const logger = opts.logger;
  // The static responder and the deno driver are imported only when used (see the contract).
  let statics: StaticHandler | null = null;
  if (config.staticMounts.length > 0) {
    const { createStaticHandler, parseStaticMounts } = await import("./static/mod.ts");
    statics = createStaticHandler(parseStaticMounts(config.staticMounts), {
      maxAgeSeconds: config.staticMaxAgeSeconds || undefined,
    });
  }
  const tls = config.certfile !== "";
  // Inherited sockets replace the addresses (which may be `fd://N` binds, nothing to parse).
  const specs = opts.inherited ? [] : listenSpecsOf(config);
  const inheritLibc = opts.inherited ? libcForInherited(config.io, tls) : null;
  const io = inheritLibc
    ? { kind: "libc" as const, libc: inheritLibc }
    : chooseIo(config.io, tls, specs);
  if (io.kind === "deno" && io.why !== null) {
    logger.log("info", `serving with --io deno: ${io.why}`);
  }
  const pair = tls
    ? await readTlsPair(config.certfile, config.keyfile, config.keyfilePassword)
    : null;
  const resolveClient = opts.resolveClient === undefined
    ? createClientResolver(config.forwardedAllowIps)
    : opts.resolveClient ?? undefined;
  const proxyProtocol = createProxyProtocolPolicy(
    config.proxyProtocol,
    config.proxyAllowIps,
    config.maxHeadBytes,
  );
  const bindOptions: BindOptions = {
    backlog: config.backlog,
    reusePort: opts.reusePort,
    tls: pair ?? undefined,
  };
  let endpoints: Endpoint[];
  /** Ends the libc event loop once the server finished (null: deno driver). */
  let stopLoop: (() => Promise<void>) | null = null;
  /** Ends the C heap trimming (null: deno driver, or a C library without it). */
  let stopTrim: (() => void) | null = null;
  if (io.kind === "libc") {
    const bound = opts.inherited
      ? await adoptLibcEndpoints(io.libc, opts.inherited, logger)
      : await bindLibcEndpoints(io.libc, specs, bindOptions, logger);
    endpoints = bound.endpoints;
    stopLoop = bound.stop;
    stopTrim = startHeapTrim(io.libc);
  } else {
    const { bindEndpoints } = await import("./deno/listen.ts");
    endpoints = await bindEndpoints(specs, bindOptions);
  }

  const state: ServerState = { shuttingDown: false, inflight: 0, requests: 0 };
  const clock = createClock();
  const conns = new LiveSet<LiveConnection>(); // not a `Set`: see server/live_set.ts
  const sweeper = createSweeper(
    config.timeoutCheckIntervalMs,
    clock,
    () => conns,
    () => state.inflight > 0,
  );
  const ctx: EngineContext = {
    config,
    limits: limitsOf(config),
    handler,
    gatekeeper: createGatekeeper(config, state, statics),
    logger,
    clock,
    state,
    scheme: tls ? "https" : "http",
    onRequestStart: opts.onRequestStart,
    onRequestDone: opts.onRequestDone,
    resolveClient,
    proxyProtocol,
    defaultHeaders: parseDefaultHeaders(config.header),
    onDeadline: sweeper.arm,
  };
  const finished = Promise.withResolvers<void>();
  let unwatch = () => {};
  if (config.metricsPath !== "") {
    enableMetrics();
    watchWebSockets(liveWebSockets);
    unwatch = watchServer({ inflight: () => state.inflight, connections: () => conns.size });
  }
  let accepting = endpoints.length;
  /** Resolved once every endpoint's accept loop has ended (`stopListening`). */
  const acceptLoopsDone = Promise.withResolvers<void>();
  if (accepting === 0) acceptLoopsDone.resolve();
  let stopped = false;

  let websocketsClosing = false;
  const maybeFinished = () => {
    if (stopped && accepting === 0 && conns.size === 0 && !websocketsClosing) {
      sweeper.stop();
      clearTimeout(resumeTimer);
      clearTimeout(graceTimer);
      logger.flush();
      unwatch();
      flushMetrics();
      stopTrim?.();
      if (stopLoop) stopLoop().finally(() => finished.resolve());
      else finished.resolve();
    }
  };

  let graceTimer: ReturnType<typeof setTimeout> | undefined;

  // --max-connections: at the cap the listeners pause (new connections wait in the backlog) and
  // resume below it. WebSockets left `conns` at their upgrade, so they are counted apart; while
  // paused, a timer notices the ones that closed. A socket taken over is also counted as
  // `upgrading` for one check interval, as it may reach the WebSocket count only a little later
  // (counting it twice meanwhile only delays a resume).
  const maxConns = config.maxConnections;
  let paused = false;
  let upgrading = 0;
  let warnedFull = false;
  let resumeTimer: ReturnType<typeof setTimeout> | undefined;
  const open = () => conns.size + liveWebSockets() + upgrading;
  const setPaused = (p: boolean) => {
    paused = p;
    for (const e of endpoints) e.setPaused(p);
  };
  const checkResume = () => {
    resumeTimer = undefined;
    if (!paused) return;
    if (open() < maxConns) setPaused(false);
    else resumeTimer = setTimeout(checkResume, config.timeoutCheckIntervalMs);
  };

  function onConnection(c: LiveConnection): void {
    // A connection accepted while stopping is still served (its response says
    // `Connection: close`): the client already counts it as accepted.
    conns.add(c);
    countConnection();
    if (maxConns > 0 && !paused && open() >= maxConns) {
      setPaused(true);
      logger.log(
        warnedFull ? "debug" : "warning",
        `${maxConns} connections open (--max-connections): new ones wait in the backlog`,
      );
      warnedFull = true;
      resumeTimer ??= setTimeout(checkResume, config.timeoutCheckIntervalMs);
    }
    c.run().finally(() => {
      conns.delete(c);
      if (maxConns > 0 && c.hijacked) {
        upgrading++;
        setTimeout(() => {
          upgrading--;
          if (paused && resumeTimer === undefined) checkResume();
        }, config.timeoutCheckIntervalMs);
      }
      if (paused && open() < maxConns) {
        clearTimeout(resumeTimer);
        checkResume();
      }
      maybeFinished();
    });
  }
  async function serveEndpoint(endpoint: Endpoint): Promise<void> {
    await endpoint.run(ctx, onConnection);
    if (--accepting === 0) acceptLoopsDone.resolve();
    maybeFinished();
  }
  for (const e of endpoints) serveEndpoint(e);

  const server: Server = {
    addrs: endpoints.map((e) => e.addr),
    state,
    finished: finished.promise,
    get connections() {
      return conns.size;
    },
    stopListening() {
      closeListeners();
      maybeFinished();
      return acceptLoopsDone.promise;
    },
    shutdown(graceMs = config.shutdownGraceMs, delayMs?: number) {
      delayMs ??= graceMs === 0 ? 0 : config.shutdownDelayMs;
      const deadline = Date.now() + delayMs + graceMs;
      if (shutdownDeadline !== 0 && deadline >= shutdownDeadline) return finished.promise;
      shutdownDeadline = deadline;
      state.shuttingDown = true;
      clearTimeout(delayTimer);
      if (delayMs > 0 && !stopped) {
        delayTimer = setTimeout(() => stopAccepting(graceMs), delayMs);
      } else {
        stopAccepting(graceMs);
      }
      return finished.promise;
    },
  };

  let shutdownDeadline = 0;
  let delayTimer: ReturnType<typeof setTimeout> | undefined;

  function closeListeners(): void {
    if (stopped) return;
    stopped = true;
    for (const e of endpoints) e.close();
  }

  /** Closes the listeners and arms the grace timer (`graceMs` 0: close every connection now). */
  function stopAccepting(graceMs: number): void {
    closeListeners();
    // WebSockets left the engine at their upgrade; tell them we are going away (1001).
    if (liveWebSockets() > 0 && !websocketsClosing) {
      websocketsClosing = true;
      const closing = closeAll(1001, "server shutting down");
      const cut = setTimeout(() => {
        websocketsClosing = false;
        maybeFinished();
      }, Math.max(graceMs, 1000));
      closing.finally(() => {
        clearTimeout(cut);
        websocketsClosing = false;
        maybeFinished();
      });
    }
    if (graceMs === 0) {
      for (const c of conns) c.close();
    } else if (conns.size > 0) {
      logger.log(
        "info",
        `waiting for ${conns.size} connection(s): in-flight requests, and idle keep-alive ` +
          `connections until their timeout (signal again to close them now)`,
      );
    }
    clearTimeout(graceTimer);
    graceTimer = setTimeout(() => {
      if (conns.size > 0) {
        logger.log("warning", `grace period over; closing ${conns.size} connection(s)`);
      }
      for (const c of conns) c.close();
    }, graceMs);
    maybeFinished();
  }
  return server;
}

/** The timeout sweeper; see the module comment. */
export interface Sweeper {
  /** A connection armed a deadline at `at` (ms, clock time); see `createSweeper`. */
  readonly arm: (at: number) => void;
  /** Cancels the pending sweep; later `arm` calls are ignored. */
  stop(): void;
}

/**
 * A sweeper that calls `checkTimeout` on every connection of `conns()` and reads the clock:
 * within `intervalMs` of any `arm` (activity), then every `intervalMs` while `busy()` (requests
 * in flight: their responses' `Date` stays current) or a deadline is due, else at the earliest
 * pending deadline; with no deadline pending and nothing armed it does not run at all. `arm`
 * costs one comparison while a sweep is already due.
 */
export function createSweeper(
  intervalMs: number,
  clock: Clock,
  conns: () => Iterable<LiveConnection>,
  busy: () => boolean,
): Sweeper {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let dueAt = Infinity;
  let stopped = false;
  const at = (when: number, now: number): void => {
    if (stopped || when >= dueAt) return;
    clearTimeout(timer);
    dueAt = when;
    timer = setTimeout(sweep, Math.max(0, when - now));
  };
  const sweep = (): void => {
    timer = undefined;
    dueAt = Infinity;
    const now = clock.now(); // also refreshes the Date header's reading (server/clock.ts)
    let earliest = Infinity;
    for (const c of conns()) {
      const d = c.checkTimeout(now);
      if (d !== 0 && d < earliest) earliest = d;
    }
    const next = now + intervalMs;
    if (busy()) at(next, now);
    else if (earliest !== Infinity) at(Math.max(earliest, next), now);
  };
  return {
    arm: (deadline: number): void => {
      if (dueAt <= deadline || stopped) return;
      const now = clock.now();
      at(Math.min(deadline, now + intervalMs), now);
    },
    stop(): void {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
