/**
 * FFI bindings to the C library's socket, epoll and eventfd calls, errno constants, and the error
 * type for a failed call.
 *
 * Contract:
 * - `loadLibc()` returns `{ ok: true, libc }` or `{ ok: false, reason }` (not Linux, an
 *   architecture whose layouts we do not know, FFI not permitted, libc or a symbol missing). It
 *   never throws and opens the library once per process.
 * - Every binding is a synchronous FFI call (it runs on the calling thread and may touch any
 *   JS-owned buffer) except `epoll_wait_nb`, which runs on a helper thread: it may only be given a
 *   buffer that the JS side leaves alone until the call's promise settles (see `loop.ts`).
 * - After a synchronous call returned -1, `libc.errno()` reads the calling thread's errno (through
 *   `__errno_location`, whose pointer is cached: it is fixed per thread). A nonblocking call's
 *   errno lives on the helper thread and cannot be read.
 * - `LibcError` carries the errno, its symbolic name and the call; `toIoError(err)` maps it to
 *   the `Deno.errors` class the rest of the server already understands (peer-gone errors become
 *   `ConnectionReset`/`BrokenPipe`/..., so `isPeerGone` holds), with the `LibcError` as `cause`.
 * - Sizes returned by `recv`/`send`/`read`/`write`/`sendfile` are declared `i32` (the low half
 *   of `ssize_t`): callers never pass more than `MAX_IO_BYTES` at once, so the value is exact.
 * - The file calls (`sendfile`, `statx`, `open`) are optional symbols: a C library without them
 *   still loads, and those bindings are null (callers then read files the portable way). So are
 *   glibc's `mallinfo2` and `malloc_trim` (other C libraries lack them; see `heap_trim.ts`).
 * - Constants are the Linux values shared by x86_64 and aarch64 (asm-generic); `epoll_event` is
 *   packed (12 bytes) on x86_64 only, see `EPOLL_EVENT_BYTES`.
 */

/** Largest byte count passed to one `recv`/`send` (keeps the `i32` result exact). */
export const MAX_IO_BYTES = 1 << 30;

// ---- Constants (Linux, asm-generic values; x86_64 and aarch64 agree) ---------------------------

/** Address families. */
export const AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10;
/** Socket type and creation flags. */
export const SOCK_STREAM = 1, SOCK_NONBLOCK = 0o4000, SOCK_CLOEXEC = 0o2000000;
/** `setsockopt` levels and options. */
export const SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_REUSEPORT = 15, SO_ERROR = 4;
/** `getsockopt` options that describe a socket: its type (`SOCK_STREAM`...) and whether it listens. */
export const SO_TYPE = 3, SO_ACCEPTCONN = 30;
/** TCP and IPv6 levels and options. */
export const IPPROTO_TCP = 6, TCP_NODELAY = 1, IPPROTO_IPV6 = 41, IPV6_V6ONLY = 26;
/** `send`/`recv` flags. */
export const MSG_NOSIGNAL = 0x4000, MSG_MORE = 0x8000;
/** `shutdown` directions. */
export const SHUT_RD = 0, SHUT_WR = 1, SHUT_RDWR = 2;
/** `fcntl` commands and flags. */
export const F_GETFL = 3, F_SETFL = 4, O_NONBLOCK = 0o4000, F_DUPFD_CLOEXEC = 1030;
/** `fcntl` descriptor-flag commands and the close-on-exec flag. */
export const F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1;
/** `open` flags. */
export const O_RDONLY = 0, O_CLOEXEC = 0o2000000;
/** `statx` flags and mask: `AT_EMPTY_PATH` makes it an `fstat` of its fd argument. */
export const AT_EMPTY_PATH = 0x1000, STATX_BASIC_STATS = 0x7ff;
/** `struct statx` size and field offsets (the same on every architecture). */
export const STATX_BYTES = 256,
  STATX_INO_OFFSET = 32,
  STATX_SIZE_OFFSET = 40,
  STATX_DEV_MAJOR_OFFSET = 136,
  STATX_DEV_MINOR_OFFSET = 140;
/** `epoll_create1` and `eventfd` flags. */
export const EPOLL_CLOEXEC = 0o2000000, EFD_CLOEXEC = 0o2000000, EFD_NONBLOCK = 0o4000;
/** `epoll_ctl` operations. */
export const EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
/** `epoll` event bits. */
export const EPOLLIN = 0x001,
  EPOLLOUT = 0x004,
  EPOLLERR = 0x008,
  EPOLLHUP = 0x010,
  EPOLLRDHUP = 0x2000,
  EPOLLET = 0x80000000;

