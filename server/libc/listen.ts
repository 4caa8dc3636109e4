/**
 * The `libc` socket driver's listeners: binding through FFI (`listenSocket`) and accepting on the
 * libc event loop. Lifecycle (`server/serve.ts`) sees only `Endpoint`s and the connections they
 * hand over, as with the `deno` driver.
 *
 * Contract:
 * - `bindLibcEndpoints(libc, specs, options, logger)` creates one `EventLoop` for the server and
 *   binds every address in order before it resolves; if one fails, the ones already bound are
 *   closed, the loop is stopped and the error propagates, mapped to `Deno.errors` (`toIoError`)
 *   so it reads like `Deno.listen`'s. `stop()` on the result ends the loop once the server
 *   finished (every endpoint and connection closed).
 * - Unix sockets are published like the `deno` driver's (`server/unix_path.ts`): bound
 *   under a private name, made private (0600), then renamed over the path, so the path always
 *   names a live listener during a handover; an existing non-socket file fails the bind with
 *   `Deno.errors.AddrInUse`; `close()` removes the path only while it still holds this socket.
 * - `adoptLibcEndpoints(libc, sockets, logger)` serves inherited listening sockets instead of
 *   binding (see its comment); `publishUnixSocket` is the unix publishing step, shared with the
 *   supervisor's own listeners (`server/libc/inherit.ts`).
 * - `Endpoint.run` accepts with `accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)` until `EAGAIN` (at most
 *   `ACCEPT_BATCH` per event; the listener is level-triggered, so the rest come on the next
 *   poll), and hands each fd over as a `LibcConnection`. Running out of descriptors or memory
 *   (EMFILE, ENFILE, ENOBUFS, ENOMEM) or any other error stops watching the listener and retries
 *   after a backoff growing from 5 ms to 1 s.
 * - `Endpoint.setPaused(true)` stops watching the listener (`--max-connections`) until
 *   `setPaused(false)`; a paused listener is not re-armed by the accept backoff either.
 * - `Endpoint.close()` unregisters the listening fd from epoll and closes it (idempotent): from
 *   then on the kernel refuses new connections; `run` resolves.
 * - Descriptor reserve: accepting until `EMFILE` would leave the runtime itself without a
 *   descriptor (Deno aborts when it cannot open one). So the listeners hold `FD_RESERVE` spare
 *   descriptors (eventfds) while accepting, give them back to the process on `EMFILE`/`ENFILE`,
 *   and accept again only once they could take them back.
 */
import { addrOf, type FileOwner, type ListenAddr, parseBind } from "../address.ts";
import type { EngineContext } from "../engine.ts";
import type { BindOptions, Endpoint, LiveConnection } from "../endpoint.ts";
import { describeError } from "../http/errors.ts";
import type { Logger } from "../log.ts";
import { publishUnixPath, removeUnixPathIfOurs } from "../unix_path.ts";
import { LibcConnection } from "./connection.ts";
import {
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EPOLLIN,
  ERRNO,
  IPPROTO_TCP,
  type Libc,
  LibcError,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  TCP_NODELAY,
  toIoError,
} from "./ffi.ts";
import { EventLoop, type FdHandler } from "./loop.ts";
import { decodeSockaddr, SOCKADDR_STORAGE_BYTES } from "./sockaddr.ts";
import {
  adoptListenSocket,
  closeSocket,
  enableOption,
  type ListenOptions,
  listenSocket,
} from "./socket.ts";

/** Connections accepted per listener event. */
export const ACCEPT_BATCH = 64;

/** Spare descriptors held back from accepting (see the module comment). */
export const FD_RESERVE = 8;

/** The process's spare descriptors (one set for every listener). */
const reserve: number[] = [];

/** Takes the spare descriptors back; false (holding none) when the process is still out of them. */
function acquireReserve(libc: Libc): boolean {
  while (reserve.length < FD_RESERVE) {
    const fd = libc.sym.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
      releaseReserve(libc);
      return false;
    }
    reserve.push(fd);
  }
  return true;
}

/** Gives the spare descriptors back to the process. */
function releaseReserve(libc: Libc): void {
  for (const fd of reserve) libc.sym.close(fd);
  reserve.length = 0;
}

/** Options for `LibcListener.start`. */
export interface AcceptOptions {
  /** Error log (accept failures are warnings). */
  readonly logger: Logger;
  /** Set `TCP_NODELAY` on accepted TCP sockets. */
  readonly noDelay: boolean;
}

/** A listening fd on the loop; see the module comment. */
export class LibcListener implements FdHandler {
  /** The bound address. */
  readonly addr: Deno.Addr;
  readonly #loop: EventLoop;
  readonly #libc: Libc;
  readonly #fd: number;
  /** Local address of accepted sockets when the listener is not bound to a wildcard. */
  readonly #local: Deno.Addr | null;
  readonly #addrBuf = new Uint8Array(SOCKADDR_STORAGE_BYTES);
  readonly #lenBuf = new Uint32Array(1);
  readonly #lenBytes = new Uint8Array(this.#lenBuf.buffer);
  #onConn: ((fd: number, remote: Deno.Addr, local: Deno.Addr | null) => void) | null = null;
  #opts: AcceptOptions | null = null;
  #backoff = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** `setPaused(true)`: the listener is not watched and the backoff timer does not re-arm it. */
  #paused = false;
  readonly #done = Promise.withResolvers<void>();

