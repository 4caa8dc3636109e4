/**
 * Listening and lifecycle: listeners, the accept loop, the timeout sweeper and graceful shutdown.
 *
 * Contract:
 * - `serve(handler, config, options)` binds every configured address (TCP `host:port`,
 *   `[v6]:port`, `unix:/path`; TLS when `certfile`/`keyfile` are set) before resolving, so bind
 *   errors reject (the CLI maps them to `EXIT_BOOT_ERROR`).
 * - Each listener has one accept loop with one pending `accept()`. Transient accept errors
 *   (EMFILE and friends) back off exponentially from 5 ms to 1 s instead of spinning.
 * - A sweeper runs every 250 ms and applies idle and header timeouts (`Connection.checkTimeout`).
 * - `shutdown(graceMs)`: stop accepting, close idle connections, let in-flight requests finish
 *   (their responses carry `Connection: close`), and after `graceMs` close whatever is left.
 *   `finished` resolves once every connection is gone.
 */
import type { Config } from "./config.ts";
import { limitsOf } from "./config.ts";
import { Connection, type ConnectionContext, isPeerGone, type ServerState } from "./connection.ts";
import type { Handler } from "./exchange.ts";
import { httpDate } from "./http/response_head.ts";
import type { Logger } from "./log.ts";

/** Options for `serve`. */
export interface ServeOptions {
  /** The logger. */
  logger: Logger;
  /** Share the port with sibling processes (SO_REUSEPORT; needs `--unstable-net`). */
  reusePort?: boolean;
  /** Called after each finished request. */
  onRequestDone?: () => void;
}

/** A running server. */
export interface Server {
  /** The bound addresses, in configuration order. */
  readonly addrs: Deno.Addr[];
  /** Shared state (in-flight count, shutdown flag). */
  readonly state: ServerState;
  /** Resolves once the server stopped and every connection closed. */
  readonly finished: Promise<void>;
  /** Starts a graceful shutdown; resolves like `finished`. */
  shutdown(graceMs?: number): Promise<void>;
  /** Number of open connections. */
  readonly connections: number;
}

/** A parsed listen address. */
export type ListenAddr =
  | { transport: "tcp"; hostname: string; port: number }
  | { transport: "unix"; path: string };

/** Parses `host:port`, `[v6]:port`, `:port` or `unix:/path`. Throws `Error` with a clear message. */
export function parseBind(spec: string): ListenAddr {
  if (spec.startsWith("unix:")) {
    const path = spec.slice(5);
    if (path === "") throw new Error(`invalid bind '${spec}': empty unix socket path`);
    return { transport: "unix", path };
  }
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]]*)):([0-9]{1,5})$/.exec(spec);
  if (!m || Number(m[3]) > 65535) {
    throw new Error(`invalid bind '${spec}': expected host:port, [v6]:port or unix:/path`);
  }
  return { transport: "tcp", hostname: m[1] ?? (m[2] || "0.0.0.0"), port: Number(m[3]) };
}

/** Formats a bound address for humans (`http://127.0.0.1:8000`, `unix:/tmp/s`). */
export function formatAddr(addr: Deno.Addr, scheme = "http"): string {
  if (addr.transport === "tcp") {
    const h = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    return `${scheme}://${h}:${addr.port}`;
  }
  if (addr.transport === "unix") return `unix:${addr.path}`;
  return String(addr.transport);
}

function createClock(): ConnectionContext["clock"] & { stop(): void } {
  let sec = Math.floor(Date.now() / 1000);
  let date = httpDate(sec * 1000);
  return {
    now: () => Date.now(),
    date() {
      const s = Math.floor(Date.now() / 1000);
      if (s !== sec) {
        sec = s;
        date = httpDate(s * 1000);
      }
      return date;
    },
    stop() {},
  };
}