/** Size of one `struct epoll_event`: packed on x86_64 (12 bytes), 16 bytes elsewhere. */
export const EPOLL_EVENT_BYTES = Deno.build.arch === "x86_64" ? 12 : 16;
/** Offset of `epoll_event.data` (a u64). */
export const EPOLL_DATA_OFFSET = Deno.build.arch === "x86_64" ? 4 : 8;

/** errno values (Linux). */
export const ERRNO = Object.freeze(
  {
    EPERM: 1,
    ENOENT: 2,
    EINTR: 4,
    EIO: 5,
    EBADF: 9,
    EAGAIN: 11,
    ENOMEM: 12,
    EACCES: 13,
    EFAULT: 14,
    EINVAL: 22,
    ENFILE: 23,
    EMFILE: 24,
    EPIPE: 32,
    ENOTSOCK: 88,
    EPROTONOSUPPORT: 93,
    EOPNOTSUPP: 95,
    EAFNOSUPPORT: 97,
    EADDRINUSE: 98,
    EADDRNOTAVAIL: 99,
    ENETDOWN: 100,
    ENETUNREACH: 101,
    ECONNABORTED: 103,
    ECONNRESET: 104,
    ENOBUFS: 105,
    ENOTCONN: 107,
    ETIMEDOUT: 110,
    ECONNREFUSED: 111,
    EHOSTUNREACH: 113,
  } as const,
);
/** `EWOULDBLOCK` is `EAGAIN` on Linux. */
export const EWOULDBLOCK = ERRNO.EAGAIN;

const ERRNO_NAMES = new Map<number, string>(Object.entries(ERRNO).map(([k, v]) => [v, k]));

/** glibc's `strerror` text for the errno values a server meets. */
const ERRNO_TEXT: Readonly<Record<number, string>> = {
  [ERRNO.EPERM]: "Operation not permitted",
  [ERRNO.ENOENT]: "No such file or directory",
  [ERRNO.EINTR]: "Interrupted system call",
  [ERRNO.EBADF]: "Bad file descriptor",
  [ERRNO.EAGAIN]: "Resource temporarily unavailable",
  [ERRNO.ENOMEM]: "Cannot allocate memory",
  [ERRNO.EACCES]: "Permission denied",
  [ERRNO.EINVAL]: "Invalid argument",
  [ERRNO.ENFILE]: "Too many open files in system",
  [ERRNO.EMFILE]: "Too many open files",
  [ERRNO.EPIPE]: "Broken pipe",
  [ERRNO.ENOTSOCK]: "Socket operation on non-socket",
  [ERRNO.EADDRINUSE]: "Address already in use",
  [ERRNO.EADDRNOTAVAIL]: "Cannot assign requested address",
  [ERRNO.ECONNABORTED]: "Software caused connection abort",
  [ERRNO.ECONNRESET]: "Connection reset by peer",
  [ERRNO.ENOBUFS]: "No buffer space available",
  [ERRNO.ENOTCONN]: "Transport endpoint is not connected",
  [ERRNO.ECONNREFUSED]: "Connection refused",
};

/** The symbolic name of an errno value (`E123` for one this module does not list). */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/** Whether a failed `accept` should back off rather than spin (out of descriptors or memory). */
export function isResourceExhausted(errno: number): boolean {
  return errno === ERRNO.EMFILE || errno === ERRNO.ENFILE || errno === ERRNO.ENOBUFS ||
    errno === ERRNO.ENOMEM;
}

/** A failed C library call: the call's name and its errno. */
export class LibcError extends Error {
  /** The errno value. */
  readonly errno: number;
  /** The errno's symbolic name (`ECONNRESET`). */
  readonly code: string;
  /** The C function that failed. */
  readonly call: string;
  /** Creates the error for `call` failing with `errno` (`detail` is added to the message). */
  constructor(call: string, errno: number, detail = "") {
    const code = errnoName(errno);
    const text = ERRNO_TEXT[errno] ?? "error";
    super(`${call}() failed: ${text} (${code}, errno ${errno})${detail ? `: ${detail}` : ""}`);
    this.name = "LibcError";
    this.errno = errno;
    this.code = code;
    this.call = call;
  }
}

type DenoErrorClass = new (message?: string, options?: ErrorOptions) => Error;

