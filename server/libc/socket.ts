/**
 * Nonblocking sockets over the libc bindings: listening sockets, accepting, and `LibcSocket`, the
 * duplex a protocol switch (WebSockets) gets from `Exchange.takeover` on the libc backend.
 *
 * Contract:
 * - `listenSocket(io, spec, opts)` creates a `SOCK_NONBLOCK | SOCK_CLOEXEC` stream socket (so
 *   child processes never inherit it; with `opts.inheritable` without `SOCK_CLOEXEC`, so the
 *   supervisor's workers inherit it under the same number), sets `SO_REUSEADDR` on TCP sockets
 *   (as Rust's standard library does for Deno) and `SO_REUSEPORT` when asked, binds, listens with
 *   `opts.backlog`, and returns the fd and the bound address (`getsockname`, so port 0 reports the
 *   chosen port). Failures throw `LibcError` (or `SockaddrError` for an address it cannot encode)
 *   after closing the socket; `toIoError` turns `EADDRINUSE` into `Deno.errors.AddrInUse` like
 *   `Deno.listen`.
 * - `adoptListenSocket(libc, fd, cloexec)` takes over an inherited descriptor: it must be a
 *   listening stream socket (`SO_TYPE` is `SOCK_STREAM`, `SO_ACCEPTCONN` is set), otherwise
 *   `InheritedSocketError` names the fd and what it is. The descriptor is made nonblocking, its
 *   close-on-exec flag set (`cloexec` true) or cleared (false: it is passed on to children), and
 *   its bound address returned (`getsockname`). `closeSocket(libc, fd)` closes a descriptor.
 * - `socketAddr(io, fd, peer)` reads `getsockname`/`getpeername` into a `Deno.Addr`;
 *   `toConnAddr` turns one into the engine's `ConnAddr`.
 * - `PieceSender` writes a connection core's queued output pieces in order with synchronous
 *   `send`, resuming a piece where a full socket (`EAGAIN`) stopped it.
 * - `LibcSocket` registers its fd with the loop (edge-triggered) and implements `SocketDuplex`:
 *   `read`/`write` try the synchronous call first and wait for readiness only on `EAGAIN`; one
 *   read and one write may be pending at a time (as the WebSocket code uses it); `close()`
 *   unregisters and closes the fd and rejects pending calls with `Deno.errors.BadResource`.
 *   Errors are the `Deno.errors` classes `toIoError` maps errno values to.
 */
import type { ConnAddr, SocketDuplex } from "../exchange.ts";
import { type Libc, LibcError, toIoError } from "./ffi.ts";
import * as ffiModule from "./ffi.ts";
import type { EventLoop, FdHandler } from "./loop.ts";
import { decodeSockaddr, encodeSockaddr, type SockaddrSpec } from "./sockaddr.ts";
import * as sockaddrModule from "./sockaddr.ts";

// Module-private copies of imported constants (see `server/http/bytes.ts`).
const {
  AF_UNIX,
  EPOLLERR,
  EPOLLET,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  ERRNO,
  FD_CLOEXEC,
  F_GETFD,
  F_GETFL,
  F_SETFD,
  F_SETFL,
  MAX_IO_BYTES,
  MSG_MORE,
  MSG_NOSIGNAL,
  O_NONBLOCK,
  SHUT_WR,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_ACCEPTCONN,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SO_TYPE,
} = ffiModule;
const { SOCKADDR_STORAGE_BYTES } = sockaddrModule;

/** Options for `listenSocket`. */
export interface ListenOptions {
  /** `listen()` backlog. */
  readonly backlog: number;
  /** Set `SO_REUSEPORT` (several processes share the port). */
  readonly reusePort?: boolean;
  /** Leave out `SOCK_CLOEXEC`: child processes inherit the socket. */
  readonly inheritable?: boolean;
}

const ONE = new Uint8Array(new Int32Array([1]).buffer);

/** Sets an int socket option to 1; throws `LibcError`. */
export function enableOption(libc: Libc, fd: number, level: number, name: number): void {
  if (libc.sym.setsockopt(fd, level, name, ONE, 4) < 0) {
    throw new LibcError("setsockopt", libc.errno(), `level ${level} option ${name}`);
  }
}

