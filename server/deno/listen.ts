/**
 * The `deno` socket driver's listeners: binding (`Deno.listen`, `Deno.listenTls`, unix sockets
 * through `unix_listener.ts`) and the accept loop. Lifecycle (`server/serve.ts`) sees only
 * `Endpoint`s and the connections they hand over, never a Deno socket.
 *
 * Contract:
 * - `bindEndpoints(specs, options)` binds every address in order before it resolves; if one
 *   fails, the ones already bound are closed and the error propagates (the CLI maps it to a boot
 *   error). TCP listeners get `tcpBacklog`; with `reusePort` several processes share the port
 *   (SO_REUSEPORT, Linux; needs `--unstable-net`). With `tls` set, TCP addresses are served over
 *   TLS (ALPN `http/1.1`); unix sockets are always plain.
 * - `Endpoint.run(ctx, onConnection)` keeps one `accept()` pending until the endpoint is closed
 *   (none while it is paused: `setPaused`, checked before each accept); each accepted socket becomes a `DenoConnection` handed to `onConnection` (which runs it).
 *   Transient accept errors (EMFILE and friends) back off exponentially from 5 ms to 1 s instead
 *   of spinning; a peer that reset before the accept completed is skipped.
 * - `Endpoint.close()` stops accepting (idempotent); `run` then resolves.
 * - `checkTlsPair(cert, key)` proves a PEM certificate chain and key work together by listening
 *   with them on a free loopback port for a moment (`--check-config`); it throws what the real
 *   listen would.
 */
import type { ListenAddr } from "../address.ts";
import type { EngineContext } from "../engine.ts";
import type { BindOptions, Endpoint } from "../endpoint.ts";
import { describeError } from "../http/errors.ts";
import { isPeerGone } from "../io_errors.ts";
import { DenoConnection } from "./connection.ts";
import { listenUnix } from "./unix_listener.ts";

const MIN_BACKOFF_MS = 5;
const MAX_BACKOFF_MS = 1000;

class DenoEndpoint implements Endpoint {
  readonly #listener: Deno.Listener;
  #closed = false;
  /** Resolved by `setPaused(false)` or `close()` while paused; null when not paused. */
  #paused: PromiseWithResolvers<void> | null = null;

  constructor(listener: Deno.Listener) {
    this.#listener = listener;
  }

  get addr(): Deno.Addr {
    return this.#listener.addr;
  }

  async run(ctx: EngineContext, onConnection: (c: DenoConnection) => void): Promise<void> {
    let backoff = 0;
    while (!this.#closed) {
      if (this.#paused !== null) {
        await this.#paused.promise;
        continue;
      }
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
        backoff = 0;
      } catch (err) {
        if (this.#closed || err instanceof Deno.errors.BadResource) break;
        if (isPeerGone(err)) continue;
        backoff = backoff === 0 ? MIN_BACKOFF_MS : Math.min(backoff * 2, MAX_BACKOFF_MS);
        ctx.logger.log(
          "warning",
          `accept failed (${describeError(err)}); retrying in ${backoff} ms`,
        );
        await new Promise((r) => setTimeout(r, backoff));
        continue;
      }
      onConnection(new DenoConnection(conn, ctx));
    }
  }

  setPaused(paused: boolean): void {
    if (paused && this.#paused === null) this.#paused = Promise.withResolvers();
    else if (!paused && this.#paused !== null) {
      this.#paused.resolve();
      this.#paused = null;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.setPaused(false);
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
  }
}

/** Throws unless `cert` and `key` can serve TLS; see the module comment. */
export function checkTlsPair(cert: string, key: string): void {
  Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key }).close();
}

/** Binds every address in `specs`; see the module comment. */
export async function bindEndpoints(
  specs: readonly ListenAddr[],
  options: BindOptions,
): Promise<Endpoint[]> {
  const endpoints: Endpoint[] = [];
  try {
    for (const spec of specs) endpoints.push(new DenoEndpoint(await bindOne(spec, options)));
  } catch (err) {
    for (const e of endpoints) e.close();
    throw err;
  }
  return endpoints;
}

function bindOne(spec: ListenAddr, options: BindOptions): Promise<Deno.Listener> | Deno.Listener {
  if (spec.transport === "unix") return listenUnix(spec.path, spec.mode);
  const reuse = options.reusePort ? { reusePort: true } : {};
  if (options.tls) {
    return Deno.listenTls(
      {
        hostname: spec.hostname,
        port: spec.port,
        cert: options.tls.cert,
        key: options.tls.key,
        alpnProtocols: ["http/1.1"],
        tcpBacklog: options.backlog,
        ...reuse,
      } as Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem,
    );
  }
  return Deno.listen(
    {
      hostname: spec.hostname,
      port: spec.port,
      tcpBacklog: options.backlog,
      ...reuse,
    } as Deno.TcpListenOptions,
  );
}