/** Which `Deno.errors` class stands for an errno (peer-gone ones first). */
function denoErrorClass(errno: number): DenoErrorClass | null {
  switch (errno) {
    case ERRNO.ECONNRESET:
      return Deno.errors.ConnectionReset;
    case ERRNO.EPIPE:
      return Deno.errors.BrokenPipe;
    case ERRNO.ENOTCONN:
      return Deno.errors.NotConnected;
    case ERRNO.ECONNABORTED:
      return Deno.errors.ConnectionAborted;
    case ERRNO.EBADF:
      return Deno.errors.BadResource;
    case ERRNO.EINTR:
      return Deno.errors.Interrupted;
    case ERRNO.EAGAIN:
      return Deno.errors.WouldBlock;
    case ERRNO.EADDRINUSE:
      return Deno.errors.AddrInUse;
    case ERRNO.EADDRNOTAVAIL:
      return Deno.errors.AddrNotAvailable;
    case ERRNO.EACCES:
    case ERRNO.EPERM:
      return Deno.errors.PermissionDenied;
    case ERRNO.ECONNREFUSED:
      return Deno.errors.ConnectionRefused;
    case ERRNO.ETIMEDOUT:
      return Deno.errors.TimedOut;
    case ERRNO.ENOENT:
      return Deno.errors.NotFound;
    case ERRNO.EINVAL:
      return Deno.errors.InvalidData;
    default:
      return null;
  }
}

/**
 * Maps a `LibcError` to the matching `Deno.errors` instance (the `LibcError` as its `cause`), so
 * code written for Deno sockets classifies it the same way; other values pass through.
 */
export function toIoError(err: unknown): unknown {
  if (!(err instanceof LibcError)) return err;
  const cls = denoErrorClass(err.errno);
  return cls === null ? err : new cls(err.message, { cause: err });
}