/** Creates a listening socket; see the module comment. */
export function listenSocket(
  libc: Libc,
  spec: SockaddrSpec,
  opts: ListenOptions,
): { fd: number; addr: Deno.Addr } {
  const sa = encodeSockaddr(spec);
  const sym = libc.sym;
  const flags = SOCK_STREAM | SOCK_NONBLOCK | (opts.inheritable ? 0 : SOCK_CLOEXEC);
  const fd = sym.socket(sa.family, flags, 0);
  if (fd < 0) throw new LibcError("socket", libc.errno());
  try {
    if (sa.family !== AF_UNIX) {
      enableOption(libc, fd, SOL_SOCKET, SO_REUSEADDR);
      if (opts.reusePort) enableOption(libc, fd, SOL_SOCKET, SO_REUSEPORT);
    }
    if (sym.bind(fd, sa.bytes, sa.length) < 0) {
      throw new LibcError("bind", libc.errno(), describeSpec(spec));
    }
    if (sym.listen(fd, opts.backlog) < 0) throw new LibcError("listen", libc.errno());
    return { fd, addr: socketAddr(libc, fd, false) };
  } catch (err) {
    sym.close(fd);
    throw err;
  }
}

/** An inherited descriptor that is not a listening stream socket (or cannot be used as one). */
export class InheritedSocketError extends Error {
  /** The descriptor. */
  readonly fd: number;
  /** Creates the error for `fd`; `what` says what is wrong with it. */
  constructor(fd: number, what: string, options?: ErrorOptions) {
    super(`inherited fd ${fd} ${what}`, options);
    this.name = "InheritedSocketError";
    this.fd = fd;
  }
}

const optBuf = new Int32Array(1);
const optBytes = new Uint8Array(optBuf.buffer);

/** Reads an int socket option of `fd` (`SOL_SOCKET` level); -errno when the call fails. */
function intOption(libc: Libc, fd: number, name: number): number {
  optBuf[0] = 0;
  lenBuf[0] = 4;
  if (libc.sym.getsockopt(fd, SOL_SOCKET, name, optBytes, lenBytes) < 0) return -libc.errno();
  return optBuf[0];
}

/** Takes over an inherited listening socket; see the module comment. */
export function adoptListenSocket(libc: Libc, fd: number, cloexec: boolean): Deno.Addr {
  if (!Number.isSafeInteger(fd) || fd < 0) {
    throw new InheritedSocketError(fd, "is not a descriptor");
  }
  const type = intOption(libc, fd, SO_TYPE);
  if (type < 0) {
    const err = new LibcError("getsockopt", -type);
    throw new InheritedSocketError(fd, `is not a socket (${err.code})`, { cause: err });
  }
  if (type !== SOCK_STREAM) {
    throw new InheritedSocketError(fd, `is not a stream socket (type ${type})`);
  }
  if (intOption(libc, fd, SO_ACCEPTCONN) !== 1) {
    throw new InheritedSocketError(fd, "is a stream socket that is not listening");
  }
  const sym = libc.sym;
  const fl = sym.fcntl(fd, F_GETFL, 0);
  if (fl < 0 || (fl & O_NONBLOCK) === 0 && sym.fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
    throw new InheritedSocketError(fd, "cannot be made nonblocking", {
      cause: new LibcError("fcntl", libc.errno()),
    });
  }
  const fdFlags = sym.fcntl(fd, F_GETFD, 0);
  const want = cloexec ? fdFlags | FD_CLOEXEC : fdFlags & ~FD_CLOEXEC;
  if (fdFlags < 0 || (want !== fdFlags && sym.fcntl(fd, F_SETFD, want) < 0)) {
    throw new InheritedSocketError(fd, "has descriptor flags that cannot be set", {
      cause: new LibcError("fcntl", libc.errno()),
    });
  }
  try {
    return socketAddr(libc, fd, false);
  } catch (err) {
    throw new InheritedSocketError(fd, "has an address lsbaws cannot read", { cause: err });
  }
}

/** Closes a descriptor (errors are ignored: it is gone either way). */
export function closeSocket(libc: Libc, fd: number): void {
  libc.sym.close(fd);
}