  /** Wraps a listening fd (from `listenSocket`). */
  constructor(loop: EventLoop, fd: number, addr: Deno.Addr) {
    this.#loop = loop;
    this.#libc = loop.libc;
    this.#fd = fd;
    this.addr = addr;
    const wildcard = addr.transport === "tcp" &&
      (addr.hostname === "0.0.0.0" || addr.hostname === "::");
    this.#local = wildcard ? null : addr;
  }

  /** Accepts until `close()`, handing each fd to `onConn`; resolves once closed. */
  start(
    onConn: (fd: number, remote: Deno.Addr, local: Deno.Addr | null) => void,
    opts: AcceptOptions,
  ): Promise<void> {
    this.#onConn = onConn;
    this.#opts = opts;
    acquireReserve(this.#libc);
    if (!this.#closed) this.#loop.add(this.#fd, this, this.#paused ? 0 : EPOLLIN);
    return this.#done.promise;
  }

  /** `FdHandler`: connections are waiting. */
  onEvents(_events: number): void {
    const libc = this.#libc;
    const sym = libc.sym;
    const onConn = this.#onConn!;
    const tcp = this.addr.transport === "tcp" && this.#opts!.noDelay;
    for (let i = 0; i < ACCEPT_BATCH && !this.#closed && !this.#paused; i++) {
      this.#lenBuf[0] = SOCKADDR_STORAGE_BYTES;
      const fd = sym.accept4(this.#fd, this.#addrBuf, this.#lenBytes, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        const errno = libc.errno();
        if (errno === ERRNO.EAGAIN) break;
        if (errno === ERRNO.EINTR || errno === ERRNO.ECONNABORTED) continue;
        if (errno === ERRNO.EMFILE || errno === ERRNO.ENFILE) releaseReserve(libc);
        this.#pause(new LibcError("accept4", errno));
        return;
      }
      this.#backoff = 0;
      let remote: Deno.Addr;
      try {
        remote = decodeSockaddr(this.#addrBuf, this.#lenBuf[0]);
        if (tcp) enableOption(libc, fd, IPPROTO_TCP, TCP_NODELAY);
      } catch {
        sym.close(fd);
        continue;
      }
      onConn(fd, remote, this.#local);
    }
  }

  /** Stops watching the listener and retries after the backoff. */
  #pause(err: LibcError): void {
    this.#backoff = this.#backoff === 0 ? 5 : Math.min(this.#backoff * 2, 1000);
    this.#opts!.logger.log(
      "warning",
      `accept failed (${err.message}); retrying in ${this.#backoff} ms`,
    );
    try {
      this.#loop.modify(this.#fd, 0);
    } catch {
      // Unregistered already; the timer re-arms it.
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed || this.#paused) return;
      if (!acquireReserve(this.#libc)) {
        this.#pause(new LibcError("accept4", ERRNO.EMFILE, "no spare descriptors"));
        return;
      }
      try {
        this.#loop.modify(this.#fd, EPOLLIN);
      } catch (err) {
        this.#opts!.logger.log("error", `listener lost: ${describeError(err)}`);
      }
    }, this.#backoff);
  }

  /** Stops or resumes watching the listener (see `Endpoint.setPaused`). */
  setPaused(paused: boolean): void {
    if (paused === this.#paused || this.#closed) return;
    this.#paused = paused;
    if (this.#onConn === null || (!paused && this.#timer !== undefined)) return;
    try {
      this.#loop.modify(this.#fd, paused ? 0 : EPOLLIN);
    } catch (err) {
      this.#opts!.logger.log("error", `listener lost: ${describeError(err)}`);
    }
  }

  /** Stops accepting and closes the listening fd (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#loop.remove(this.#fd);
    this.#libc.sym.close(this.#fd);
    this.#done.resolve();
  }
}

/** A `LibcListener` as lifecycle sees it. */
class LibcEndpoint implements Endpoint {
  readonly #loop: EventLoop;
  readonly #listener: LibcListener;
  /** Inode of the published unix socket (null: TCP, or unknown). */
  readonly #inode: number | null;

  constructor(loop: EventLoop, listener: LibcListener, inode: number | null) {
    this.#loop = loop;
    this.#listener = listener;
    this.#inode = inode;
  }

  get addr(): Deno.Addr {
    return this.#listener.addr;
  }

  run(ctx: EngineContext, onConnection: (c: LiveConnection) => void): Promise<void> {
    const loop = this.#loop;
    loop.useClock(ctx.clock);
    return this.#listener.start(
      (fd, remote, local) => onConnection(new LibcConnection(loop, fd, remote, local, ctx)),
      { logger: ctx.logger, noDelay: true },
    );
  }

  setPaused(paused: boolean): void {
    this.#listener.setPaused(paused);
  }

  close(): void {
    const addr = this.#listener.addr;
    this.#listener.close();
    if (addr.transport === "unix") removeUnixPathIfOurs(addr.path, this.#inode);
  }
}

/** The endpoints `bindLibcEndpoints` bound, and their event loop. */
export interface LibcBinding {
  /** One endpoint per address, in order. */
  readonly endpoints: Endpoint[];
  /** Ends the event loop (call once every endpoint and connection closed). */
  stop(): Promise<void>;
}

/** Binds every address in `specs` on a new event loop; see the module comment. */
export async function bindLibcEndpoints(
  libc: Libc,
  specs: readonly ListenAddr[],
  options: BindOptions,
  logger: Logger,
): Promise<LibcBinding> {
  const loop = new EventLoop(libc, {
    onError: (err) => logger.log("error", `event loop: ${describeError(err)}`),
  });
  const opts: ListenOptions = { backlog: options.backlog, reusePort: options.reusePort };
  const endpoints: Endpoint[] = [];
  try {
    for (const spec of specs) {
      endpoints.push(
        spec.transport === "unix"
          ? await bindUnix(loop, spec.path, opts, spec.mode)
          : new LibcEndpoint(loop, listenTcp(loop, spec, opts), null),
      );
    }
  } catch (err) {
    for (const e of endpoints) e.close();
    await loop.stop();
    throw toIoError(err);
  }
  return { endpoints, stop: () => loop.stop() };
}

function listenTcp(loop: EventLoop, spec: ListenAddr, opts: ListenOptions): LibcListener {
  const { fd, addr } = listenSocket(loop.libc, spec, opts);
  return new LibcListener(loop, fd, addr);
}

/** Binds `path` under a private name and renames it over `path`; see the module comment. */
async function bindUnix(
  loop: EventLoop,
  path: string,
  opts: ListenOptions,
  mode: number | undefined,
): Promise<LibcEndpoint> {
  const { fd, inode } = await publishUnixSocket(loop.libc, path, opts, mode);
  return new LibcEndpoint(loop, new LibcListener(loop, fd, { transport: "unix", path }), inode);
}

/** A listening descriptor served instead of binding. */
export interface InheritedSocket {
  /** The descriptor number (the same in the parent and the child). */
  readonly fd: number;
  /** The bind spec to report (`host:port`, `unix:/path`); absent: the socket's own address. */
  readonly bind?: string;
  /** Its `LISTEN_FDNAMES` name (socket activation), for the log. */
  readonly name?: string;
}

/** A unix listening socket published at its path: the fd and the inode the path names. */
export interface PublishedUnixSocket {
  /** The listening descriptor. */
  readonly fd: number;
  /** Inode of the socket file (`removeUnixPathIfOurs` compares it). */
  readonly inode: number | null;
}

/**
 * Creates a listening unix socket under a private name, gives it `mode` (default 0600) and
 * `owner` (when given) and renames it over `path` (`publishUnixPath`); an existing non-socket file fails with
 * `Deno.errors.AddrInUse`.
 */
export async function publishUnixSocket(
  libc: Libc,
  path: string,
  opts: ListenOptions,
  mode?: number,
  owner?: FileOwner,
): Promise<PublishedUnixSocket> {
  const { listener, inode } = await publishUnixPath(
    path,
    (staging) => listenSocket(libc, { transport: "unix", path: staging }, opts).fd,
    (fd) => closeSocket(libc, fd),
    mode,
    owner,
  );
  return { fd: listener, inode };
}

/**
 * Serves inherited listening sockets (from the supervisor or systemd) on a new event loop instead
 * of binding: each fd is checked and taken over by `adoptListenSocket` (close-on-exec set, so an
 * app's subprocesses do not inherit it). The address reported is `bind` when given (a unix socket
 * published under a private name), else the socket's own. Closing an endpoint closes this
 * process's descriptor only and never removes a unix path: the socket belongs to the parent.
 * Throws `InheritedSocketError` naming the first fd that is not a listening stream socket.
 */
export async function adoptLibcEndpoints(
  libc: Libc,
  sockets: readonly InheritedSocket[],
  logger: Logger,
): Promise<LibcBinding> {
  const loop = new EventLoop(libc, {
    onError: (err) => logger.log("error", `event loop: ${describeError(err)}`),
  });
  const endpoints: Endpoint[] = [];
  try {
    for (const s of sockets) {
      const own = adoptListenSocket(libc, s.fd, true);
      const addr = s.bind === undefined ? own : addrOf(parseBind(s.bind));
      endpoints.push(new LibcEndpoint(loop, new LibcListener(loop, s.fd, addr), null));
    }
  } catch (err) {
    for (const e of endpoints) e.close();
    await loop.stop();
    throw err;
  }
  return { endpoints, stop: () => loop.stop() };
}