/** Starts serving `handler`; see the module comment. */
export async function serve(handler: Handler, config: Config, opts: ServeOptions): Promise<Server> {
  const logger = opts.logger;
  const tls = config.certfile !== "";
  const specs: ListenAddr[] = [];
  if (config.bind.length === 0) {
    specs.push({ transport: "tcp", hostname: config.host, port: config.port });
  } else {
    for (const b of config.bind) specs.push(parseBind(b));
  }
  let cert = "";
  let key = "";
  if (tls) {
    cert = await Deno.readTextFile(config.certfile);
    key = await Deno.readTextFile(config.keyfile);
  }
  const listeners: Deno.Listener[] = [];
  try {
    for (const spec of specs) {
      if (spec.transport === "unix") {
        try {
          const st = await Deno.lstat(spec.path);
          if (st.isSocket) await Deno.remove(spec.path);
        } catch {
          // No stale socket to clean up.
        }
        listeners.push(Deno.listen({ transport: "unix", path: spec.path }));
        await Deno.chmod(spec.path, 0o600).catch(() => {});
      } else if (tls) {
        listeners.push(Deno.listenTls(
          {
            hostname: spec.hostname,
            port: spec.port,
            cert,
            key,
            alpnProtocols: ["http/1.1"],
            ...(opts.reusePort ? { reusePort: true } : {}),
          } as Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem,
        ));
      } else {
        listeners.push(Deno.listen({
          hostname: spec.hostname,
          port: spec.port,
          ...(opts.reusePort ? { reusePort: true } : {}),
        } as Deno.TcpListenOptions));
      }
    }
  } catch (err) {
    for (const l of listeners) l.close();
    throw err;
  }

  const state: ServerState = { shuttingDown: false, inflight: 0, requests: 0 };
  const clock = createClock();
  const ctx: ConnectionContext = {
    config,
    limits: limitsOf(config),
    handler,
    logger,
    clock,
    state,
    scheme: tls ? "https" : "http",
    onRequestDone: opts.onRequestDone,
  };
  const conns = new Set<Connection>();
  const finished = Promise.withResolvers<void>();
  let accepting = listeners.length;
  let stopped = false;

  const maybeFinished = () => {
    if (stopped && accepting === 0 && conns.size === 0) {
      clearInterval(sweeper);
      clearTimeout(graceTimer);
      logger.flush();
      finished.resolve();
    }
  };

  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const c of conns) c.checkTimeout(now);
  }, 250);
  let graceTimer: ReturnType<typeof setTimeout> | undefined;

  async function acceptLoop(listener: Deno.Listener): Promise<void> {
    let backoff = 0;
    while (!stopped) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
        backoff = 0;
      } catch (err) {
        if (stopped || err instanceof Deno.errors.BadResource) break;
        if (isPeerGone(err)) continue;
        backoff = backoff === 0 ? 5 : Math.min(backoff * 2, 1000);
        logger.log("warning", `accept failed (${describe(err)}); retrying in ${backoff} ms`);
        await new Promise((r) => setTimeout(r, backoff));
        continue;
      }
      if (stopped) {
        conn.close();
        break;
      }
      const c = new Connection(conn, ctx);
      conns.add(c);
      c.run().finally(() => {
        conns.delete(c);
        maybeFinished();
      });
    }
    accepting--;
    maybeFinished();
  }
  for (const l of listeners) acceptLoop(l);

  const server: Server = {
    addrs: listeners.map((l) => l.addr),
    state,
    finished: finished.promise,
    get connections() {
      return conns.size;
    },
    shutdown(graceMs = config.shutdownGraceMs) {
      if (!stopped) {
        stopped = true;
        state.shuttingDown = true;
        for (const l of listeners) {
          try {
            l.close();
          } catch {
            // Already closed.
          }
          if (l.addr.transport === "unix") {
            try {
              Deno.removeSync(l.addr.path);
            } catch {
              // Already gone.
            }
          }
        }
        for (const c of conns) c.closeIfIdle();
        graceTimer = setTimeout(() => {
          if (conns.size > 0) {
            logger.log("warning", `grace period over; closing ${conns.size} connection(s)`);
          }
          for (const c of conns) c.close();
        }, graceMs);
        maybeFinished();
      }
      return finished.promise;
    },
  };
  return server;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