function describeSpec(spec: SockaddrSpec): string {
  return spec.transport === "unix" ? spec.path : `${spec.hostname}:${spec.port}`;
}

const addrBuf = new Uint8Array(SOCKADDR_STORAGE_BYTES);
const lenBuf = new Uint32Array(1);
const lenBytes = new Uint8Array(lenBuf.buffer);

/** The local (`peer` false) or remote address of `fd`; throws `LibcError`. */
export function socketAddr(libc: Libc, fd: number, peer: boolean): Deno.Addr {
  lenBuf[0] = SOCKADDR_STORAGE_BYTES;
  const r = peer
    ? libc.sym.getpeername(fd, addrBuf, lenBytes)
    : libc.sym.getsockname(fd, addrBuf, lenBytes);
  if (r < 0) throw new LibcError(peer ? "getpeername" : "getsockname", libc.errno());
  return decodeSockaddr(addrBuf, lenBuf[0]);
}

/** The engine's view of a socket address (`ConnAddr`). */
export function toConnAddr(a: Deno.Addr): ConnAddr {
  if (a.transport === "unix") return { transport: "unix", hostname: a.path, port: 0 };
  if (a.transport === "tcp") return { transport: "tcp", hostname: a.hostname, port: a.port };
  return { transport: "tcp", hostname: "", port: 0 };
}

/** Events a connected socket is registered for (edge-triggered). */
export const CONN_EVENTS = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
/** Event bits that mean "try reading". */
export const READ_BITS = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
/** Event bits that mean "try writing". */
export const WRITE_BITS = EPOLLOUT | EPOLLHUP | EPOLLERR;

/** The output side of a connection core, as `PieceSender` drains it. */
export interface OutputSource {
  /** Queued output. */
  readonly out: { readonly size: number; release(): void };
  /** Takes the queued pieces (the caller writes them in order). */
  takeOutput(): Uint8Array[];
}

/**
 * Writes a connection's queued output with synchronous `send(MSG_NOSIGNAL)`, remembering where a
 * full socket stopped it (the piece and the offset in it), so the next call resumes there.
 */
export class PieceSender {
  readonly #libc: Libc;
  readonly #fd: number;
  #pieces: Uint8Array[] | null = null;
  #index = 0;
  #offset = 0;
  #flags = MSG_NOSIGNAL;

  /** A sender for `fd`. */
  constructor(libc: Libc, fd: number) {
    this.#libc = libc;
    this.#fd = fd;
  }

  /**
   * Sends the pieces left over, then whatever `src` queued since; true once everything went out
   * (the output buffer is released), false when the socket is full. Throws the mapped error.
   */
  send(src: OutputSource): boolean {
    const libc = this.#libc;
    for (;;) {
      let pieces = this.#pieces;
      if (pieces === null) {
        if (src.out.size === 0) break;
        pieces = this.#pieces = src.takeOutput();
        this.#index = 0;
        this.#offset = 0;
      }
      while (this.#index < pieces.length) {
        const piece = pieces[this.#index];
        const off = this.#offset;
        const left = piece.length - off;
        const n = left === 0 ? 0 : libc.sym.send(
          this.#fd,
          off === 0 ? piece : piece.subarray(off),
          BigInt(Math.min(left, MAX_IO_BYTES)),
          this.#flags,
        );
        if (n < 0) {
          const errno = libc.errno();
          if (errno === ERRNO.EINTR) continue;
          if (errno === ERRNO.EAGAIN) return false;
          throw toIoError(new LibcError("send", errno));
        }
        if (n === left) {
          this.#index++;
          this.#offset = 0;
        } else {
          this.#offset = off + n;
        }
      }
      this.#pieces = null;
    }
    src.out.release();
    return true;
  }

  /**
   * The socket is closed or half-closed right after this output: sends from now on carry
   * `MSG_MORE`, so the kernel holds the last segment and the close's FIN rides on it (one
   * segment less per connection; the close or `shutdown` pushes what is held).
   */
  closing(): void {
    this.#flags = MSG_NOSIGNAL | MSG_MORE;
  }

  /** Forgets the pieces left over (the connection closed). */
  clear(): void {
    this.#pieces = null;
  }
}

interface Waiter<T> {
  readonly buf: Uint8Array;
  readonly resolve: (v: T) => void;
  readonly reject: (err: unknown) => void;
}

/** A connected nonblocking socket as a `SocketDuplex`; see the module comment. */
export class LibcSocket implements SocketDuplex, FdHandler {
  readonly #loop: EventLoop;
  readonly #libc: Libc;
  readonly #fd: number;
  #closed = false;
  #reader: Waiter<number | null> | null = null;
  #writer: Waiter<number> | null = null;