/** `struct mallinfo2`: ten `size_t` fields. */
const MALLINFO2 = [
  "usize",
  "usize",
  "usize",
  "usize",
  "usize",
  "usize",
  "usize",
  "usize",
  "usize",
  "usize",
] as const;
/** Index of `fordblks` (bytes free inside the allocator's arenas) among `struct mallinfo2`'s fields. */
export const MALLINFO2_FREE = 8;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  epoll_wait_nb: {
    name: "epoll_wait",
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  usleep_nb: { name: "usleep", parameters: ["u32"], result: "i32", nonblocking: true },
  sendfile: { parameters: ["i32", "i32", "buffer", "usize"], result: "i32", optional: true },
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32", optional: true },
  open: { parameters: ["buffer", "i32"], result: "i32", optional: true },
  mallinfo2: { parameters: [], result: { struct: MALLINFO2 }, optional: true },
  malloc_trim: { parameters: ["usize"], result: "i32", optional: true },
  signal: { parameters: ["i32", "usize"], result: "usize", optional: true },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

type Buf = Uint8Array;

/**
 * The C functions as called from TypeScript. `size_t` parameters (`usize`) take a `bigint`: Deno
 * also converts a number, but the optimised fast call expects a BigInt there and a number
 * deoptimises the calling function on every call, so V8 recompiles it again and again on its
 * worker thread (measured: a tenth of the server's core under keep-alive load, and the busy loop
 * preempted for it, which set the p99 latency). `BigInt(n)` of a small value is cheap.
 */
export interface LibcSymbols {
  /** `socket(domain, type, protocol)`. */
  socket(domain: number, type: number, protocol: number): number;
  /** `setsockopt(fd, level, name, value, len)`. */
  setsockopt(fd: number, level: number, name: number, value: Buf, len: number): number;
  /** `getsockopt(fd, level, name, value, lenPtr)`. */
  getsockopt(fd: number, level: number, name: number, value: Buf, len: Buf): number;
  /** `bind(fd, addr, len)`. */
  bind(fd: number, addr: Buf, len: number): number;
  /** `listen(fd, backlog)`. */
  listen(fd: number, backlog: number): number;
  /** `accept4(fd, addr, lenPtr, flags)`. */
  accept4(fd: number, addr: Buf, len: Buf, flags: number): number;
  /** `recv(fd, buf, len, flags)`. */
  recv(fd: number, buf: Buf, len: bigint, flags: number): number;
  /** `send(fd, buf, len, flags)`. */
  send(fd: number, buf: Buf, len: bigint, flags: number): number;
  /** `read(fd, buf, len)`. */
  read(fd: number, buf: Buf, len: bigint): number;
  /** `write(fd, buf, len)`. */
  write(fd: number, buf: Buf, len: bigint): number;
  /** `shutdown(fd, how)`. */
  shutdown(fd: number, how: number): number;
  /** `close(fd)`. */
  close(fd: number): number;
  /** `getsockname(fd, addr, lenPtr)`. */
  getsockname(fd: number, addr: Buf, len: Buf): number;
  /** `getpeername(fd, addr, lenPtr)`. */
  getpeername(fd: number, addr: Buf, len: Buf): number;
  /** `fcntl(fd, cmd, arg)`. */
  fcntl(fd: number, cmd: number, arg: number): number;
  /** `epoll_create1(flags)`. */
  epoll_create1(flags: number): number;
  /** `epoll_ctl(ep, op, fd, event)`. */
  epoll_ctl(ep: number, op: number, fd: number, event: Buf): number;
  /** `epoll_wait(ep, events, max, timeoutMs)`, synchronous. */
  epoll_wait(ep: number, events: Buf, max: number, timeoutMs: number): number;
  /** `epoll_wait` on a helper thread: `events` must not be touched until it settles. */
  epoll_wait_nb(ep: number, events: Buf, max: number, timeoutMs: number): Promise<number>;
  /** `eventfd(initval, flags)`. */
  eventfd(initval: number, flags: number): number;
  /** `usleep(us)` on a helper thread. */
  usleep_nb(us: number): Promise<number>;
  /** `sendfile(out, in, offsetPtr, count)` (offsetPtr: an 8-byte `off_t`); null if missing. */
  sendfile: ((out: number, inFd: number, offset: Buf, count: bigint) => number) | null;
  /** `statx(dirfd, path, flags, mask, buf)`; null if missing. */
  statx: ((dirfd: number, path: Buf, flags: number, mask: number, buf: Buf) => number) | null;
  /** `open(path, flags)` (no `O_CREAT`, so no mode); null if missing. */
  open: ((path: Buf, flags: number) => number) | null;
  /** glibc's `mallinfo2()`: `struct mallinfo2` (see `MALLINFO2_FREE`); null if missing. */
  mallinfo2: (() => Uint8Array) | null;
  /** glibc's `malloc_trim(pad)`; null if missing. */
  malloc_trim: ((pad: bigint) => number) | null;
  /** `signal(sig, handler)` (a handler value such as `SIG_IGN`); the previous one; null if missing. */
  signal: ((sig: number, handler: bigint) => number | bigint) | null;
}

/** The loaded bindings. */
export interface Libc {
  /** The C functions. */
  readonly sym: LibcSymbols;
  /** The calling thread's errno (only meaningful right after a synchronous call returned -1). */
  errno(): number;
}

/** What `loadLibc` found. */
export type LoadResult = { ok: true; libc: Libc } | { ok: false; reason: string };

/** The facts `loadLibc` decides on (injectable for tests). */
export interface LoadProbe {
  /** `Deno.build.os`. */
  readonly os: string;
  /** `Deno.build.arch`. */
  readonly arch: string;
  /** The FFI permission state. */
  ffiPermission(): Deno.PermissionState;
  /** Opens the library (throws when it or a symbol is missing). */
  open(): Libc;
}

function openLibc(): Libc {
  const lib = Deno.dlopen("libc.so.6", SYMBOLS);
  const ptr = lib.symbols.__errno_location();
  if (ptr === null) throw new Error("__errno_location() returned NULL");
  const view = new Deno.UnsafePointerView(ptr);
  return { sym: lib.symbols as unknown as LibcSymbols, errno: () => view.getInt32() };
}

const REAL_PROBE: LoadProbe = {
  os: Deno.build.os,
  arch: Deno.build.arch,
  ffiPermission: () => Deno.permissions.querySync({ name: "ffi" }).state,
  open: openLibc,
};

/**
 * `signal(sig, handler)` through a library handle of its own, with `signal` as a `nonblocking`
 * symbol (one call on a helper thread; no call trampoline is compiled for it), closed after the
 * call; resolves to the previous disposition. For a process that does not load the backend's
 * bindings (`server/process/inspector_signal.ts`).
 */
export async function signalOnce(sig: number, handler: bigint): Promise<bigint> {
  const lib = Deno.dlopen(
    "libc.so.6",
    {
      signal: { parameters: ["i32", "usize"], result: "usize", nonblocking: true },
    } as const,
  );
  try {
    return BigInt(await lib.symbols.signal(sig, handler));
  } finally {
    lib.close();
  }
}

let cached: LoadResult | null = null;

/**
 * Loads the C library bindings, or says why they are unavailable. The real probe's result is
 * cached for the process.
 */
export function loadLibc(probe: LoadProbe = REAL_PROBE): LoadResult {
  if (probe === REAL_PROBE && cached !== null) return cached;
  const result = tryLoad(probe);
  if (probe === REAL_PROBE) cached = result;
  return result;
}

function tryLoad(probe: LoadProbe): LoadResult {
  if (probe.os !== "linux") return { ok: false, reason: `not Linux (${probe.os})` };
  if (probe.arch !== "x86_64" && probe.arch !== "aarch64") {
    return { ok: false, reason: `unsupported architecture ${probe.arch}` };
  }
  let state: Deno.PermissionState;
  try {
    state = probe.ffiPermission();
  } catch (err) {
    return { ok: false, reason: `cannot query the FFI permission: ${String(err)}` };
  }
  if (state !== "granted") {
    return { ok: false, reason: "FFI not permitted (run with --allow-ffi or -A)" };
  }
  try {
    return { ok: true, libc: probe.open() };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    return { ok: false, reason: `cannot load libc.so.6: ${msg}` };
  }
}