  /** Takes ownership of `fd` and registers it with `loop`. */
  constructor(loop: EventLoop, fd: number) {
    this.#loop = loop;
    this.#libc = loop.libc;
    this.#fd = fd;
    loop.add(fd, this, CONN_EVENTS);
  }

  /** Reads into `p`: the byte count, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("socket closed"));
    if (this.#reader !== null) return Promise.reject(new Deno.errors.Busy("read pending"));
    try {
      const n = this.#recv(p);
      if (n !== -1) return Promise.resolve(n === 0 ? null : n);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.#reader = { buf: p, resolve, reject };
    });
  }

  /** Writes from `p`: the number of bytes the kernel took (at least one). */
  write(p: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("socket closed"));
    if (this.#writer !== null) return Promise.reject(new Deno.errors.Busy("write pending"));
    if (p.length === 0) return Promise.resolve(0);
    try {
      const n = this.#send(p);
      if (n !== -1) return Promise.resolve(n);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.#writer = { buf: p, resolve, reject };
    });
  }

  /** Shuts down the sending side. */
  closeWrite(): Promise<void> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("socket closed"));
    if (this.#libc.sym.shutdown(this.#fd, SHUT_WR) < 0) {
      return Promise.reject(toIoError(new LibcError("shutdown", this.#libc.errno())));
    }
    return Promise.resolve();
  }

  /** Closes the socket; pending calls reject with `BadResource`. */
  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("socket closed");
    this.#closed = true;
    this.#loop.remove(this.#fd);
    this.#libc.sym.close(this.#fd);
    const err = new Deno.errors.BadResource("socket closed");
    const r = this.#reader, w = this.#writer;
    this.#reader = this.#writer = null;
    r?.reject(err);
    w?.reject(err);
  }

  /** `FdHandler`: resumes a pending read or write. */
  onEvents(events: number): void {
    if (this.#closed) return;
    const r = this.#reader;
    if (r !== null && (events & READ_BITS) !== 0) {
      try {
        const n = this.#recv(r.buf);
        if (n !== -1) {
          this.#reader = null;
          r.resolve(n === 0 ? null : n);
        }
      } catch (err) {
        this.#reader = null;
        r.reject(err);
      }
    }
    const w = this.#writer;
    if (w !== null && (events & WRITE_BITS) !== 0) {
      try {
        const n = this.#send(w.buf);
        if (n !== -1) {
          this.#writer = null;
          w.resolve(n);
        }
      } catch (err) {
        this.#writer = null;
        w.reject(err);
      }
    }
  }

  /** recv: bytes read, 0 at EOF, -1 would block; throws the mapped error. */
  #recv(p: Uint8Array): number {
    const libc = this.#libc;
    for (;;) {
      const n = libc.sym.recv(this.#fd, p, BigInt(Math.min(p.length, MAX_IO_BYTES)), 0);
      if (n >= 0) return n;
      const errno = libc.errno();
      if (errno === ERRNO.EAGAIN) return -1;
      if (errno !== ERRNO.EINTR) throw toIoError(new LibcError("recv", errno));
    }
  }

  /** send: bytes written, -1 would block; throws the mapped error. */
  #send(p: Uint8Array): number {
    const libc = this.#libc;
    for (;;) {
      const n = libc.sym.send(this.#fd, p, BigInt(Math.min(p.length, MAX_IO_BYTES)), MSG_NOSIGNAL);
      if (n >= 0) return n;
      const errno = libc.errno();
      if (errno === ERRNO.EAGAIN) return -1;
      if (errno !== ERRNO.EINTR) throw toIoError(new LibcError("send", errno));
    }
  }
}
